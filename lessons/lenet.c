/* lenet: LeNet-5 in its modern form on Fashion-MNIST [lectures 001, 004]:
 * conv 6@5×5 pad 2, ReLU, max-pool 2, conv 16@5×5, ReLU, max-pool 2,
 * FC 120, ReLU, FC 84, ReLU, FC 10, softmax cross-entropy; Adam; float32.
 * Prints the per-epoch train loss and test accuracy; writes the curve as
 * CSV and SVG, and the six learned conv1 filters as SVG (as lecture 002
 * shows AlexNet's). Every run with the same --seed and --threads is the
 * same, bit for bit.
 *
 * --device cuda follows the lecture's three steps: the parameters are made
 * on the host and sent once (ad_leaf_to_device); each minibatch is gathered
 * on the host and sent (ad_to_device); the network, the loss, backward and
 * the optimizer step run on the GPU; the loss (one number per step) and the
 * test logits are received (ad_to_host). */
#include <errno.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "lenet_model.h"
#include "lesson.h"

typedef struct options {
    int epochs, batch, threads, json;
    long limit;
    double lr, weight_decay;
    unsigned long seed;
    const char *data, *out, *device, *optimizer;
} options;

static const char *usage_text =
    "usage: lenet [--epochs N] [--batch N] [--lr X] [--weight-decay X] [--seed N] [--threads N] [--limit N]\n"
    "             [--optimizer adam|adamw|sgd] [--data DIR] [--out DIR] [--device cpu|cuda] [--json]\n"
    "\n"
    "  --epochs N     passes over the training set (default 10)\n"
    "  --batch N      minibatch size (default 64)\n"
    "  --lr X         learning rate (default 1e-3 for Adam and AdamW, 0.05 for SGD with momentum 0.9)\n"
    "  --weight-decay X  λ >= 0: L2 (λ·w added to the gradient) for adam and sgd, decoupled for adamw\n"
    "                 (default 0; 0.01 for adamw)\n"
    "  --seed N       seed of the initial weights and the shuffles (default 1)\n"
    "  --threads N    CPU threads for the kernels (default: the cores online)\n"
    "  --limit N      train on the first N examples only (a quick look)\n"
    "  --data DIR     Fashion-MNIST's IDX files (default " AD_FASHION_MNIST_DIR ")\n"
    "  --out DIR      where lenet_curve.csv, lenet_loss.svg, lenet_filters.svg go (default .)\n"
    "  --device D     cpu, or cuda (needs a build with the CUDA backend and a GPU)\n"
    "  --json         print the results as JSON\n";

static _Noreturn void usage_error(const char *fmt, const char *arg) { lesson_usage_error("lenet", fmt, arg); }

static long parse_long(const char *opt, const char *v, long lo, long hi)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi) usage_error("%s needs a whole number in range", opt);
    return x;
}

static void parse(options *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (i + 1 >= argc) usage_error("unknown option or missing value: '%s'", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--epochs")) o->epochs = (int)parse_long(a, v, 1, 1000);
        else if (!strcmp(a, "--batch")) o->batch = (int)parse_long(a, v, 1, 60000);
        else if (!strcmp(a, "--threads")) o->threads = (int)parse_long(a, v, 1, 256);
        else if (!strcmp(a, "--limit")) o->limit = parse_long(a, v, 1, 60000);
        else if (!strcmp(a, "--seed")) o->seed = (unsigned long)parse_long(a, v, 0, 2147483647L);
        else if (!strcmp(a, "--lr")) {
            char *end;
            o->lr = strtod(v, &end);
            if (*end || !(o->lr > 0) || !isfinite(o->lr)) usage_error("--lr needs a positive number, not '%s'", v);
        } else if (!strcmp(a, "--weight-decay")) {
            char *end;
            o->weight_decay = strtod(v, &end);
            if (end == v || *end || !(o->weight_decay >= 0) || !isfinite(o->weight_decay))
                usage_error("--weight-decay needs a number >= 0, not '%s'", v);
        } else if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--device")) o->device = v;
        else if (!strcmp(a, "--optimizer")) o->optimizer = v;
        else usage_error("unknown option '%s'", a);
    }
    if (strcmp(o->device, "cpu") && strcmp(o->device, "cuda")) usage_error("--device takes cpu or cuda, not '%s'", o->device);
    if (strcmp(o->optimizer, "adam") && strcmp(o->optimizer, "adamw") && strcmp(o->optimizer, "sgd"))
        usage_error("--optimizer takes adam, adamw or sgd, not '%s'", o->optimizer);
}

/* n's value on the host: n itself, or a copy received from the GPU. */
static ad_node *on_host(ad_context *ctx, ad_node *n)
{
    return n && n->value.device == AD_CUDA ? ad_to_host(ctx, n) : n;
}

/* Test accuracy, in batches of 1000 with grad mode off. */
static double evaluate(const lenet *m, ad_context *ctx, const ad_tensor *images, const ad_tensor *labels, bool gpu)
{
    bool was = ad_set_grad_enabled(ctx, false);
    ad_mark mk = ad_context_mark(ctx);
    int64_t N = images->shape[0], correct = 0, B = 1000;
    int64_t *idx = malloc((size_t)B * sizeof *idx);
    if (!idx) {
        fprintf(stderr, "lenet: evaluating: out of memory\n");
        exit(1);
    }
    for (int64_t start = 0; start < N; start += B) {
        int64_t n = N - start < B ? N - start : B;
        for (int64_t i = 0; i < n; i++) idx[i] = start + i;
        int64_t sx[] = {n, 1, 28, 28};
        ad_node *x = ad_variable(ctx, AD_FLOAT32, 4, sx, NULL);
        ad_set_requires_grad(x, false);
        ad_tensor xv = ad_value(x);
        ad_node *logits = ad_gather_rows(images, idx, n, &xv) == AD_OK
                              ? on_host(ctx, lenet_forward(m, ctx, gpu ? ad_to_device(ctx, x) : x))
                              : NULL;
        if (!logits) {
            fprintf(stderr, "lenet: evaluating: %s\n", ad_last_error());
            exit(1);
        }
        for (int64_t i = 0; i < n; i++) {
            int best = 0;
            for (int k = 0; k < 10; k++)
                if (!isfinite(ad_value_at(logits, i * 10 + k))) {   /* NaN weights: no accuracy to report */
                    fprintf(stderr, "lenet: evaluating: the model's output for test image %lld is %g: training "
                                    "diverged (try a smaller --lr)\n", (long long)(start + i), ad_value_at(logits, i * 10 + k));
                    exit(1);
                }
            for (int k = 1; k < 10; k++)
                if (ad_value_at(logits, i * 10 + k) > ad_value_at(logits, i * 10 + best)) best = k;
            correct += best == (int)ad_tensor_get(labels, start + i);
        }
        ad_context_rewind(ctx, mk);
    }
    free(idx);
    ad_set_grad_enabled(ctx, was);
    return (double)correct / (double)N;
}

/* ---- pictures ---- */
static void write_loss_svg(const char *path, const double *loss, const double *acc, int epochs)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    double W = 640, H = 360, L = 60, R = 60, T = 30, Bm = 50, maxl = 0;
    for (int e = 0; e < epochs; e++) maxl = fmax(maxl, loss[e]);
    maxl = maxl > 0 ? maxl * 1.1 : 1;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%g\" y=\"18\" text-anchor=\"middle\">LeNet-5 on Fashion-MNIST: train loss (blue, left) and test accuracy (red, right)</text>\n", W / 2);
    fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n", L, H - Bm, W - R, H - Bm);
    fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n", L, T, L, H - Bm);
    fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n", W - R, T, W - R, H - Bm);
    for (int k = 0; k <= 4; k++) {
        double y = H - Bm - k * (H - Bm - T) / 4;
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\" fill=\"#1f5fbf\">%.2f</text>\n", L - 5, y + 4, maxl * k / 4);
        fprintf(f, "<text x=\"%g\" y=\"%g\" fill=\"#bf1f1f\">%.0f%%</text>\n", W - R + 5, y + 4, 80 + 20.0 * k / 4);
    }
    double dx = epochs > 1 ? (W - L - R) / (epochs - 1) : 0;
    fprintf(f, "<polyline fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"2\" points=\"");
    for (int e = 0; e < epochs; e++) fprintf(f, "%g,%g ", L + e * dx, H - Bm - loss[e] / maxl * (H - Bm - T));
    fprintf(f, "\"/>\n<polyline fill=\"none\" stroke=\"#bf1f1f\" stroke-width=\"2\" points=\"");
    for (int e = 0; e < epochs; e++) {
        double a = fmin(fmax((acc[e] * 100 - 80) / 20, 0), 1);
        fprintf(f, "%g,%g ", L + e * dx, H - Bm - a * (H - Bm - T));
    }
    fprintf(f, "\"/>\n");
    for (int e = 0; e < epochs; e++)
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%d</text>\n", L + e * dx, H - Bm + 16, e + 1);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">epoch</text>\n</svg>\n", W / 2, H - 12);
    fclose(f);
}

static void write_filters_svg(const char *path, const ad_node *w)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    int cell = 12, gap = 16, K = 6;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">\n",
            K * (5 * cell + gap) + gap, 5 * cell + 2 * gap + 14);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    for (int k = 0; k < K; k++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < 25; i++) {
            lo = fmin(lo, ad_value_at(w, k * 25 + i));
            hi = fmax(hi, ad_value_at(w, k * 25 + i));
        }
        int x0 = gap + k * (5 * cell + gap);
        for (int i = 0; i < 25; i++) {
            int g = (int)(255 * (ad_value_at(w, k * 25 + i) - lo) / (hi > lo ? hi - lo : 1));
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,%d)\"/>\n", x0 + (i % 5) * cell,
                    gap + (i / 5) * cell, cell, cell, g, g, g);
        }
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">filter %d</text>\n", x0 + 5 * cell / 2,
                gap + 5 * cell + 14, k + 1);
    }
    fprintf(f, "</svg>\n");
    fclose(f);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress(int epoch, int epochs, int64_t done, int64_t total, double loss, double t0)
{
    double el = now() - t0, rate = done / (el > 0 ? el : 1e-9), eta = (double)(total - done) / (rate > 0 ? rate : 1);
    int width = 30, fill = (int)(width * done / (total ? total : 1));
    fprintf(stderr, "\repoch %d/%d [", epoch, epochs);
    for (int i = 0; i < width; i++) fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %3d%%  loss %.4f  %6.0f img/s  ETA %4.0fs ", (int)(100 * done / (total ? total : 1)), loss, rate, eta);
    fflush(stderr);
}

int main(int argc, char **argv)
{
    options o = {10, 64, 0, 0, 0, 0, -1, 1, NULL, ".", "cpu", "adam"};
    parse(&o, argc, argv);
    bool gpu = !strcmp(o.device, "cuda");
    char device_name[256] = "CPU";
    if (gpu) {
        if (!ad_gpu_available()) {
            fprintf(stderr, "lenet: --device cuda: %s\n", ad_last_error());
            return 2;
        }
        ad_gpu_describe(device_name, sizeof device_name);
    }
    bool adam = !strcmp(o.optimizer, "adam"), adamw = !strcmp(o.optimizer, "adamw");
    if (o.lr == 0) o.lr = adam || adamw ? 1e-3 : 0.05;
    if (o.weight_decay < 0) o.weight_decay = adamw ? 0.01 : 0;   /* PyTorch's defaults */
    if (o.threads && ad_set_threads(o.threads) != AD_OK) usage_error("%s", ad_last_error());
    o.threads = ad_threads();
    ad_tensor *train_x, *train_y, *test_x, *test_y;
    if (ad_fashion_mnist_load(o.data, true, AD_FLOAT32, &train_x, &train_y) != AD_OK) {
        fprintf(stderr, "lenet: %s\n", ad_last_error());
        return 1;
    }
    if (ad_fashion_mnist_load(o.data, false, AD_FLOAT32, &test_x, &test_y) != AD_OK) {
        fprintf(stderr, "lenet: %s\n", ad_last_error());
        ad_tensor_free(train_x);
        ad_tensor_free(train_y);
        return 1;
    }
    if (o.limit > train_x->shape[0]) {
        fprintf(stderr, "lenet: --limit %ld is more than the %lld training images in %s\n", o.limit,
                (long long)train_x->shape[0], o.data ? o.data : AD_FASHION_MNIST_DIR);
        ad_tensor_free(train_x), ad_tensor_free(train_y), ad_tensor_free(test_x), ad_tensor_free(test_y);
        return 2;
    }
    mkdir(o.out, 0755);
    int64_t N = o.limit ? o.limit : train_x->shape[0], B = o.batch, steps = (N + B - 1) / B;
    /* every exit from here on goes through `out`, which frees what was made (a leak-checked build fails otherwise) */
    int status = 1;
    ad_optimizer *opt = NULL;
    int64_t *order = NULL;
    double *loss_curve = NULL, *acc_curve = NULL;
    FILE *csv = NULL;
    ad_context *ctx = ad_context_new();
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!ctx || !rng) {
        fprintf(stderr, "lenet: out of memory\n");
        goto out;
    }
    gsl_rng_set(rng, o.seed);
    lenet m;
    if (!lenet_init(&m, ctx, rng)) {
        fprintf(stderr, "lenet: %s\n", ad_last_error());
        goto out;
    }
    /* send: the same initial weights, now resident on the GPU */
    for (int i = 0; gpu && i < N_PARAMS; i++)
        if (!(m.p[i] = ad_leaf_to_device(ctx, m.p[i]))) {
            fprintf(stderr, "lenet: sending the parameters to the GPU: %s\n", ad_last_error());
            goto out;
        }
    opt = adam    ? ad_adam_new(m.p, N_PARAMS, o.lr, 0.9, 0.999, 1e-8)
                        : adamw ? ad_adamw_new(m.p, N_PARAMS, o.lr, 0.9, 0.999, 1e-8, o.weight_decay)
                                : ad_sgd_new(m.p, N_PARAMS, o.lr, 0.9);
    if (!opt || ad_optimizer_set_weight_decay(opt, o.weight_decay) != AD_OK) {
        fprintf(stderr, "lenet: %s\n", ad_last_error());
        goto out;
    }
    ad_mark mark = ad_context_mark(ctx);
    order = malloc((size_t)N * sizeof *order);
    loss_curve = calloc((size_t)o.epochs, sizeof(double)), acc_curve = calloc((size_t)o.epochs, sizeof(double));
    if (!order || !loss_curve || !acc_curve) {
        fprintf(stderr, "lenet: out of memory\n");
        goto out;
    }
    bool tty = isatty(2) && !o.json;
    char path[2048];
    snprintf(path, sizeof path, "%s/lenet_curve.csv", o.out);
    csv = fopen(path, "w");
    if (csv) fprintf(csv, "epoch,train_loss,test_accuracy,seconds\n");
    if (!o.json) {
        char where[320];
        if (gpu) snprintf(where, sizeof where, "on the GPU: %s", device_name);
        else snprintf(where, sizeof where, "%d thread%s", o.threads, o.threads > 1 ? "s" : "");
        printf("LeNet-5 on Fashion-MNIST: %lld training images, batch %lld, %s lr %g weight decay %g, seed %lu, %s\n",
               (long long)N, (long long)B, o.optimizer, o.lr, o.weight_decay, o.seed, where);
    }
    double total_time = 0;
    for (int e = 0; e < o.epochs; e++) {
        double t0 = now(), sum_loss = 0;
        ad_shuffle(order, N, rng);
        for (int64_t s = 0; s < steps; s++) {
            int64_t n = N - s * B < B ? N - s * B : B;
            int64_t sx[] = {n, 1, 28, 28}, sy[] = {n};
            ad_node *x = ad_constant(ctx, AD_FLOAT32, 4, sx, NULL), *y = ad_constant(ctx, AD_FLOAT32, 1, sy, NULL);
            ad_tensor xv = ad_value(x), yv = ad_value(y);
            if (ad_gather_rows(train_x, order + s * B, n, &xv) != AD_OK ||
                ad_gather_rows(train_y, order + s * B, n, &yv) != AD_OK) {
                fprintf(stderr, "\nlenet: %s\n", ad_last_error());
                goto out;
            }
            if (gpu) {
                x = ad_to_device(ctx, x);
                y = ad_to_device(ctx, y);
            }
            ad_node *loss = ad_cross_entropy(ctx, lenet_forward(&m, ctx, x), y, NULL, AD_REDUCE_MEAN, -1);
            ad_node *loss_host = NULL;
            if (!loss || ad_backward(ctx, loss) != AD_OK || ad_optimizer_step(opt) != AD_OK ||
                !(loss_host = on_host(ctx, loss))) {
                fprintf(stderr, "\nlenet: %s\n", ad_last_error());
                goto out;
            }
            double step_loss = ad_value_scalar(loss_host);
            if (!isfinite(step_loss)) {   /* diverged (a learning rate far too large): say so, not NaN with exit 0 */
                fprintf(stderr, "\nlenet: the training loss is %g at epoch %d, step %lld: training diverged (learning "
                                "rate %g; try a smaller --lr)\n", step_loss, e + 1, (long long)s + 1, o.lr);
                goto out;
            }
            sum_loss += step_loss * (double)n;
            ad_optimizer_zero_grad(opt);
            ad_context_rewind(ctx, mark);
            if (tty && (s % 20 == 0 || s == steps - 1)) progress(e + 1, o.epochs, (s + 1) * B < N ? (s + 1) * B : N, N, sum_loss / (double)((s + 1) * B < N ? (s + 1) * B : N), t0);
        }
        double secs = now() - t0;
        total_time += secs;
        loss_curve[e] = sum_loss / (double)N;
        acc_curve[e] = evaluate(&m, ctx, test_x, test_y, gpu);
        if (tty) fputc('\n', stderr);
        if (!o.json)
            printf("epoch %2d  train loss %.4f  test accuracy %.2f%%  (%.1f s, %.0f images/s)\n", e + 1, loss_curve[e],
                   100 * acc_curve[e], secs, (double)N / secs);
        fflush(stdout);
        if (csv) fprintf(csv, "%d,%.6f,%.6f,%.3f\n", e + 1, loss_curve[e], acc_curve[e], secs);
    }
    if (csv) fclose(csv);
    csv = NULL;
    snprintf(path, sizeof path, "%s/lenet_loss.svg", o.out);
    write_loss_svg(path, loss_curve, acc_curve, o.epochs);
    snprintf(path, sizeof path, "%s/lenet_filters.svg", o.out);
    ad_set_grad_enabled(ctx, false);
    write_filters_svg(path, on_host(ctx, m.p[0]));
    if (o.json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "lesson", "lenet");
        cJSON_AddStringToObject(doc, "device", device_name);
        cJSON_AddNumberToObject(doc, "batch", (double)B);
        cJSON_AddNumberToObject(doc, "threads", o.threads);
        cJSON_AddNumberToObject(doc, "weight_decay", o.weight_decay);
        cJSON_AddNumberToObject(doc, "epochs", o.epochs);
        cJSON_AddNumberToObject(doc, "train_examples", (double)N);
        cJSON_AddNumberToObject(doc, "final_train_loss", loss_curve[o.epochs - 1]);
        cJSON_AddNumberToObject(doc, "final_test_accuracy", acc_curve[o.epochs - 1]);
        cJSON_AddNumberToObject(doc, "seconds_per_epoch", total_time / o.epochs);
        cJSON *l = cJSON_AddArrayToObject(doc, "train_loss"), *a = cJSON_AddArrayToObject(doc, "test_accuracy");
        for (int e = 0; e < o.epochs; e++) {
            cJSON_AddItemToArray(l, cJSON_CreateNumber(loss_curve[e]));
            cJSON_AddItemToArray(a, cJSON_CreateNumber(acc_curve[e]));
        }
        lesson_print_json(doc);
    } else {
        printf("Wrote %s/lenet_curve.csv, %s/lenet_loss.svg and %s/lenet_filters.svg\n", o.out, o.out, o.out);
    }
    status = 0;
out:
    if (csv) fclose(csv);
    free(order);
    free(loss_curve);
    free(acc_curve);
    ad_optimizer_free(opt);
    if (rng) gsl_rng_free(rng);
    ad_context_free(ctx);
    ad_tensor_free(train_x), ad_tensor_free(train_y), ad_tensor_free(test_x), ad_tensor_free(test_y);
    return status;
}
