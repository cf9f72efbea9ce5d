/* test_data_train.c: the IDX loader (tiny files written here, plain and
 * gzipped; truncated, corrupt, wrong magic, missing; the real Fashion-MNIST),
 * the optimizers against their update formulas computed by hand, and the
 * bit-for-bit reproducibility of shuffling and training with a seed. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include "ad_test.h"
#include "autodidact.h"

static void write_file(const char *path, const unsigned char *b, size_t n, bool gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        gzwrite(f, b, (unsigned)n);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

/* magic 00 00 08 03, dims 2 x 2 x 3, 12 bytes */
static const unsigned char idx3[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};

static void test_idx_valid(void **state)
{
    (void)state;
    for (int gz = 0; gz < 2; gz++) {
        const char *path = gz ? "t_idx3.gz" : "t_idx3";
        write_file(path, idx3, sizeof idx3, gz);
        ad_tensor *t = ad_idx_load(path, AD_FLOAT64, 1.0);
        assert_non_null(t);
        assert_int_equal(t->ndim, 3);
        assert_int_equal(t->shape[0], 2);
        assert_int_equal(t->shape[2], 3);
        assert_close(ad_tensor_get(t, 0), 0, 0);
        assert_close(ad_tensor_get(t, 6), 250, 0);
        assert_close(ad_tensor_get(t, 11), 255, 0);
        ad_tensor_free(t);
        remove(path);
    }
}

static void expect_io_error(const unsigned char *b, size_t n, bool gz, const char *msg)
{
    write_file("t_bad", b, n, gz);
    ad_clear_error();
    ad_tensor *t = ad_idx_load("t_bad", AD_FLOAT32, 1.0);
    if (t) fail_msg("a bad file loaded (expected: %s)", msg);
    assert_int_equal(ad_last_status(), AD_ERR_IO);
    if (!strstr(ad_last_error(), msg)) fail_msg("message '%s' lacks '%s'", ad_last_error(), msg);
    remove("t_bad");
}

static void test_idx_errors(void **state)
{
    (void)state;
    expect_io_error(idx3, sizeof idx3 - 3, false, "truncated: the data needs 12 bytes, the file has 9");
    expect_io_error(idx3, sizeof idx3 - 3, true, "truncated");
    expect_io_error(idx3, 10, false, "truncated: the dimensions");
    unsigned char magic[sizeof idx3];
    memcpy(magic, idx3, sizeof idx3);
    magic[2] = 9;
    expect_io_error(magic, sizeof magic, false, "not an IDX file of unsigned bytes");
    magic[0] = 1, magic[2] = 8;   /* every magic byte is shown as read */
    expect_io_error(magic, sizeof magic, false, "not an IDX file of unsigned bytes (magic 01000803, expected 0000080N");
    /* nothing where the header or the dimensions should be */
    expect_io_error(idx3, 0, false, "t_bad: truncated: the header needs 4 bytes, the file has 0");
    expect_io_error(idx3, 4, false, "t_bad: truncated: the dimensions needs 12 bytes, the file has 0");
    unsigned char zero[sizeof idx3];
    memcpy(zero, idx3, sizeof idx3);
    zero[7] = 0;
    expect_io_error(zero, sizeof zero, false, "dimension 0 is 0");
    unsigned char extra[sizeof idx3 + 1];
    memcpy(extra, idx3, sizeof idx3);
    extra[sizeof idx3] = 7;
    expect_io_error(extra, sizeof extra, false, "has bytes after");
    /* a gzip stream with its middle bytes damaged */
    write_file("t_gz", idx3, sizeof idx3, true);
    FILE *f = fopen("t_gz", "rb");
    unsigned char buf[256];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    for (size_t i = 12; i < n - 8; i++) buf[i] ^= 0x5a;
    expect_io_error(buf, n, false, "t_bad: ");   /* zlib's complaint, after the file's name */
    remove("t_gz");
    ad_clear_error();
    assert_null(ad_idx_load("/nonexistent/file", AD_FLOAT32, 1));
    assert_string_equal(ad_last_error(), "/nonexistent/file: no such file");
    ad_tensor *im, *lb;
    assert_int_equal(ad_fashion_mnist_load("/nonexistent", true, AD_FLOAT32, &im, &lb), AD_ERR_IO);
    assert_null(im);
}

/* The file gz(b) as bytes (malloc'd, length in *n). */
static unsigned char *gz_bytes(const unsigned char *b, size_t len, size_t *n)
{
    write_file("t_gzb", b, len, true);
    FILE *f = fopen("t_gzb", "rb");
    assert_non_null(f);
    unsigned char *out = malloc(1 << 20);
    *n = fread(out, 1, 1 << 20, f);
    fclose(f);
    remove("t_gzb");
    return out;
}

/* What the issue found accepted or hanging: a FIFO (blocked forever), a
 * directory, gzip cut within its 8-byte trailer, bytes after the gzip
 * stream. Concatenated gzip members stay valid (gzip(1) makes them). */
static void test_idx_hostile_files(void **state)
{
    (void)state;
    remove("t_fifo");
    assert_int_equal(mkfifo("t_fifo", 0600), 0);
    ad_clear_error();
    assert_null(ad_idx_load("t_fifo", AD_FLOAT32, 1));   /* returns at once: no writer is needed */
    assert_non_null(strstr(ad_last_error(), "t_fifo: not a regular file (a FIFO)"));
    remove("t_fifo");
    assert_null(ad_idx_load(".", AD_FLOAT32, 1));
    assert_non_null(strstr(ad_last_error(), "not a regular file (a directory)"));
    size_t n;
    unsigned char *gz = gz_bytes(idx3, sizeof idx3, &n);
    for (size_t cut = 1; cut <= 8; cut++) expect_io_error(gz, n - cut, false, "truncated");
    unsigned char *more = malloc(2 * n + 16);
    memcpy(more, gz, n);
    /* after the stream: only the two bytes 1f 8b start another member; one byte, or two of
     * which just one matches, is garbage */
    const char *tails[] = {"x", "\x1f", "\x1f\x8b", "\0\0\0\0", "\x1fX", "X\x8b"};
    size_t tail_len[] = {1, 1, 2, 4, 2, 2};
    for (int k = 0; k < 6; k++) {
        memcpy(more + n, tails[k], tail_len[k]);
        expect_io_error(more, n + tail_len[k], false, k == 2 ? "t_bad: " : "has bytes after the end of its gzip stream");
    }
    /* two members: the header and dimensions in one, the data in the next */
    size_t n1, n2;
    unsigned char *m1 = gz_bytes(idx3, 16, &n1), *m2 = gz_bytes(idx3 + 16, sizeof idx3 - 16, &n2);
    memcpy(more, m1, n1);
    memcpy(more + n1, m2, n2);
    write_file("t_two", more, n1 + n2, false);
    ad_tensor *t = ad_idx_load("t_two", AD_FLOAT64, 1.0);
    if (!t) fail_msg("two gzip members: %s", ad_last_error());
    assert_close(ad_tensor_get(t, 11), 255, 0);
    ad_tensor_free(t);
    remove("t_two");
    free(m1);
    free(m2);
    free(more);
    free(gz);
}

/* A header announcing 16 GiB over a few bytes of data, plain and as a gzip
 * bomb (64 MiB of zeros in ~64 KiB): the loader may only allocate what the
 * data backs, so under a 1.5 GiB address-space limit both fail as truncated,
 * not out of memory. (Skipped under AddressSanitizer, which reserves
 * terabytes of address space.) */
static void test_idx_header_bomb(void **state)
{
    (void)state;
    if (AD_TEST_UNDER_ASAN) skip();
    const size_t body = (size_t)64 << 20;
    unsigned char *b = calloc(1, 16 + body);
    /* 2^14 x 2^14 x 2^6 = 2^34 bytes */
    const unsigned char head[16] = {0, 0, 8, 3, 0, 0, 0x40, 0, 0, 0, 0x40, 0, 0, 0, 0, 0x40};
    memcpy(b, head, 16);
    write_file("t_bomb", b, 23, false);
    write_file("t_bomb.gz", b, 16 + body, true);
    free(b);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit lim = {(rlim_t)3 << 29, (rlim_t)3 << 29};
        if (setrlimit(RLIMIT_AS, &lim) != 0) _exit(3);
        for (int k = 0; k < 2; k++) {
            ad_clear_error();
            ad_tensor *t = ad_idx_load(k ? "t_bomb.gz" : "t_bomb", AD_FLOAT32, 1);
            if (t || ad_last_status() != AD_ERR_IO || !strstr(ad_last_error(), "truncated")) {
                fprintf(stderr, "%s: %s\n", k ? "t_bomb.gz" : "t_bomb", ad_last_error());
                _exit(1);
            }
        }
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    remove("t_bomb");
    remove("t_bomb.gz");
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* Valid IDX files whose dimensions are not Fashion-MNIST's: images (2,2,3)
 * with labels (2) are refused by the split check, naming both shapes. */
static void test_fashion_mnist_wrong_dims(void **state)
{
    (void)state;
    static const unsigned char labels[] = {0, 0, 8, 1, 0, 0, 0, 2, 9, 0};
    write_file("train-images-idx3-ubyte", idx3, sizeof idx3, false);
    write_file("train-labels-idx1-ubyte.gz", labels, sizeof labels, true);
    ad_tensor *im = NULL, *lb = NULL;
    ad_clear_error();
    assert_int_equal(ad_fashion_mnist_load(".", true, AD_FLOAT32, &im, &lb), AD_ERR_IO);
    assert_null(im);
    assert_null(lb);
    if (!strstr(ad_last_error(), "images (2,2,3) and labels (2) do not make a Fashion-MNIST split"))
        fail_msg("message: %s", ad_last_error());
    remove("train-images-idx3-ubyte");
    remove("train-labels-idx1-ubyte.gz");
}

/* A valid split of two images written here: (2,28,28) and labels (2) load
 * as (2,1,28,28) and (2), with no error left behind (the label check reads
 * the labels' own elements, none past them); labels (2,1) are not a split;
 * a label 10, the last, is refused by its value and place. */
static void test_fashion_mnist_small_split(void **state)
{
    (void)state;
    static unsigned char im[16 + 2 * 784] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28};
    im[16 + 784 + 5] = 255;
    static const unsigned char lb[] = {0, 0, 8, 1, 0, 0, 0, 2, 9, 3}, lb_2d[] = {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 1, 9, 3},
                               lb_10[] = {0, 0, 8, 1, 0, 0, 0, 2, 9, 10};
    write_file("t10k-images-idx3-ubyte", im, sizeof im, false);
    write_file("t10k-labels-idx1-ubyte", lb, sizeof lb, false);
    ad_tensor *ti = NULL, *tl = NULL;
    ad_clear_error();
    assert_int_equal(ad_fashion_mnist_load(".", false, AD_FLOAT64, &ti, &tl), AD_OK);
    assert_int_equal(ad_last_status(), AD_OK);
    assert_int_equal(ti->ndim, 4);
    assert_int_equal(ti->shape[0], 2);
    assert_int_equal(ti->shape[1], 1);
    assert_int_equal(ti->shape[2], 28);
    assert_int_equal(ti->shape[3], 28);
    assert_close(ad_tensor_get(ti, 784 + 5), 1, 0);
    assert_int_equal(tl->ndim, 1);
    assert_int_equal(tl->size, 2);
    assert_close(ad_tensor_get(tl, 0), 9, 0);
    assert_close(ad_tensor_get(tl, 1), 3, 0);
    ad_tensor_free(ti);
    ad_tensor_free(tl);
    write_file("t10k-labels-idx1-ubyte", lb_2d, sizeof lb_2d, false);
    assert_int_equal(ad_fashion_mnist_load(".", false, AD_FLOAT64, &ti, &tl), AD_ERR_IO);
    if (!strstr(ad_last_error(), "images (2,28,28) and labels (2,1) do not make a Fashion-MNIST split"))
        fail_msg("message: %s", ad_last_error());
    write_file("t10k-labels-idx1-ubyte", lb_10, sizeof lb_10, false);
    assert_int_equal(ad_fashion_mnist_load(".", false, AD_FLOAT64, &ti, &tl), AD_ERR_IO);
    assert_string_equal(ad_last_error(), "./t10k-labels-idx1-ubyte: label 10 at 1 is not a class 0..9");
    assert_null(ti);
    assert_null(tl);
    remove("t10k-images-idx3-ubyte");
    remove("t10k-labels-idx1-ubyte");
}

/* Adam's hyperparameters, each bad one alone (the others good), refused
 * with the one message; eps = 0 is bad (it divides by sqrt(v) + eps). */
static void test_adam_arguments(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *w = ad_scalar(ctx, 1);
    static const struct { double lr, b1, b2, eps; const char *got; } bad[] = {
        {0, 0.9, 0.999, 1e-8, "(got 0, 0.9, 0.999, 1e-08)"},   {0.1, -0.5, 0.999, 1e-8, "(got 0.1, -0.5, 0.999, 1e-08)"},
        {0.1, 1, 0.999, 1e-8, "(got 0.1, 1, 0.999, 1e-08)"},   {0.1, 0.9, 1, 1e-8, "(got 0.1, 0.9, 1, 1e-08)"},
        {0.1, 0.9, -0.5, 1e-8, "(got 0.1, 0.9, -0.5, 1e-08)"}, {0.1, 0.9, 0.999, 0, "(got 0.1, 0.9, 0.999, 0)"},
        {0.1, 0.9, 0.999, -1, "(got 0.1, 0.9, 0.999, -1)"},
    };
    char msg[128];
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        ad_clear_error();
        assert_null(ad_adam_new(&w, 1, bad[k].lr, bad[k].b1, bad[k].b2, bad[k].eps));
        snprintf(msg, sizeof msg, "adam: needs lr > 0, betas in [0, 1), eps > 0 %s", bad[k].got);
        assert_string_equal(ad_last_error(), msg);
    }
    ad_optimizer *ok = ad_adam_new(&w, 1, 0.1, 0, 0, 1e-8);   /* betas 0 are allowed */
    assert_non_null(ok);
    ad_optimizer_free(ok);
    ad_context_free(ctx);
}

/* ad_shuffle gives a permutation (each index exactly once, and not the
 * identity for 100 of them); ad_gather_rows names the bad index itself. */
static void test_shuffle_and_gather(void **state)
{
    (void)state;
    enum { N = 100 };
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 3);
    int64_t idx[N];
    int seen[N] = {0}, moved = 0;
    ad_shuffle(idx, N, rng);
    for (int i = 0; i < N; i++) {
        assert_true(idx[i] >= 0 && idx[i] < N);
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
    assert_true(moved > 0);
    gsl_rng_free(rng);
    ad_tensor *src = ad_tensor_new(AD_FLOAT32, 2, (int64_t[]){3, 2}), *dst = ad_tensor_new(AD_FLOAT32, 2, (int64_t[]){3, 2});
    for (int i = 0; i < 6; i++) ad_tensor_set(src, i, i);
    assert_int_equal(ad_gather_rows(src, (int64_t[]){2, 0, 7}, 3, dst), AD_ERR_ARG);
    assert_string_equal(ad_last_error(), "gather_rows: row 7 is out of range 0..2");
    const int64_t rows[] = {0, 1, -1, 0};   /* a negative index is named too, wherever it sits */
    assert_int_equal(ad_gather_rows(src, rows + 1, 3, dst), AD_ERR_ARG);
    assert_string_equal(ad_last_error(), "gather_rows: row -1 is out of range 0..2");
    assert_int_equal(ad_gather_rows(src, (int64_t[]){2, 0, 1}, 3, dst), AD_OK);
    static const double want[] = {4, 5, 0, 1, 2, 3};
    for (int i = 0; i < 6; i++) assert_close(ad_tensor_get(dst, i), want[i], 0);
    ad_tensor_free(src);
    ad_tensor_free(dst);
}

static void test_fashion_mnist(void **state)
{
    (void)state;
    ad_tensor *im, *lb, *tim, *tlb;
    if (ad_fashion_mnist_load(NULL, true, AD_FLOAT32, &im, &lb) != AD_OK) {
        print_message("skipping: %s (install dataset-fashion-mnist)\n", ad_last_error());
        skip();
    }
    assert_int_equal(im->shape[0], 60000);
    assert_int_equal(im->ndim, 4);
    assert_int_equal(im->shape[1], 1);
    assert_int_equal(lb->size, 60000);
    assert_close(ad_tensor_get(lb, 0), 9, 0);   /* the first training image is an ankle boot */
    assert_string_equal(ad_fashion_mnist_class(9), "Ankle boot");
    double lo = 1, hi = 0;
    for (int64_t i = 0; i < 784; i++) {
        lo = fmin(lo, ad_tensor_get(im, i));
        hi = fmax(hi, ad_tensor_get(im, i));
    }
    assert_close(lo, 0, 0);
    assert_close(hi, 1, 0);
    assert_int_equal(ad_fashion_mnist_load(NULL, false, AD_FLOAT32, &tim, &tlb), AD_OK);
    assert_int_equal(tim->shape[0], 10000);
    ad_tensor_free(im), ad_tensor_free(lb), ad_tensor_free(tim), ad_tensor_free(tlb);
}

/* One step on L = Σ w² (grad 2w) from w = (1, -2), by hand. */
static void test_optimizers(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t s2[] = {2};
    ad_node *w = ad_variable(ctx, AD_FLOAT64, 1, s2, (double[]){1, -2});
    ad_optimizer *sgd = ad_sgd_new(&w, 1, 0.1, 0.9);
    ad_mark m = ad_context_mark(ctx);
    double v0 = 0, v1 = 0, w0 = 1, w1 = -2;
    for (int step = 0; step < 3; step++) {
        ad_backward(ctx, ad_sum(ctx, ad_mul(ctx, w, w), AD_ALL_AXES, false));
        ad_optimizer_step(sgd);
        ad_optimizer_zero_grad(sgd);
        ad_context_rewind(ctx, m);
        v0 = 0.9 * v0 + 2 * w0, w0 -= 0.1 * v0;
        v1 = 0.9 * v1 + 2 * w1, w1 -= 0.1 * v1;
        assert_close(ad_value_at(w, 0), w0, 1e-15);
        assert_close(ad_value_at(w, 1), w1, 1e-15);
    }
    ad_optimizer_free(sgd);
    ad_set_value_at(w, 0, 1);
    ad_set_value_at(w, 1, -2);
    ad_optimizer *adam = ad_adam_new(&w, 1, 0.01, 0.9, 0.999, 1e-8);
    double m0 = 0, s0 = 0, x = 1;
    for (int t = 1; t <= 3; t++) {
        ad_backward(ctx, ad_sum(ctx, ad_mul(ctx, w, w), AD_ALL_AXES, false));
        ad_optimizer_step(adam);
        ad_optimizer_zero_grad(adam);
        ad_context_rewind(ctx, m);
        double g = 2 * x;
        m0 = 0.9 * m0 + 0.1 * g;
        s0 = 0.999 * s0 + 0.001 * g * g;
        x -= 0.01 * (m0 / (1 - pow(0.9, t))) / (sqrt(s0 / (1 - pow(0.999, t))) + 1e-8);
        assert_close(ad_value_at(w, 0), x, 1e-15);
    }
    ad_optimizer_free(adam);
    assert_null(ad_sgd_new(&w, 1, -1, 0));
    assert_non_null(strstr(ad_last_error(), "sgd: lr must be > 0"));
    ad_node *notleaf = ad_exp(ctx, w);
    assert_null(ad_adam_new(&notleaf, 1, 0.1, 0.9, 0.999, 1e-8));
    assert_non_null(strstr(ad_last_error(), "parameter 0 is not a variable"));
    ad_context_free(ctx);
}

/* Weight decay, by hand, three steps on L = Σ w (grad 1): SGD and Adam
 * add λ·w to the gradient; AdamW scales w by 1 - lr·λ, then takes Adam's
 * step with the plain gradient. w has 10001 elements (blocks over the
 * threads, and a ragged last one), w_i = (-1)^i (1 + i/10⁴) but w_0 = -10; every element
 * is checked, on 1 and on 2 threads. */
static void test_weight_decay(void **state)
{
    (void)state;
    const double lr = 0.05, lam = 0.3, mu = 0.9, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    enum { N = 10001 };
    int keep = ad_threads();
    for (int threads = 1; threads <= 2; threads++) {
        if (ad_set_threads(threads) != AD_OK) continue;   /* a build without OpenMP */
        for (int kind = 0; kind < 3; kind++) {   /* SGD + L2, Adam + L2, AdamW */
            ad_context *ctx = ad_context_new();
            int64_t sn[] = {N};
            ad_node *w = ad_variable(ctx, AD_FLOAT64, 1, sn, NULL);
            static double x[N], m[N], v[N];
            for (int i = 0; i < N; i++) {
                x[i] = i == 0 ? -10 : (i % 2 ? -1 : 1) * (1 + i / 1e4);   /* at -10, 1 + λ·w < 0: Adam turns */
                m[i] = v[i] = 0;
                ad_set_value_at(w, i, x[i]);
            }
            ad_optimizer *opt = kind == 0   ? ad_sgd_new(&w, 1, lr, mu)
                                : kind == 1 ? ad_adam_new(&w, 1, lr, b1, b2, eps)
                                            : ad_adamw_new(&w, 1, lr, b1, b2, eps, lam);
            assert_non_null(opt);
            if (kind < 2) assert_int_equal(ad_optimizer_set_weight_decay(opt, lam), AD_OK);
            ad_mark mk = ad_context_mark(ctx);
            double y = x[0], my = 0, vy = 0;   /* element 0 without the decay */
            for (int t = 1; t <= 3; t++) {
                assert_int_equal(ad_backward(ctx, ad_sum(ctx, w, AD_ALL_AXES, false)), AD_OK);
                assert_int_equal(ad_optimizer_step(opt), AD_OK);
                ad_optimizer_zero_grad(opt);
                ad_context_rewind(ctx, mk);
                for (int i = 0; i < N; i++) {
                    double g = 1;
                    if (kind == 0) {
                        m[i] = mu * m[i] + g + lam * x[i];
                        x[i] -= lr * m[i];
                    } else {
                        if (kind == 1) g += lam * x[i];
                        else x[i] *= 1 - lr * lam;
                        m[i] = b1 * m[i] + (1 - b1) * g;
                        v[i] = b2 * v[i] + (1 - b2) * g * g;
                        x[i] -= lr * (m[i] / (1 - pow(b1, t))) / (sqrt(v[i] / (1 - pow(b2, t))) + eps);
                    }
                    assert_close(ad_value_at(w, i), x[i], 1e-14);
                }
                my = kind == 0 ? mu * my + 1 : b1 * my + (1 - b1);
                vy = b2 * vy + (1 - b2);
                y -= kind == 0 ? lr * my : lr * (my / (1 - pow(b1, t))) / (sqrt(vy / (1 - pow(b2, t))) + eps);
            }
            /* the decay made a difference (the check above would see a decay ignored) */
            assert_true(fabs(ad_value_at(w, 0) - y) > 1e-3);
            assert_int_equal(ad_optimizer_set_weight_decay(opt, -0.1), AD_ERR_ARG);
            assert_non_null(strstr(ad_last_error(), "weight decay must be a finite number >= 0 (got -0.1)"));
            assert_int_equal(ad_optimizer_set_weight_decay(opt, NAN), AD_ERR_ARG);
            ad_optimizer_free(opt);
            ad_context_free(ctx);
        }
    }
    assert_int_equal(ad_set_threads(keep), AD_OK);
}

/* Training twice with one seed gives the same bits. */
static double train_run(unsigned long seed, double *final_w)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    ad_context *ctx = ad_context_new();
    int64_t sw[] = {3, 4}, sx[] = {32, 4}, sb[] = {8, 4}, sy[] = {8};
    ad_tensor *X = ad_tensor_new(AD_FLOAT32, 2, sx), *Y = ad_tensor_new(AD_FLOAT32, 1, (int64_t[]){32});
    for (int64_t i = 0; i < X->size; i++) ad_tensor_set(X, i, gsl_rng_uniform(rng) - 0.5);
    for (int64_t i = 0; i < 32; i++) ad_tensor_set(Y, i, (double)(i % 3));
    ad_node *w = ad_variable(ctx, AD_FLOAT32, 2, sw, NULL);
    for (int64_t i = 0; i < ad_value(w).size; i++) ad_set_value_at(w, i, gsl_rng_uniform(rng) - 0.5);
    ad_optimizer *opt = ad_adam_new(&w, 1, 0.05, 0.9, 0.999, 1e-8);
    ad_mark m = ad_context_mark(ctx);
    int64_t idx[32];
    double last = 0;
    for (int epoch = 0; epoch < 5; epoch++) {
        ad_shuffle(idx, 32, rng);
        for (int b = 0; b < 4; b++) {
            ad_node *x = ad_constant(ctx, AD_FLOAT32, 2, sb, NULL), *y = ad_constant(ctx, AD_FLOAT32, 1, sy, NULL);
            ad_tensor xv = ad_value(x), yv = ad_value(y);
            assert_int_equal(ad_gather_rows(X, idx + 8 * b, 8, &xv), AD_OK);
            assert_int_equal(ad_gather_rows(Y, idx + 8 * b, 8, &yv), AD_OK);
            ad_node *loss = ad_cross_entropy(ctx, ad_linear(ctx, x, w, NULL), y, NULL, AD_REDUCE_MEAN, -1);
            assert_non_null(loss);
            last = ad_value_scalar(loss);
            ad_backward(ctx, loss);
            ad_optimizer_step(opt);
            ad_optimizer_zero_grad(opt);
            ad_context_rewind(ctx, m);
        }
    }
    memcpy(final_w, ad_value(w).data, 12 * sizeof(float));
    ad_optimizer_free(opt);
    ad_context_free(ctx);
    ad_tensor_free(X);
    ad_tensor_free(Y);
    gsl_rng_free(rng);
    return last;
}

static void test_reproducible(void **state)
{
    (void)state;
    double a[6], b[6], c[6];   /* 12 floats */
    double la = train_run(7, a), lb = train_run(7, b);
    train_run(8, c);
    assert_memory_equal(a, b, 12 * sizeof(float));
    assert_close(la, lb, 0);
    assert_memory_not_equal(a, c, 12 * sizeof(float));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_valid), cmocka_unit_test(test_idx_errors),
        cmocka_unit_test(test_idx_hostile_files), cmocka_unit_test(test_idx_header_bomb), cmocka_unit_test(test_fashion_mnist),
        cmocka_unit_test(test_fashion_mnist_wrong_dims), cmocka_unit_test(test_fashion_mnist_small_split),
        cmocka_unit_test(test_adam_arguments), cmocka_unit_test(test_shuffle_and_gather),
        cmocka_unit_test(test_optimizers), cmocka_unit_test(test_weight_decay), cmocka_unit_test(test_reproducible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
