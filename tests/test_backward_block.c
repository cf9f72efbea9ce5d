/* test_backward_block.c: ad_backward_block, many cotangents in one sweep.
 * Each row of a block must equal a backward pass of that cotangent alone
 * (bit for bit where the op's block is its one-cotangent code row by row;
 * to rounding for matmul and linear, whose dx stacks the rows into one GEMM,
 * and conv2d, whose dx runs rows·N images),
 * added into the caller's grads, with the node grads left alone; and every
 * misuse is refused with a message. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"

enum { ROWS = 4 };

/* A graph with fan-out (a), a constant, a broadcast (c) and a reduction:
 * a, b (2,3) variables, c (3) a constant; u = a·b, v = sin(u) + a,
 * y = Σ_j v[i,j]·c[j] (2). */
typedef struct graph {
    ad_context *ctx;
    ad_node *a, *b, *c, *u, *y;
} graph;

static graph make_graph(void)
{
    graph g = {.ctx = ad_context_new()};
    int64_t s23[] = {2, 3}, s3[] = {3};
    double av[] = {0.3, -1.2, 0.7, 1.1, -0.4, 0.9}, bv[] = {1.5, 0.2, -0.8, -1.3, 0.6, 0.25}, cv[] = {0.5, -2, 1.25};
    g.a = ad_variable(g.ctx, AD_FLOAT64, 2, s23, av);
    g.b = ad_variable(g.ctx, AD_FLOAT64, 2, s23, bv);
    g.c = ad_constant(g.ctx, AD_FLOAT64, 1, s3, cv);
    g.u = ad_mul(g.ctx, g.a, g.b);
    ad_node *v = ad_add(g.ctx, ad_sin(g.ctx, g.u), g.a);
    g.y = ad_sum(g.ctx, ad_mul(g.ctx, v, g.c), 1, false);   /* (2) */
    assert_non_null(g.y);
    return g;
}

static double cot_value(int r, int64_t o) { return 0.5 + r - 0.75 * (double)o + 0.125 * r * (double)o; }

/* Rows of a block against one backward pass per cotangent, bit for bit, for
 * a, b and the intermediate u; node grads untouched. The block adds into
 * the grads: a second call doubles them. */
static void test_block_equals_one_at_a_time(void **state)
{
    (void)state;
    graph g = make_graph();
    int64_t m = ad_value(g.y).size, n = ad_value(g.a).size;
    double cot[ROWS * 2], ga[ROWS * 6], gb[ROWS * 6], gu[ROWS * 6];
    for (int r = 0; r < ROWS; r++)
        for (int64_t o = 0; o < m; o++) cot[r * m + o] = cot_value(r, o);
    for (int k = 0; k < ROWS * 6; k++) ga[k] = gb[k] = gu[k] = 0.0;
    double a_grad_before[6];
    memcpy(a_grad_before, ad_grad(g.a).data, sizeof a_grad_before);
    ad_node *wrt[] = {g.a, g.b, g.u};
    void *grads[] = {ga, gb, gu};
    assert_int_equal(ad_backward_block(g.ctx, g.y, ROWS, cot, 3, wrt, grads), AD_OK);
    assert_memory_equal(ad_grad(g.a).data, a_grad_before, sizeof a_grad_before);   /* node grads untouched */
    double first[3][ROWS * 6];
    memcpy(first[0], ga, sizeof ga), memcpy(first[1], gb, sizeof gb), memcpy(first[2], gu, sizeof gu);
    assert_int_equal(ad_backward_block(g.ctx, g.y, ROWS, cot, 3, wrt, grads), AD_OK);
    for (int r = 0; r < ROWS; r++) {
        ad_zero_grad(g.ctx);
        ad_tensor ct = ad_value(g.y);
        ct.data = cot + r * m;
        ad_backward_opts o = {.cotangent = &ct};
        assert_int_equal(ad_backward_ex(g.ctx, g.y, &o), AD_OK);
        const double *one[] = {ad_grad(g.a).data, ad_grad(g.b).data, ad_grad(g.u).data}, *blk[] = {ga, gb, gu};
        for (int w = 0; w < 3; w++)
            for (int64_t j = 0; j < n; j++) {
                if (memcmp(&first[w][r * n + j], &one[w][j], sizeof(double)) != 0)
                    fail_msg("row %d, node %d, element %lld: block %.17g, alone %.17g", r, w, (long long)j,
                             first[w][r * n + j], one[w][j]);
                assert_close(blk[w][r * n + j], 2 * one[w][j], 1e-13);   /* the second block added */
            }
    }
    ad_context_free(g.ctx);
}

/* y a leaf: its rows are the cotangents; a leaf not asked for is skipped. */
/* An intermediate node first in the list (its rows are added into the
 * caller's grads after the sweep, by its own dtype and device): the same
 * rows as when it is listed after the leaves. */
static void test_intermediate_listed_first(void **state)
{
    (void)state;
    graph g = make_graph(), h = make_graph();
    double cot[ROWS * 2], gu1[ROWS * 6] = {0}, gu2[ROWS * 6] = {0}, ga[ROWS * 6] = {0}, gb[ROWS * 6] = {0};
    for (int r = 0; r < ROWS; r++)
        for (int64_t o = 0; o < 2; o++) cot[r * 2 + o] = cot_value(r, o);
    assert_int_equal(ad_backward_block(g.ctx, g.y, ROWS, cot, 1, (ad_node *[]){g.u}, (void *[]){gu1}), AD_OK);
    assert_int_equal(ad_backward_block(h.ctx, h.y, ROWS, cot, 3, (ad_node *[]){h.a, h.b, h.u}, (void *[]){ga, gb, gu2}),
                     AD_OK);
    assert_memory_equal(gu1, gu2, sizeof gu1);
    for (int k = 0; k < ROWS * 6; k++) assert_true(gu1[k] != 0);   /* (every element of u reaches y) */
    ad_context_free(g.ctx);
    ad_context_free(h.ctx);
}

static void test_leaf_output_and_unasked_leaves(void **state)
{
    (void)state;
    graph g = make_graph();
    double cot[2 * 6], ga[2 * 6] = {0};
    for (int k = 0; k < 12; k++) cot[k] = k - 5.5;
    ad_node *wrt[] = {g.a};
    void *grads[] = {ga};
    assert_int_equal(ad_backward_block(g.ctx, g.a, 2, cot, 1, wrt, grads), AD_OK);
    assert_memory_equal(ga, cot, sizeof cot);
    /* only b asked for: a's grad rows are not made, b's are */
    double gb[ROWS * 6] = {0}, c2[ROWS * 2];
    for (int k = 0; k < ROWS * 2; k++) c2[k] = 1.0;
    ad_node *wb[] = {g.b};
    void *gbs[] = {gb};
    assert_int_equal(ad_backward_block(g.ctx, g.y, ROWS, c2, 1, wb, gbs), AD_OK);
    for (int r = 0; r < ROWS; r++)   /* dy_i/db_ij = cos(a b)·a·c_j, every row the same cotangent */
        for (int j = 0; j < 6; j++) {
            double a = ad_value_at(g.a, j), b = ad_value_at(g.b, j), c = ad_value_at(g.c, j % 3);
            assert_close(gb[r * 6 + j], cos(a * b) * a * c, 1e-14);
        }
    ad_context_free(g.ctx);
}

/* The ops whose block is not their one-cotangent code row by row: matmul
 * and linear stack the rows of dx into one GEMM, conv2d runs rows·N images;
 * float32 and float64, against passes of one cotangent. */
static void check_op_block(ad_dtype dt, const char *what, ad_node *(*build)(ad_context *, ad_dtype, ad_node **),
                           int n_in)
{
    ad_context *ctx = ad_context_new();
    ad_node *in[3];
    ad_node *y = build(ctx, dt, in);
    assert_non_null(y);
    int64_t m = ad_value(y).size;
    size_t es = dt == AD_FLOAT32 ? 4 : 8;
    char *cot = malloc((size_t)(ROWS * m) * es), *blk[3];
    for (int64_t k = 0; k < ROWS * m; k++) {
        double v = sin(0.37 * (double)k + 1.0);
        if (k % 7 == 3) v = 0;   /* some zero rows' entries (conv2d skips all-zero images) */
        if (dt == AD_FLOAT32) ((float *)cot)[k] = (float)v;
        else ((double *)cot)[k] = v;
    }
    for (int s = 0; s < n_in; s++) blk[s] = calloc((size_t)(ROWS * ad_value(in[s]).size), es);
    assert_int_equal(ad_backward_block(ctx, y, ROWS, cot, n_in, in, (void *const *)blk), AD_OK);
    double tol = dt == AD_FLOAT32 ? 1e-5 : 1e-13;
    for (int r = 0; r < ROWS; r++) {
        ad_zero_grad(ctx);
        ad_tensor ct = ad_value(y);
        ct.data = cot + (size_t)(r * m) * es;
        ad_backward_opts o = {.cotangent = &ct};
        assert_int_equal(ad_backward_ex(ctx, y, &o), AD_OK);
        for (int s = 0; s < n_in; s++) {
            int64_t n = ad_value(in[s]).size;
            double scale = 0;
            for (int64_t j = 0; j < n; j++) scale = fmax(scale, fabs(ad_grad_at(in[s], j)));
            for (int64_t j = 0; j < n; j++) {
                double b = dt == AD_FLOAT32 ? ((float *)blk[s])[r * n + j] : ((double *)blk[s])[r * n + j];
                double a = ad_grad_at(in[s], j);
                if (!(fabs(b - a) <= tol * (scale + 1)))
                    fail_msg("%s %s: row %d, input %d, element %lld: block %.9g, alone %.9g", what,
                             ad_dtype_name(dt), r, s, (long long)j, b, a);
            }
        }
    }
    for (int s = 0; s < n_in; s++) free(blk[s]);
    free(cot);
    ad_context_free(ctx);
}

static ad_node *fill(ad_context *ctx, ad_dtype dt, int nd, const int64_t *sh, double phase)
{
    int64_t n = 1;
    for (int d = 0; d < nd; d++) n *= sh[d];
    double *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = cos(phase + 0.61 * (double)i);
    ad_node *x = ad_variable(ctx, dt, nd, sh, v);
    free(v);
    return x;
}

static ad_node *build_matmul(ad_context *ctx, ad_dtype dt, ad_node **in)
{
    int64_t sa[] = {5, 4}, sb[] = {4, 3};
    in[0] = fill(ctx, dt, 2, sa, 0.1), in[1] = fill(ctx, dt, 2, sb, 0.7);
    return ad_matmul(ctx, in[0], in[1]);
}
static ad_node *build_matmul_batched(ad_context *ctx, ad_dtype dt, ad_node **in)
{
    int64_t sa[] = {2, 3, 4}, sb[] = {4, 2};
    in[0] = fill(ctx, dt, 3, sa, 0.2), in[1] = fill(ctx, dt, 2, sb, 0.9);
    return ad_matmul(ctx, in[0], in[1]);
}
static ad_node *build_linear(ad_context *ctx, ad_dtype dt, ad_node **in)
{
    int64_t sx[] = {6, 4}, sw[] = {3, 4}, sb[] = {3};
    in[0] = fill(ctx, dt, 2, sx, 0.3), in[1] = fill(ctx, dt, 2, sw, 1.1), in[2] = fill(ctx, dt, 1, sb, 2.0);
    return ad_linear(ctx, in[0], in[1], in[2]);
}
static ad_node *build_conv(ad_context *ctx, ad_dtype dt, ad_node **in)
{
    int64_t sx[] = {3, 2, 6, 5}, sw[] = {4, 2, 3, 3}, sb[] = {4};
    in[0] = fill(ctx, dt, 4, sx, 0.4), in[1] = fill(ctx, dt, 4, sw, 1.3), in[2] = fill(ctx, dt, 1, sb, 0.5);
    return ad_conv2d(ctx, in[0], in[1], in[2], 2, 1);
}
static ad_node *build_conv_relu(ad_context *ctx, ad_dtype dt, ad_node **in)
{
    int64_t sx[] = {3, 2, 6, 5}, sw[] = {4, 2, 3, 3}, sb[] = {4};
    in[0] = fill(ctx, dt, 4, sx, 0.4), in[1] = fill(ctx, dt, 4, sw, 1.3), in[2] = fill(ctx, dt, 1, sb, 0.5);
    return ad_conv2d_relu(ctx, in[0], in[1], in[2], 1, 1);
}

static void test_gemm_ops_stack_rows(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        ad_dtype dt = k ? AD_FLOAT32 : AD_FLOAT64;
        check_op_block(dt, "matmul", build_matmul, 2);
        check_op_block(dt, "batched matmul", build_matmul_batched, 2);
        check_op_block(dt, "linear", build_linear, 3);
        check_op_block(dt, "conv2d", build_conv, 3);
        check_op_block(dt, "conv2d_relu", build_conv_relu, 3);
    }
}

/* Random graphs: 40 elementwise ops over two (3,4) variables and a
 * constant, each reading two earlier nodes at random (fan-out, branches the
 * output does not use, nodes below and between the leaves), one of the ops
 * asked for besides the leaves. Each row of a block of 3 cotangents equals
 * a backward pass of that cotangent alone, bit for bit; 30 seeds. */
static uint64_t next_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static void test_random_graphs(void **state)
{
    (void)state;
    enum { OPS = 40, B = 3 };
    for (uint64_t seed = 1; seed <= 30; seed++) {
        uint64_t rs = seed;
        ad_context *ctx = ad_context_new();
        int64_t sh[] = {3, 4};
        double v[12];
        ad_node *node[OPS + 4];
        int n = 0;
        node[n++] = ad_scalar(ctx, 0.5);   /* an unrelated node below the leaves */
        for (int k = 0; k < 3; k++) {
            for (int i = 0; i < 12; i++) v[i] = 0.2 + 0.1 * (double)((next_rand(&rs) % 17)) - 0.8;
            node[n++] = k < 2 ? ad_variable(ctx, AD_FLOAT64, 2, sh, v) : ad_constant(ctx, AD_FLOAT64, 2, sh, v);
        }
        ad_node *asked = NULL;
        for (int k = 0; k < OPS; k++) {
            ad_node *a = node[1 + next_rand(&rs) % (uint64_t)(n - 1)], *b = node[1 + next_rand(&rs) % (uint64_t)(n - 1)];
            ad_node *c = NULL;
            switch (next_rand(&rs) % 7) {
            case 0: c = ad_add(ctx, a, b); break;
            case 1: c = ad_sub(ctx, a, b); break;
            case 2: c = ad_mul(ctx, a, ad_scale(ctx, b, 0.5)); break;
            case 3: c = ad_sin(ctx, a); break;
            case 4: c = ad_tanh(ctx, ad_add(ctx, a, b)); break;
            case 5: c = ad_sigmoid(ctx, a); break;
            default: c = ad_mul(ctx, a, b); break;
            }
            assert_non_null(c);
            node[n++] = c;
            if (k == OPS / 2) asked = c;
        }
        ad_node *y = ad_add(ctx, node[n - 1], node[n - 2]);
        if (!ad_requires_grad(y) || !ad_requires_grad(asked)) {   /* a graph of constants only: nothing to check */
            ad_context_free(ctx);
            continue;
        }
        double cot[B * 12], blk[3][B * 12] = {{0}};
        for (int i = 0; i < B * 12; i++) cot[i] = 0.25 * (double)(next_rand(&rs) % 9) - 1.0;
        ad_node *wrt[] = {node[1], node[2], asked};
        void *grads[] = {blk[0], blk[1], blk[2]};
        assert_int_equal(ad_backward_block(ctx, y, B, cot, 3, wrt, grads), AD_OK);
        for (int r = 0; r < B; r++) {
            ad_zero_grad(ctx);
            ad_tensor ct = ad_value(y);
            ct.data = cot + r * 12;
            ad_backward_opts o = {.cotangent = &ct};
            assert_int_equal(ad_backward_ex(ctx, y, &o), AD_OK);
            for (int w = 0; w < 3; w++)
                for (int i = 0; i < 12; i++) {
                    double alone = ad_grad(wrt[w]).data ? ((double *)ad_grad(wrt[w]).data)[i] : 0;
                    if (memcmp(&blk[w][r * 12 + i], &alone, sizeof alone) != 0)
                        fail_msg("seed %llu, row %d, node %d, element %d: block %.17g, alone %.17g",
                                 (unsigned long long)seed, r, w, i, blk[w][r * 12 + i], alone);
                }
        }
        ad_context_free(ctx);
    }
}

static void test_misuse_refused(void **state)
{
    (void)state;
    graph g = make_graph();
    graph h = make_graph();
    double cot[ROWS * 2] = {1, 1, 1, 1, 1, 1, 1, 1}, ga[ROWS * 6], gb[ROWS * 6];
    ad_node *wrt[] = {g.a, g.b};
    void *grads[] = {ga, gb};
    assert_int_equal(ad_backward_block(g.ctx, g.y, 0, cot, 2, wrt, grads), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "backward_block: needs rows >= 1 (got 0)"));
    assert_int_equal(ad_backward_block(g.ctx, g.y, ROWS, NULL, 2, wrt, grads), AD_ERR_ARG);
    assert_int_equal(ad_backward_block(g.ctx, g.y, ROWS, cot, 0, wrt, grads), AD_ERR_ARG);
    ad_node *dup[] = {g.a, g.a};
    assert_int_equal(ad_backward_block(g.ctx, g.y, ROWS, cot, 2, dup, grads), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "is listed twice"));
    ad_node *foreign[] = {g.a, h.b};
    assert_int_equal(ad_backward_block(g.ctx, g.y, ROWS, cot, 2, foreign, grads), AD_ERR_STATE);
    assert_non_null(strstr(ad_last_error(), "node 1 of the list does not belong to this context"));
    ad_node *constant[] = {g.a, g.c};
    assert_int_equal(ad_backward_block(g.ctx, g.y, ROWS, cot, 2, constant, grads), AD_ERR_STATE);
    assert_non_null(strstr(ad_last_error(), "does not require grad"));
    void *no_buf[] = {ga, NULL};
    assert_int_equal(ad_backward_block(g.ctx, g.y, ROWS, cot, 2, wrt, no_buf), AD_ERR_ARG);
    assert_int_equal(ad_backward_block(g.ctx, h.y, ROWS, cot, 2, wrt, grads), AD_ERR_STATE);
    assert_non_null(strstr(ad_last_error(), "does not belong to this context"));
    ad_context_free(h.ctx);
    ad_context_free(g.ctx);
}

/* Finite checking names the op and the row of the block. */
static void test_check_finite_names_the_row(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_set_check_finite(ctx, true);
    int64_t s2[] = {2};
    double xv[] = {4, 0};
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 1, s2, xv);
    ad_node *y = ad_sqrt(ctx, x);   /* sqrt'(0) = inf */
    double cot[] = {1, 0, 1, 1}, gx[4] = {0};   /* row 0 has 0 where sqrt' is inf: 0·inf = NaN too */
    ad_node *wrt[] = {x};
    void *grads[] = {gx};
    assert_int_equal(ad_backward_block(ctx, y, 2, cot, 1, wrt, grads), AD_ERR_NONFINITE);
    assert_non_null(strstr(ad_last_error(), "sqrt: its vjp for input 0 made"));
    assert_non_null(strstr(ad_last_error(), "cotangent 0 of the block"));
    ad_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_equals_one_at_a_time), cmocka_unit_test(test_leaf_output_and_unasked_leaves),
        cmocka_unit_test(test_gemm_ops_stack_rows), cmocka_unit_test(test_random_graphs),
        cmocka_unit_test(test_misuse_refused), cmocka_unit_test(test_intermediate_listed_first),
        cmocka_unit_test(test_check_finite_names_the_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
