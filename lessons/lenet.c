/* lenet: LeNet-5 in its modern form on Fashion-MNIST [lectures 001, 004]:
 * conv 6@5×5 pad 2, ReLU, max-pool 2, conv 16@5×5, ReLU, max-pool 2,
 * FC 120, ReLU, FC 84, ReLU, FC 10, softmax cross-entropy; Adam; float32.
 * Prints the per-epoch train loss and test accuracy; writes the curve as
 * CSV and SVG, and the six learned conv1 filters as SVG (as lecture 002
 * shows AlexNet's). Every run with the same --seed is the same, bit for bit,
 * whatever --threads says: the kernels split their work by shape, never by
 * thread count (engine/ad_parallel.h).
 *
 * --device cuda follows the lecture's three steps: the parameters are made
 * on the host and sent once (ad_leaf_to_device); each minibatch is gathered
 * on the host and sent (ad_to_device); the network, the loss, backward and
 * the optimizer step run on the GPU; the test logits are received
 * (ad_to_host). The loss, one number per step, is added into a log on the
 * device and the log received once an epoch (on a terminal, also for the
 * progress line every 20 steps): a receive waits for the device to finish
 * all it was given, and one every step would keep the host from queueing
 * the next step while the GPU works on this one. */
#include <errno.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ad_cli.h"
#include "lenet_model.h"
#include "lesson.h"

typedef struct options_t {
    int epochs, batch, threads, json;
    long limit;
    double lr, weight_decay;
    unsigned long seed;
    const char *data, *out, *device, *optimizer;
} options_t;

static const double SGD_MOMENTUM = 0.9;

enum {
    O_EPOCHS, O_BATCH, O_LR, O_WEIGHT_DECAY, O_SEED, O_THREADS, O_LIMIT, O_OPTIMIZER, O_DATA, O_OUT, O_DEVICE, O_JSON,
    N_OPTIONS
};
static const ad_cli_option options[N_OPTIONS] = {
    [O_EPOCHS] = {"epochs", "N", "passes over the training set (default 10)"},
    [O_BATCH] = {"batch", "N", "minibatch size (default 64)"},
    [O_LR] = {"lr", "X", "learning rate (default 1e-3 for Adam and AdamW, 0.05 for SGD with momentum 0.9)"},
    [O_WEIGHT_DECAY] = {"weight-decay", "X", "λ >= 0: L2 (λ·w added to the gradient) for adam and sgd, decoupled for\n"
                                             "adamw (default 0; 0.01 for adamw)"},
    [O_SEED] = {"seed", "N", "seed of the initial weights and the shuffles (default 1)"},
    [O_THREADS] = {"threads", "N", "CPU threads for the kernels (default: OMP_NUM_THREADS, else the cores online)"},
    [O_LIMIT] = {"limit", "N", "train on the first N examples only (a quick look)"},
    [O_OPTIMIZER] = {"optimizer", "adam|adamw|sgd", "the optimizer (default adam)"},
    [O_DATA] = {"data", "DIR", "Fashion-MNIST's IDX files (default " AD_FASHION_MNIST_DIR ")"},
    [O_OUT] = {"out", "DIR", "where lenet_curve.csv, lenet_loss.svg, lenet_filters.svg go (default .);\n"
                             "made if missing, and checked before training starts"},
    [O_DEVICE] = {"device", "cpu|cuda", "cpu, or cuda (needs a build with the CUDA backend and a GPU)"},
    [O_JSON] = {"json", NULL, "print the results as JSON"},
};

static ad_cli cli = {
    .program = "lenet",
    .summary = "LeNet-5 trained on Fashion-MNIST, with its loss curve and learned filters",
    .description = "Prints the per-epoch train loss and test accuracy; writes the curve as CSV and SVG (the\n"
                   "loss of every step, the per-epoch test accuracy) and conv1's six filters as SVG. The\n"
                   "same --seed and --threads give the same run, bit for bit. Backward is the library's\n"
                   "default, Version B (each node pushes its increments into its inputs).",
    .options = options,
    .n_options = N_OPTIONS,
};

static void parse(options_t *o, int argc, char **argv)
{
    static const char *const optimizers[] = {"adam", "adamw", "sgd", NULL}, *const devices[] = {"cpu", "cuda", NULL};
    ad_cli_start(&cli, argc, argv);
    const char *v;
    for (int k; (k = ad_cli_next(&cli, &v)) != AD_CLI_END;) {
        switch (k) {
        case AD_CLI_ARG: ad_cli_usage_error(&cli, "unexpected argument '%s'", v);
        case O_EPOCHS: o->epochs = (int)ad_cli_long(&cli, v, 1, 1000); break;
        case O_BATCH: o->batch = (int)ad_cli_long(&cli, v, 1, 60000); break;
        case O_THREADS: o->threads = (int)ad_cli_long(&cli, v, 1, 256); break;
        case O_LIMIT: o->limit = ad_cli_long(&cli, v, 1, 60000); break;
        case O_SEED: o->seed = (unsigned long)ad_cli_long(&cli, v, 0, 2147483647L); break;
        case O_LR:
            o->lr = ad_cli_double(&cli, v, 0, INFINITY);
            if (!(o->lr > 0)) ad_cli_usage_error(&cli, "--lr needs a positive number, not '%s'", v);
            break;
        case O_WEIGHT_DECAY: o->weight_decay = ad_cli_double(&cli, v, 0, INFINITY); break;
        case O_DATA: o->data = v; break;
        case O_OUT: o->out = v; break;
        case O_DEVICE: o->device = devices[ad_cli_choice(&cli, v, devices)]; break;
        case O_OPTIMIZER: o->optimizer = optimizers[ad_cli_choice(&cli, v, optimizers)]; break;
        case O_JSON: o->json = 1; break;
        }
    }
}

/* n's value on the host: n itself, or a copy received from the GPU. */
static ad_node *on_host(ad_context *ctx, ad_node *n)
{
    return n && ad_value(n).device == AD_CUDA ? ad_to_host(ctx, n) : n;
}

/* Test accuracy, in batches of 1000 with grad mode off. */
static double evaluate(const lenet *m, ad_context *ctx, const ad_tensor *images, const ad_tensor *labels, bool gpu,
                       const char *why)
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
                                    "diverged (%s)\n", (long long)(start + i), ad_value_at(logits, i * 10 + k), why);
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

/* A step of 1, 2 or 5 times a power of ten giving about `target` ticks over range. */
static double nice_step(double range, int target)
{
    double raw = range > 0 ? range / target : 1, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

/* An axis over [lo, hi] widened to whole ticks. */
typedef struct axis {
    double lo, hi, step;
} axis;

static axis make_axis(double lo, double hi, int target)
{
    axis a;
    a.step = nice_step(hi - lo, target);
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    if (!(a.hi > a.lo)) a.hi = a.lo + a.step;
    return a;
}

/* Decimals needed to print the ticks of a step: 0.25 needs 2, 20 needs 0. */
static int decimals(double step) { return step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9); }

/* The training curve: the loss of every step (averaged over `per` steps
 * where there are more steps than pixels, so the line stays readable) and
 * each epoch's mean loss against the left axis, the test accuracy after
 * each epoch against the right; both axes scaled to the data, the x axis in
 * epochs from 0. Right for any run length: a one-epoch run has its ~1000
 * per-step points, one mean-loss and one accuracy marker. Returns false with
 * a message on a write error. */
static bool write_loss_svg(const char *path, const double *step_loss, int64_t steps, const double *loss,
                           const double *acc, int epochs)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "lenet: %s: %s\n", path, strerror(errno));
        return false;
    }
    const double W = 760, H = 430, L = 70, R = 80, T = 62, Bm = 56, PW = W - L - R, PH = H - T - Bm;
    int64_t total = steps * epochs, per = total > (int64_t)PW ? (total + (int64_t)PW - 1) / (int64_t)PW : 1;
    double maxl = 0, mina = 1, maxa = 0;
    for (int64_t i = 0; i < total; i++) maxl = fmax(maxl, step_loss[i]);
    for (int e = 0; e < epochs; e++) mina = fmin(mina, acc[e]), maxa = fmax(maxa, acc[e]);
    /* x: quarter epochs for one epoch, whole epochs up to ten, nice steps beyond */
    axis ax = epochs == 1 ? make_axis(0, 1, 4) : epochs <= 10 ? (axis){0, epochs, 1} : make_axis(0, epochs, 10);
    axis ay = make_axis(0, maxl > 0 ? maxl : 1, 5);
    /* accuracy: the data's range with a margin, at least 4 points wide, inside [0, 1] */
    double alo = mina - 0.02, ahi = maxa + 0.02;
    if (ahi - alo < 0.04) alo = (mina + maxa) / 2 - 0.02, ahi = (mina + maxa) / 2 + 0.02;
    axis aa = make_axis(fmax(alo, 0), fmin(ahi, 1), 5);
#define X(v) (L + ((v) - ax.lo) / (ax.hi - ax.lo) * PW)
#define YL(v) (T + PH - ((v) - ay.lo) / (ay.hi - ay.lo) * PH)
#define YA(v) (T + PH - ((v) - aa.lo) / (aa.hi - aa.lo) * PH)
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%g\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">LeNet-5 on Fashion-MNIST: %d epoch%s of "
               "%lld steps</text>\n", W / 2, epochs, epochs > 1 ? "s" : "", (long long)steps);
    /* grid and ticks */
    for (double v = ay.lo; v <= ay.hi + ay.step / 2; v += ay.step) {
        fprintf(f, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", L, YL(v), L + PW, YL(v));
        fprintf(f, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\" fill=\"#1f5fbf\">%.*f</text>\n", L - 6, YL(v) + 4,
                decimals(ay.step), v);
    }
    for (double v = aa.lo; v <= aa.hi + aa.step / 2; v += aa.step)
        fprintf(f, "<text x=\"%g\" y=\"%.1f\" fill=\"#bf1f1f\">%.*f%%</text>\n", L + PW + 6, YA(v) + 4,
                decimals(100 * aa.step), 100 * v);
    for (double v = ax.lo; v <= ax.hi + ax.step / 2; v += ax.step) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"black\"/>\n", X(v), T + PH, X(v), T + PH + 5);
        fprintf(f, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%.*f</text>\n", X(v), T + PH + 18, decimals(ax.step), v);
    }
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"black\"/>\n", L, T, PW, PH);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">epoch</text>\n", L + PW / 2, H - 12);
    fprintf(f, "<text transform=\"translate(18 %g) rotate(-90)\" text-anchor=\"middle\" fill=\"#1f5fbf\">train loss "
               "(cross-entropy)</text>\n", T + PH / 2);
    fprintf(f, "<text transform=\"translate(%g %g) rotate(90)\" text-anchor=\"middle\" fill=\"#bf1f1f\">test "
               "accuracy</text>\n", W - 16, T + PH / 2);
    /* the loss of every step (or of each `per` steps), at the step's end */
    fprintf(f, "<polyline fill=\"none\" stroke=\"#8fb3e8\" stroke-width=\"1\" points=\"");
    for (int64_t i = 0; i < total; i += per) {
        int64_t n = total - i < per ? total - i : per;
        double sum = 0;
        for (int64_t j = 0; j < n; j++) sum += step_loss[i + j];
        fprintf(f, "%.1f,%.1f ", X((double)(i + n) / (double)steps), YL(sum / (double)n));
    }
    fprintf(f, "\"/>\n");
    /* each epoch's mean loss and the test accuracy, at the epoch's end */
    if (epochs > 1) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"2\" points=\"");
        for (int e = 0; e < epochs; e++) fprintf(f, "%.1f,%.1f ", X(e + 1), YL(loss[e]));
        fprintf(f, "\"/>\n<polyline fill=\"none\" stroke=\"#bf1f1f\" stroke-width=\"2\" points=\"");
        for (int e = 0; e < epochs; e++) fprintf(f, "%.1f,%.1f ", X(e + 1), YA(acc[e]));
        fprintf(f, "\"/>\n");
    }
    for (int e = 0; e < epochs; e++) {
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\" fill=\"#1f5fbf\"/>\n", X(e + 1) - 3.5, YL(loss[e]) - 3.5);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#bf1f1f\"/>\n", X(e + 1), YA(acc[e]));
    }
    /* the last values, written out */
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#bf1f1f\">%.2f%%</text>\n", X(epochs) - 8,
            YA(acc[epochs - 1]) + (acc[epochs - 1] > (aa.lo + aa.hi) / 2 ? 16 : -8), 100 * acc[epochs - 1]);
    /* legend: one row between the title and the plot, never over the data */
    double ly = T - 12;
    char what[64] = "loss per step";
    if (per > 1) snprintf(what, sizeof what, "loss per step (means of %lld)", (long long)per);
    fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#8fb3e8\"/><text x=\"%g\" y=\"%g\">%s</text>\n",
            L, ly, L + 20, ly, L + 25, ly + 4, what);
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"7\" height=\"7\" fill=\"#1f5fbf\"/><text x=\"%g\" y=\"%g\">epoch's mean "
               "loss</text>\n", L + 236.5, ly - 3.5, L + 250, ly + 4);
    fprintf(f, "<circle cx=\"%g\" cy=\"%g\" r=\"4\" fill=\"#bf1f1f\"/><text x=\"%g\" y=\"%g\">test accuracy after the "
               "epoch (right axis)</text>\n", L + 380, ly, L + 390, ly + 4);
    fprintf(f, "</svg>\n");
#undef X
#undef YL
#undef YA
    return ad_cli_close_file("lenet", f, path);
}

static bool write_filters_svg(const char *path, const ad_node *w)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "lenet: %s: %s\n", path, strerror(errno));
        return false;
    }
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
    return ad_cli_close_file("lenet", f, path);
}

/* Why a run diverges, for the messages that say it did. Weight decay λ
 * scales the weights by 1 - lr·λ each step (AdamW's decoupled decay; SGD's
 * L2 term too, through its momentum μ): past lr·λ = 2 (2(1 + μ) with
 * momentum) that factor grows the weights whatever the gradients do, so a
 * smaller learning rate is not the first remedy a huge λ calls for. Adam's
 * L2 term goes through its normalised step: there the learning rate it is. */
static void divergence_cause(char *buf, size_t len, const char *optimizer, double lr, double weight_decay)
{
    double limit = !strcmp(optimizer, "adamw") ? 2 : !strcmp(optimizer, "sgd") ? 2 * (1 + SGD_MOMENTUM) : INFINITY;
    if (lr * weight_decay > limit)
        snprintf(buf, len,
                 "weight decay %g: with learning rate %g, lr·λ = %g is past %g, where the decay grows the weights "
                 "instead of shrinking them; use --weight-decay below %g",
                 weight_decay, lr, lr * weight_decay, limit, limit / lr);
    else snprintf(buf, len, "learning rate %g; try a smaller --lr", lr);
}

/* Steps [from, to) of epoch e (0-based): true if every loss is finite, else
 * false, saying where training diverged and why: not NaN with exit 0. */
static bool losses_finite(const double *step_loss, int64_t steps, int e, int64_t from, int64_t to, const char *why)
{
    for (int64_t s = from; s < to; s++)
        if (!isfinite(step_loss[e * steps + s])) {
            fprintf(stderr, "\nlenet: the training loss is %g at epoch %d, step %lld: training diverged (%s)\n",
                    step_loss[e * steps + s], e + 1, (long long)s + 1, why);
            return false;
        }
    return true;
}

/* Step s's minibatch size: B, or what is left of the N images at the last step. */
static int64_t batch_of(int64_t s, int64_t N, int64_t B) { return N - s * B < B ? N - s * B : B; }

/* Σ loss·(batch size) over the first `count` steps of an epoch: the loss summed over their images. */
static double image_loss_sum(const double *epoch_loss, int64_t count, int64_t N, int64_t B)
{
    double sum = 0;
    for (int64_t s = 0; s < count; s++) sum += epoch_loss[s] * (double)batch_of(s, N, B);
    return sum;
}

/* The first `count` losses of the GPU's log (float32, on the device) into
 * step_loss: one receive. */
static bool receive_losses(ad_tensor *host, const ad_tensor *log, double *step_loss, int64_t count)
{
    if (ad_gpu_tensor_copy(host, log) != AD_OK) return false;
    for (int64_t s = 0; s < count; s++) step_loss[s] = ad_tensor_get(host, s);
    return true;
}

static void progress(int epoch, int epochs, int64_t done, int64_t total, double loss, double t0)
{
    double el = lesson_now() - t0, rate = done / (el > 0 ? el : 1e-9);
    double eta = (double)(total - done) / (rate > 0 ? rate : 1);
    int width = 30, fill = (int)(width * done / (total ? total : 1));
    fprintf(stderr, "\repoch %d/%d [", epoch, epochs);
    for (int i = 0; i < width; i++) fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %3d%%  loss %.4f  %6.0f img/s  ETA %4.0fs ", (int)(100 * done / (total ? total : 1)), loss, rate, eta);
    fflush(stderr);
}

int main(int argc, char **argv)
{
    options_t o = {10, 64, 0, 0, 0, 0, -1, 1, NULL, ".", "cpu", "adam"};
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
    /* --out: made if missing, and tried with a real file now, not after the training */
    if (mkdir(o.out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "lenet: --out %s: cannot create it: %s\n", o.out, strerror(errno));
        return 2;
    }
    if (!ad_cli_check_out_dir("lenet", o.out)) return 2;
    bool adam = !strcmp(o.optimizer, "adam"), adamw = !strcmp(o.optimizer, "adamw");
    if (o.lr == 0) o.lr = adam || adamw ? 1e-3 : 0.05;
    if (o.weight_decay < 0) o.weight_decay = adamw ? 0.01 : 0;   /* PyTorch's defaults */
    char why[256];
    divergence_cause(why, sizeof why, o.optimizer, o.lr, o.weight_decay);
    if (o.threads && ad_set_threads(o.threads) != AD_OK) ad_cli_usage_error(&cli, "%s", ad_last_error());
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
    int64_t N = o.limit ? o.limit : train_x->shape[0], B = o.batch, steps = (N + B - 1) / B;
    /* every exit from here on goes through `out`, which frees what was made (a leak-checked build fails otherwise) */
    bool written = false;
    ad_optimizer *opt = NULL;
    int64_t *order = NULL;
    double *loss_curve = NULL, *acc_curve = NULL, *step_loss = NULL;
    ad_tensor *loss_log = NULL, *loss_log_host = NULL;   /* the GPU's per-step losses, and their host copy */
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
                                : ad_sgd_new(m.p, N_PARAMS, o.lr, SGD_MOMENTUM);
    if (!opt || ad_optimizer_set_weight_decay(opt, o.weight_decay) != AD_OK) {
        fprintf(stderr, "lenet: %s\n", ad_last_error());
        goto out;
    }
    if (gpu) {
        int64_t sl[1] = {steps};
        loss_log_host = ad_tensor_new(AD_FLOAT32, 1, sl);   /* LeNet is float32 (lenet_model.c) */
        if (!loss_log_host || !(loss_log = ad_gpu_tensor_to_device(loss_log_host))) {
            fprintf(stderr, "lenet: the loss log on the GPU: %s\n", ad_last_error());
            goto out;
        }
    }
    ad_mark mark = ad_context_mark(ctx);
    order = malloc((size_t)N * sizeof *order);
    loss_curve = calloc((size_t)o.epochs, sizeof(double)), acc_curve = calloc((size_t)o.epochs, sizeof(double));
    step_loss = calloc((size_t)(o.epochs * steps), sizeof(double));   /* every step's loss, for the chart */
    bool tty = isatty(2) && !o.json;
    char path[2048];
    snprintf(path, sizeof path, "%s/lenet_curve.csv", o.out);
    csv = fopen(path, "w");
    if (!csv || !order || !loss_curve || !acc_curve || !step_loss) {
        fprintf(stderr, "lenet: %s: %s\n", csv ? "out of memory" : path, strerror(errno));
        goto out;
    }
    fprintf(csv, "epoch,train_loss,test_accuracy,seconds\n");
    if (!o.json) {
        char where[320];
        if (gpu) snprintf(where, sizeof where, "on the GPU: %s", device_name);
        else snprintf(where, sizeof where, "%d thread%s", o.threads, o.threads > 1 ? "s" : "");
        printf("LeNet-5 on Fashion-MNIST: %lld training images, batch %lld, %s lr %g weight decay %g, seed %lu, %s\n",
               (long long)N, (long long)B, o.optimizer, o.lr, o.weight_decay, o.seed, where);
    }
    double total_time = 0;
    for (int e = 0; e < o.epochs; e++) {
        double t0 = lesson_now();
        double *epoch_loss = step_loss + e * steps;
        ad_shuffle(order, N, rng);
        if (gpu && ad_gpu_memzero(loss_log->data, (size_t)steps * sizeof(float)) != AD_OK) {
            fprintf(stderr, "lenet: %s\n", ad_last_error());
            goto out;
        }
        for (int64_t s = 0; s < steps; s++) {
            int64_t n = batch_of(s, N, B);
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
            if (!loss || ad_backward(ctx, loss) != AD_OK || ad_optimizer_step(opt) != AD_OK ||
                (gpu && ad_gpu_add_into(AD_FLOAT32, (float *)loss_log->data + s, ad_value(loss).data, 1) != AD_OK)) {
                fprintf(stderr, "\nlenet: %s\n", ad_last_error());
                goto out;
            }
            if (!gpu) {   /* on the CPU the loss is at hand: a run that diverges stops at once */
                epoch_loss[s] = ad_value_scalar(loss);
                if (!losses_finite(step_loss, steps, e, s, s + 1, why)) goto out;
            }
            ad_optimizer_zero_grad(opt);
            ad_context_rewind(ctx, mark);
            if (tty && (s % 20 == 0 || s == steps - 1)) {
                if (gpu && !receive_losses(loss_log_host, loss_log, epoch_loss, s + 1)) {
                    fprintf(stderr, "\nlenet: %s\n", ad_last_error());
                    goto out;
                }
                int64_t done = (s + 1) * B < N ? (s + 1) * B : N;
                progress(e + 1, o.epochs, done, N, image_loss_sum(epoch_loss, s + 1, N, B) / (double)done, t0);
            }
        }
        if (gpu && !receive_losses(loss_log_host, loss_log, epoch_loss, steps)) {
            fprintf(stderr, "\nlenet: %s\n", ad_last_error());
            goto out;
        }
        if (!losses_finite(step_loss, steps, e, 0, steps, why)) goto out;
        double secs = lesson_now() - t0;
        total_time += secs;
        loss_curve[e] = image_loss_sum(epoch_loss, steps, N, B) / (double)N;
        acc_curve[e] = evaluate(&m, ctx, test_x, test_y, gpu, why);
        if (tty) fputc('\n', stderr);
        if (!o.json)
            printf("epoch %2d  train loss %.4f  test accuracy %.2f%%  (%.1f s, %.0f images/s)\n", e + 1, loss_curve[e],
                   100 * acc_curve[e], secs, (double)N / secs);
        fflush(stdout);
        fprintf(csv, "%d,%.6f,%.6f,%.3f\n", e + 1, loss_curve[e], acc_curve[e], secs);
    }
    written = ad_cli_close_file("lenet", csv, path);
    csv = NULL;
    snprintf(path, sizeof path, "%s/lenet_loss.svg", o.out);
    written = write_loss_svg(path, step_loss, steps, loss_curve, acc_curve, o.epochs) && written;
    snprintf(path, sizeof path, "%s/lenet_filters.svg", o.out);
    ad_set_grad_enabled(ctx, false);
    written = write_filters_svg(path, on_host(ctx, m.p[0])) && written;
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
    } else if (written) {
        printf("Wrote %s/lenet_curve.csv, %s/lenet_loss.svg and %s/lenet_filters.svg\n", o.out, o.out, o.out);
    }
out:
    if (csv) fclose(csv);
    free(order);
    free(loss_curve);
    free(acc_curve);
    free(step_loss);
    ad_tensor_free(loss_log), ad_tensor_free(loss_log_host);
    ad_optimizer_free(opt);
    if (rng) gsl_rng_free(rng);
    ad_context_free(ctx);
    ad_tensor_free(train_x), ad_tensor_free(train_y), ad_tensor_free(test_x), ad_tensor_free(test_y);
    return written ? 0 : 1;
}
