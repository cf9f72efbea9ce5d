/* backward_block.c: many cotangents through one reverse sweep.
 *
 * gradcheck builds a whole Jacobian J (m rows, one per output element) by
 * reverse mode: row i is the vjp of the unit cotangent e_i. Instead of m
 * backward passes, ad_backward_block sends all m cotangents at once: every
 * node that the output depends on gets a buffer of m gradient rows, and each
 * vjp is called once with rows = m (kernels take a block of rows; see
 * ad_kernel.h). The sweep is the push variant's (backward.c), over buffers
 * the block owns instead of the nodes' grads. */
#include <stdlib.h>
#include <string.h>
#include "ad_device.h"
#include "ad_internal.h"
#include "ad_kernel.h"

/* The block's buffers: one per node id in [lo, y] that the pass touches
 * (rows times the node's size): the caller's grads for the leaves asked for,
 * zeroed scratch for nodes with an op, NULL for what needs none. */
static ad_status block_sweep(ad_context *ctx, ad_node *y, int rows, const void *cotangents, int n_wrt,
                             ad_node *const *wrt, void *const *grads);

typedef struct block_bufs {
    uint32_t lo;
    void **buf;
    bool *scratch;
} block_bufs;

static size_t row_bytes(const ad_node *n) { return (size_t)n->value.size * ad_dtype_size((ad_dtype)n->value.dtype); }

static void *scratch_new(const ad_node *n, size_t bytes)
{
    if (n->value.device == AD_CUDA) {
        void *p = ad_gpu_malloc(bytes);
        if (p && ad_gpu_memzero(p, bytes) != AD_OK) {
            ad_gpu_free(p);
            p = NULL;
        }
        return p;
    }
    void *p = calloc(1, bytes);
    if (!p) ad_fail(AD_ERR_NOMEM, "backward_block: out of memory for a block of %zu bytes (node #%u)", bytes, n->id);
    return p;
}

/* dst += src: `count` elements of n's dtype, on n's device (ad_internal.h). */
ad_status ad_buffer_add(const ad_node *n, void *dst, const void *src, int64_t count)
{
    if (n->value.device == AD_CUDA) return ad_gpu_add_into((ad_dtype)n->value.dtype, dst, src, count);
    AD_DISPATCH(n->value.dtype, {
        T *D = dst;
        const T *S = src;
        for (int64_t i = 0; i < count; i++) D[i] += S[i];
    });
    return AD_OK;
}

static void block_free(ad_context *ctx, block_bufs *b, uint32_t hi)
{
    for (uint32_t id = b->lo; b->buf && b->scratch && id <= hi; id++) {
        if (!b->scratch[id - b->lo]) continue;
        if (node_at(ctx, id)->value.device == AD_CUDA) ad_gpu_free(b->buf[id - b->lo]);
        else free(b->buf[id - b->lo]);
    }
    free(b->buf);
    free(b->scratch);
}

ad_status ad_backward_block(ad_context *ctx, ad_node *handle, int rows, const void *cotangents, int n_wrt,
                            ad_node *const *wrt_handles, void *const *grads)
{
    ad_node *y;
    ad_status st = ad_check_output(ctx, handle, "backward_block", &y);
    if (st != AD_OK) return st;
    if (rows < 1 || !cotangents || n_wrt < 1 || !wrt_handles || !grads)
        return ad_fail(AD_ERR_ARG, "backward_block: needs rows >= 1 (got %d), the cotangents, and 1 or more nodes "
                       "with their grads (got %d)", rows, n_wrt);
    ad_node **wrt = malloc((size_t)n_wrt * sizeof *wrt);   /* the nodes behind the handles */
    if (!wrt) return ad_fail(AD_ERR_NOMEM, "backward_block: out of memory for a list of %d nodes", n_wrt);
    st = ad_check_wrt(ctx, "backward_block", n_wrt, wrt_handles, grads, "grad", wrt);
    if (st == AD_OK) st = block_sweep(ctx, y, rows, cotangents, n_wrt, wrt, grads);
    free(wrt);
    return st;
}

/* ad_backward_block's pass, its arguments checked (wrt: nodes, not handles). */
static ad_status block_sweep(ad_context *ctx, ad_node *y, int rows, const void *cotangents, int n_wrt,
                             ad_node *const *wrt, void *const *grads)
{
    ad_status st = AD_OK;
    /* 1. What y depends on through nodes that want grads: ids in [lo, y]. */
    uint32_t epoch = ad_next_epoch(ctx), lo;
    y->mark = epoch;
    if ((st = ad_mark_inputs(ctx, y, epoch, false, "backward_block", &lo)) != AD_OK) return st;
    /* 2. Buffers. rows·size must fit: the largest node bounds them all. */
    uint32_t span = y->id + 1 - lo;
    block_bufs b = {lo, calloc(span, sizeof(void *)), calloc(span, sizeof(bool))};
    if (!b.buf || !b.scratch) {
        block_free(ctx, &b, lo);
        return ad_fail(AD_ERR_NOMEM, "backward_block: out of memory for %u buffers", span);
    }
    for (int i = 0; i < n_wrt; i++)
        if (!wrt[i]->op && wrt[i]->mark == epoch) b.buf[wrt[i]->id - lo] = grads[i];
    for (uint32_t id = lo; id < y->id && st == AD_OK; id++) {   /* (y's rows are the cotangents: below) */
        ad_node *n = node_at(ctx, id);
        if (n->mark != epoch || !n->op) continue;
        size_t bytes;
        if (__builtin_mul_overflow(row_bytes(n), (size_t)rows, &bytes))
            st = ad_fail(AD_ERR_ARG, "backward_block: %d rows of node #%u (%lld elements) overflow memory", rows, id,
                         (long long)n->value.size);
        else if (!(b.buf[id - lo] = scratch_new(n, bytes))) st = ad_last_status();
        else b.scratch[id - lo] = true;
    }
    /* 3. y's rows are the cotangents themselves: a vjp only reads its output's
     * (for a leaf y asked for, they are added into its grads). Then the sweep,
     * as the push variant's, each vjp taking the whole block. */
    if (st == AD_OK && y->op) b.buf[y->id - lo] = (void *)cotangents;
    else if (st == AD_OK && b.buf[y->id - lo]) st = ad_buffer_add(y, b.buf[y->id - lo], cotangents, (int64_t)rows * y->value.size);
    for (uint32_t id = y->id + 1; st == AD_OK && id-- > lo;) {
        ad_node *n = node_at(ctx, id);
        if (n->mark != epoch || !n->op) continue;
        const ad_op_kernels *k = ad_kernels_of(n);
        for (int s = 0; s < n->n_in && st == AD_OK; s++) {
            ad_node *in = n->in[s];
            void *gin = node_wants_grad(in) ? b.buf[in->id - lo] : NULL;
            if (!gin) continue;   /* a leaf not asked for */
            k->vjp(n, s, rows, b.buf[id - lo], gin);
            st = ad_device_status(n, s);
            if (st == AD_OK && ctx->check_finite) st = ad_check_finite_grad(n, s, rows, b.buf[id - lo], gin);
        }
    }
    /* 4. Nodes with an op that were asked for: their rows into the caller's grads. */
    for (int i = 0; i < n_wrt && st == AD_OK; i++)
        if (wrt[i]->op && wrt[i]->mark == epoch)
            st = ad_buffer_add(wrt[i], grads[i], b.buf[wrt[i]->id - lo], (int64_t)rows * wrt[i]->value.size);
    block_free(ctx, &b, y->id);
    return st;
}
