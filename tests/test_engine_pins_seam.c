/* test_engine_pins_seam.c: the engine where the core meets the fast path
 * (core/ad_fast_seam.h) and node memory, each pinned for a change the other
 * tests let through: an accessor that reads a record in place and only at
 * index 0, the general path's checks of an op the scalar path hands it (no
 * op, no name, no forward, no shape rule), a block of cotangents from a leaf
 * that was not asked for, zero-byte arena blocks, node memory made ready
 * a window ahead of the nodes and unmapped when freed, backward on a freed
 * context, and a three-input op with (two-input) scalar kernels. Expected numbers come from the math (small
 * integers: exact in float64). White box where it must be: ad_internal.h and
 * fast/fast_internal.h for the ready range, node chunks and records. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "ad_test.h"
#include "ad_test_error.h"
#include "autodidact.h"
#include "ad_test_op.h"
#include "engine/fast/fast_internal.h"

/* x = 2 (a record), y = x·x: dy/dx = 2x = 4. The scalar accessors read x's
 * record in place at index 0 (x stays a record: nothing materialized it), and
 * refuse index 1 as any node of one element does, with the same message. */
static void test_record_read_in_place_at_index_0_only(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 2.0), *y = ad_mul(ctx, x, x);
    assert_true(ad_is_fast_handle(x) && ad_is_fast_handle(y));
    assert_int_equal(ad_backward(ctx, y), AD_OK);
    uint32_t id = ad_node_id(x);
    assert_true(ad_grad_at(x, 0) == 4.0);
    assert_true(ad_value_at(x, 0) == 2.0);
    assert_true(compact_rec(ctx, id) != NULL);   /* read in place */
    ad_clear_error();
    assert_true(isnan(ad_grad_at(x, 1)));
    assert_error(AD_ERR_ARG, "grad_at: index 1 is outside node #0's 1 elements");
    assert_true(isnan(ad_value_at(x, 1)));
    assert_error(AD_ERR_ARG, "value_at: index 1 is outside node #0's 1 elements");
    assert_true(ad_grad_at(x, 0) == 4.0);   /* the same number from the full node */
    ad_context_free(ctx);
}

/* The general path names the op in its messages, "apply" where there is no
 * op or the op has no name; a call of no inputs is refused, and so is
 * forward mode through an op without a jvp; an elementwise op without a forward or a shape
 * rule (so without scalar kernels) is refused there, never run by the scalar
 * path on 0-d inputs. */
static void test_general_path_checks_what_the_scalar_path_hands_it(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *a = ad_scalar(ctx, 1.0), *b = ad_scalar(ctx, 2.0);
    ad_node *in[3] = {a, b, a};
    ad_clear_error();
    assert_null(ad_apply(ctx, NULL, in, 2, NULL));
    assert_error(AD_ERR_ARG, "apply: op is NULL");
    ad_op nameless = ad_op_add;
    nameless.name = NULL;
    assert_null(ad_apply(ctx, &nameless, in, 3, NULL));
    assert_error(AD_ERR_ARG, "apply: takes 2 to 2 inputs, 3 given");
    /* an op that claims to take no inputs (the registry refuses one; a call
     * may still hand it to ad_apply): refused before an input is read */
    ad_op nullary = ad_op_relu;
    nullary.name = "nullary";
    nullary.n_in = nullary.n_in_min = 0;
    assert_null(ad_apply(ctx, &nullary, in, 0, NULL));
    assert_error(AD_ERR_ARG, "nullary: an op call takes 1 to 3 inputs, 0 given");
    assert_null(ad_apply(ctx, &nullary, NULL, 0, NULL));
    assert_error(AD_ERR_ARG, "nullary: an op call takes 1 to 3 inputs, 0 given");
    /* forward mode through an op without a jvp: refused by name, only where
     * a tangent reaches it (the same op on inputs without one is fine) */
    ad_context *fwd = ad_context_new();
    assert_int_equal(ad_forward_dirs(fwd, 1), AD_OK);
    ad_node *t = ad_scalar(fwd, 2.0), *u = ad_scalar(fwd, 3.0);
    assert_int_equal(ad_set_tangent(t, 0, (const double[]){1}, -1), AD_OK);
    ad_op no_jvp = ad_op_mul;
    no_jvp.name = "mul_without_jvp";
    no_jvp.cpu.jvp = NULL;
    assert_null(ad_apply(fwd, &no_jvp, (ad_node *const[]){t, u}, 2, NULL));
    assert_error(AD_ERR_ARG, "mul_without_jvp: the op has no jvp, so forward mode cannot pass through it");
    ad_node *uu = ad_apply(fwd, &no_jvp, (ad_node *const[]){u, u}, 2, NULL);
    assert_non_null(uu);
    assert_true(ad_value_scalar(uu) == 9.0);
    ad_context_free(fwd);
    /* on a record, and on a full 0-d node (which the scalar path would make
     * a full node from, had it not refused) */
    ad_node *full = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){1.0});
    for (int which = 0; which < 4; which++) {
        ad_op broken = ad_op_relu;
        broken.scalar = NULL;   /* not for records: the scalar path's own checks decide */
        if (which % 2 == 0) broken.cpu.forward = NULL;
        else broken.infer = NULL;
        assert_null(ad_apply(ctx, &broken, which < 2 ? in : &full, 1, NULL));
        assert_error(AD_ERR_ARG, "relu: the op has no shape rule or no forward");
    }
    ad_context_free(ctx);
}

/* A block of cotangents from output x, a leaf, with only w asked for (which
 * x does not depend on): nothing to do, w's rows stay 0, and x's cotangents
 * go nowhere (x was not asked for). */
static void test_block_from_a_leaf_not_asked_for(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 3.0), *w = ad_scalar(ctx, 5.0);
    double cot[2] = {1.0, 2.0}, gw[2] = {0, 0};
    assert_int_equal(ad_backward_block(ctx, x, 2, cot, 1, &w, (void *const[]){gw}), AD_OK);
    assert_true(gw[0] == 0.0 && gw[1] == 0.0);
    double gx[2] = {0, 0};   /* asked for itself: its rows are the cotangents */
    assert_int_equal(ad_backward_block(ctx, x, 2, cot, 1, &x, (void *const[]){gx}), AD_OK);
    assert_true(gx[0] == 1.0 && gx[1] == 2.0);
    ad_context_free(ctx);
}

/* Zero bytes from the arena are a block of their own (32 bytes, the
 * arena's alignment), as malloc(0)'s pointers are distinct: two such blocks
 * never share an address, nor share one with the next block. */
static void test_arena_zero_bytes(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    char *a = ad_arena_alloc(ctx, 0), *b = ad_arena_alloc(ctx, 0), *c = ad_arena_alloc(ctx, 8);
    assert_non_null(a);
    assert_int_equal(b - a, 32);
    assert_int_equal(c - b, 32);
    ad_context_free(ctx);
}

/* Can this kernel populate memory ahead (MADV_POPULATE_WRITE, Linux 5.14)? */
static bool kernel_populates(void)
{
    long page = sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    bool ok = madvise(p, (size_t)page, MADV_POPULATE_WRITE) == 0;
    munmap(p, (size_t)page);
    return ok;
}

/* Full nodes (the fast path off) through chunk 5: chunks 4 (16,384 nodes
 * of 168 bytes) and 5 (32,768) are over NODE_MAP_MIN, so mmap'd and
 * populated NODE_POPULATE bytes (4 MiB) at a time: chunk 5 in two windows,
 * the second from the node that straddles 4 MiB on. Every node is made
 * inside the ready range its slow path set (memory allocated and
 * populated, never written past it); and at the first node of each mmap'd chunk the
 * window node_memory.c says it populated is resident, every page of it,
 * before any node there but the first is written (populated ahead, not
 * faulted in one page at a time). */
static void test_node_memory_ready_ahead(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_set_fast_path(ctx, false);
    const uint32_t end = NODE_CHUNK0 * ((1u << 6) - 1u);   /* chunk 5's end */
    bool populates = kernel_populates();
    for (uint32_t i = 0; i < end; i++) {
        assert_non_null(ad_scalar(ctx, 1.0));
        if (ctx->ready_hi < ctx->n_nodes || ctx->ready_lo > i) {   /* node i was made inside the ready range */
            print_error("after node #%u: ready range [%u, %u)\n", i, ctx->ready_lo, ctx->ready_hi);
            fail();
        }
        uint32_t off, k = node_chunk_index(i, &off);
        if (off != 0 || k < 4) continue;
        const node_chunk_mem *m = &fast_of(ctx)->chunk_mem[k];
        assert_non_null(m->map);   /* mmap'd: the chunk is over NODE_MAP_MIN */
        if (!populates) continue;
        long page = sysconf(_SC_PAGESIZE);
        size_t pages = m->populated / (size_t)page;
        assert_true(pages > 1);
        unsigned char *resident = malloc(pages);
        assert_int_equal(mincore(ctx->node_chunk[k], m->populated, resident), 0);
        for (size_t p = 0; p < pages; p++)
            if (!(resident[p] & 1)) {
                print_error("chunk %u: page %zu of %zu of the populated window is not resident\n", k, p, pages);
                fail();
            }
        free(resident);
    }
    ad_context_free(ctx);
}

/* backward on a freed context, given a record's handle: refused by name,
 * before anything of the context is read. */
static void test_backward_on_a_freed_context(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 2.0), *y = ad_mul(ctx, x, x);
    assert_true(ad_is_fast_handle(y));
    ad_context_free(ctx);
    assert_int_equal(ad_backward(ctx, y), AD_ERR_STATE);
    assert_error(AD_ERR_STATE, "backward: the context is not live (already freed, or not made by ad_context_new)");
}

/* map (len bytes, mapped now) is unmapped once ctx is freed: mincore finds
 * no page of it (checked every 97th page). `what` names it in the failure. */
static void free_and_assert_unmapped(ad_context *ctx, void *map, size_t len, const char *what)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned char vec[1];
    assert_int_equal(mincore(map, (size_t)page, vec), 0);   /* mapped now */
    ad_context_free(ctx);
    for (size_t off = 0; off < len; off += (size_t)page * 97) {
        errno = 0;
        if (mincore((char *)map + off, (size_t)page, vec) != -1 || errno != ENOMEM)
            fail_msg("byte %zu of %s mapping (%zu bytes) is still mapped", off, what, len);
    }
}

/* Node memory mapped with mmap (chunks of NODE_MAP_MIN bytes and more) is
 * unmapped when the context is freed: all of it (mincore then finds no page
 * there), not leaked as a mapping no tool counts. */
static void test_node_memory_unmapped_on_free(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    fast_state *f = fast_of(ctx);
    int64_t one[1] = {1};
    for (int i = 0; i < 200000 && (ctx->n_node_chunks == 0 || !f->chunk_mem[ctx->n_node_chunks - 1].map); i++)
        assert_non_null(ad_variable(ctx, AD_FLOAT64, 1, one, NULL));
    int k = ctx->n_node_chunks - 1;
    void *map = f->chunk_mem[k].map;
    size_t len = f->chunk_mem[k].map_len;
    assert_non_null(map);
    assert_true(len >= NODE_MAP_MIN);
    free_and_assert_unmapped(ctx, map, len, "the node chunk's");
}

/* The same for the records' memory: scalar leaves until a record chunk is
 * mapped (NODE_MAP_MIN bytes of 32-byte records), then freed with the
 * context, every page of it. */
static void test_record_memory_unmapped_on_free(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_set_fast_path(ctx, true);   /* (whatever AD_FAST says) */
    fast_state *f = fast_of(ctx);
    int k = -1;
    for (int i = 0; i < 400000 && k < 0; i++) {
        assert_non_null(ad_scalar(ctx, 1.0));
        for (int j = 0; j < MAX_NODE_CHUNKS && k < 0; j++)
            if (f->rec_map_len[j]) k = j;
    }
    assert_true(k >= 0);
    void *map = f->rec_chunk[k];
    size_t len = f->rec_map_len[k];
    free_and_assert_unmapped(ctx, map, len, "the record chunk's");
}

/* A registered op of three inputs with scalar kernels (which take two: the
 * scalar path is for one- and two-input ops): its 0-d node's step of the
 * push sweep goes through its vjp, so the third input gets its gradient.
 * y = a·b + c: dy/dc = 1, which the scalar kernels cannot say. A third
 * input dropped by a rewind is refused, named. */
static void abc_vjp(const ad_node *o, int slot, int rows, const void *g, void *gin)
{
    (void)rows;
    double a = ad_tensor_get(&o->in[0]->value, 0), b = ad_tensor_get(&o->in[1]->value, 0);
    ((double *)gin)[0] += ((const double *)g)[0] * (slot == 0 ? b : slot == 1 ? a : 1);
}
static void test_three_input_op_with_scalar_kernels(void **state)
{
    (void)state;
    const ad_op abc = {.name = "abc", .summary = "a·b + c", .n_in = 3, .n_in_min = 3, .flags = AD_OP_ELEMENTWISE,
                       .infer = ad_test_0d_infer, .cpu = {ad_test_ab_plus_c_fwd, abc_vjp, NULL},
                       .scalar = &ad_test_ab_scalar};
    /* inputs as records (ad_scalar: the general path makes y) and as full
     * 0-d variables (the scalar path makes y, a full node, itself) */
    for (int full = 0; full < 2; full++) {
        ad_context *ctx = ad_context_new();
        const double v[3] = {2.0, 5.0, 7.0};
        ad_node *in[3];
        for (int s = 0; s < 3; s++) in[s] = full ? ad_variable(ctx, AD_FLOAT64, 0, NULL, &v[s]) : ad_scalar(ctx, v[s]);
        assert_true(ad_is_fast_handle(in[0]) == !full);
        ad_node *y = ad_apply(ctx, &abc, in, 3, NULL);
        assert_non_null(y);
        assert_true(ad_value_scalar(y) == 17.0);
        assert_int_equal(ad_backward(ctx, y), AD_OK);
        assert_true(ad_grad_scalar(in[0]) == 5.0);
        assert_true(ad_grad_scalar(in[1]) == 2.0);
        assert_true(ad_grad_scalar(in[2]) == 1.0);
        /* a third input dropped by a rewind: refused by name, whichever path
         * looked at it first */
        ad_mark m = ad_context_mark(ctx);
        ad_node *c = full ? ad_variable(ctx, AD_FLOAT64, 0, NULL, &v[2]) : ad_scalar(ctx, v[2]);
        assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
        ad_clear_error();
        assert_null(ad_apply(ctx, &abc, (ad_node *const[]){in[0], in[1], c}, 3, NULL));
        assert_int_equal(ad_last_status(), AD_ERR_STATE);
        if (!strstr(ad_last_error(), "abc: input 2")) fail_msg("%s", ad_last_error());
        ad_context_free(ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_read_in_place_at_index_0_only),
        cmocka_unit_test(test_general_path_checks_what_the_scalar_path_hands_it),
        cmocka_unit_test(test_block_from_a_leaf_not_asked_for),
        cmocka_unit_test(test_arena_zero_bytes),
        cmocka_unit_test(test_node_memory_ready_ahead),
        cmocka_unit_test(test_backward_on_a_freed_context),
        cmocka_unit_test(test_node_memory_unmapped_on_free),
        cmocka_unit_test(test_record_memory_unmapped_on_free),
        cmocka_unit_test(test_three_input_op_with_scalar_kernels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
