/* scalar_path.c: the fast path for scalar graphs. An elementwise op with
 * scalar kernels (ad_op.h) on 0-d CPU inputs makes a compact node: a
 * 32-byte record (scalar_rec, fast_internal.h) in record chunks beside the
 * node chunks, where a full node is 168 bytes; ad_scalar and
 * ad_scalar_const make compact leaves. A record is written out as a full
 * node ("materialized") when anything other than the scalar path, the push
 * sweep, zero_grad or the scalar accessors asks for it. The way in is
 * ad_apply (at the end of this file) and ad_scalar_leaf, and only while the
 * context's fast path is on (ad_set_fast_path): with it off every op takes
 * core/apply.c's general path, which gives the same numbers bit for bit
 * (tests/test_fast_path.c). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "fast_internal.h"

/* scalar_path_apply's view of an input: its full node (NULL for a compact one),
 * its id and its value. */
typedef struct scalar_arg {
    ad_node *full;
    uint32_t id;
    double v;
} scalar_arg;
/* beside the node flags in scalar_path_apply's all/any: a compact input; a full
 * input 0 or 1 (shifted down, REC_IN0_FULL and REC_IN1_FULL) */
enum { ARG_COMPACT = 1u << 8, ARG_FULL0 = REC_IN0_FULL << 5, ARG_FULL1 = REC_IN1_FULL << 5 };

/* off / sizeof(ad_node) for an offset within a chunk (below 2^40), by a
 * multiply: GCC emits a 64-bit div (about 40 cycles) for the division here. */
static inline uint32_t node_index_at(uintptr_t off)
{
#ifdef __SIZEOF_INT128__
    const uint64_t recip = UINT64_MAX / sizeof(ad_node) + 1;   /* exact for off < 2^40: the error is below 2^-24 */
    return (uint32_t)(((unsigned __int128)off * recip) >> 64);
#else
    return (uint32_t)(off / sizeof(ad_node));
#endif
}
static inline size_t chunk_node_bytes(int k) { return ((size_t)NODE_CHUNK0 << k) * sizeof(ad_node); }
static inline uint32_t chunk_first_id(int k) { return (uint32_t)NODE_CHUNK0 * ((1u << k) - 1u); }

/* The node behind handle h if it is one of ctx's, live; its flags (with
 * ARG_COMPACT for a compact one) and-ed into *all and or-ed into *any.
 * false otherwise. Which chunk: the last one found (chunk_hint), then
 * the newest, then the others. */
static inline __attribute__((always_inline)) bool scalar_input(ad_context *ctx, const ad_node *h, scalar_arg *a,
                                                               unsigned *all, unsigned *any, unsigned full_bit)
{
    fast_state *f = fast_of(ctx);
    ad_node *x = ad_node_addr(h);
    unsigned tag = ad_handle_tag(h);
    if ((uintptr_t)h & 1) {   /* a compact node's record: the newest first */
        const scalar_rec *r = (const scalar_rec *)x;
        uintptr_t off = (uintptr_t)r - (uintptr_t)f->compact_ready_rec;   /* wraps when below */
        bool inside;
        if (off < f->compact_ready_bytes && off % sizeof(scalar_rec) == 0) {
            a->id = f->compact_ready_lo + (uint32_t)(off / sizeof(scalar_rec));
        } else if (!rec_in_chunk(ctx, r, f->rec_hint, &a->id, &inside)) {   /* the chunk of the last one */
            /* then the others, by a loop of its own: calling rec_locate here
             * made every op 1 ns slower (GCC laid the hot path out worse) */
            if (inside) return false;
            int k = ctx->n_node_chunks - 1;
            while (k >= 0 && !(rec_in_chunk(ctx, r, k, &a->id, &inside), inside)) k--;
            if (k < 0 || !rec_in_chunk(ctx, r, k, &a->id, &inside)) return false;
            f->rec_hint = k;
        }
        if (a->id >= ctx->n_nodes) return false;
        if (r->gen) {
            if (tag != 0 && tag != r->gen) return false;   /* dropped: the general path says so */
            bool f32 = (r->flags & REC_F32) != 0;
            unsigned f = ARG_COMPACT | AD_NODE_SCALAR | (f32 ? AD_NODE_F32 : 0) |
                         (rec_wants_grad(r) ? AD_NODE_REQUIRES_GRAD : 0);
            *all &= f;
            *any |= f;
            a->full = NULL;
            a->v = f32 ? (double)r->value.f32 : r->value.f64;
            return true;
        }
        x = node_at(ctx, a->id);   /* materialized since: its full node */
    } else {
        if (!x) return false;
        int k = f->chunk_hint;
        uintptr_t off = (uintptr_t)x - (uintptr_t)ctx->node_chunk[k];   /* wraps when below: one compare */
        if (__builtin_expect(off >= chunk_node_bytes(k), 0)) {
            for (k = ctx->n_node_chunks - 1; k >= 0; k--) {
                off = (uintptr_t)x - (uintptr_t)ctx->node_chunk[k];
                if (off < chunk_node_bytes(k)) break;
            }
            if (k < 0) return false;
            f->chunk_hint = k;
        }
        uint32_t q = node_index_at(off);
        if ((uintptr_t)q * sizeof(ad_node) != off) return false;
        a->id = chunk_first_id(k) + q;
        if (a->id >= ctx->n_nodes) return false;
    }
    if (tag != 0 && tag != x->gen) return false;
    *all &= x->flags;
    *any |= x->flags | full_bit;
    a->full = x;
    a->v = scalar_value(x);   /* (meaningless unless AD_NODE_SCALAR, which the caller checks) */
    return true;
}

/* Can op make compact nodes: an elementwise op without params, with scalar
 * kernels, its forward and infer, on one or two CPU inputs? */
static bool op_compact_capable(const ad_op *op)
{
    return (op->flags & (AD_OP_ELEMENTWISE | AD_OP_PARAMS | AD_OP_TO_CUDA | AD_OP_TO_CPU)) == AD_OP_ELEMENTWISE &&
           op->scalar && op->infer && op->cpu.forward && op->n_in_min >= 1 && op->n_in_min <= 2;
}
/* op's number among the context's scalar ops (1...) if it can make compact
 * nodes with n_in inputs, else 0: a cache by address (an op is checked once
 * per context), then the list. */
static __attribute__((noinline)) int scalar_op_index_slow(ad_context *ctx, const ad_op *op, unsigned slot, int n_in)
{
    fast_state *f = fast_of(ctx);
    if (!op_compact_capable(op)) return 0;
    int i = 0;
    while (i < f->n_scalar_ops && f->scalar_ops[i] != op) i++;
    if (i == f->n_scalar_ops) {
        if (i == MAX_SCALAR_OPS) return 0;
        f->scalar_ops[f->n_scalar_ops++] = op;
    }
    f->scalar_op_cache[slot].op = op;
    f->scalar_op_cache[slot].index = (uint8_t)(i + 1);
    f->scalar_op_cache[slot].n_in_min = (uint8_t)op->n_in_min;
    f->scalar_op_cache[slot].n_in_max = (uint8_t)(op->n_in < 2 ? op->n_in : 2);
    return n_in >= op->n_in_min && n_in <= f->scalar_op_cache[slot].n_in_max ? i + 1 : 0;
}
static inline int scalar_op_index(ad_context *ctx, const ad_op *op, int n_in)
{
    fast_state *f = fast_of(ctx);
    unsigned slot = (unsigned)((uintptr_t)op >> 6) % SCALAR_OP_CACHE;   /* (ops are over 64 bytes apart) */
    if (f->scalar_op_cache[slot].op == op)
        return n_in >= f->scalar_op_cache[slot].n_in_min && n_in <= f->scalar_op_cache[slot].n_in_max
                   ? f->scalar_op_cache[slot].index
                   : 0;
    return scalar_op_index_slow(ctx, op, slot, n_in);
}

/* The slow path of making a compact node: node `id`'s chunk and its record
 * chunk allocated (not populated: a record is written where it is made, and
 * the node memory only if it is materialized), the ready range set. false
 * (the general path then makes a full node, or says why it cannot). */
static __attribute__((noinline)) bool compact_prepare(ad_context *ctx, uint32_t id)
{
    fast_state *f = fast_of(ctx);
    if (id == UINT32_MAX) return false;
    uint32_t off, k = node_chunk_index(id, &off);
    if (ad_node_chunk_ensure(ctx, k, id, "apply") != AD_OK) return false;
    if (!f->rec_chunk[k]) {
        size_t bytes = ((size_t)NODE_CHUNK0 << k) * sizeof(scalar_rec);
        scalar_rec *c;
        if (bytes < NODE_MAP_MIN) {
            c = calloc(1, bytes);
        } else {
            c = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (c == MAP_FAILED) c = NULL;
            else f->rec_map_len[k] = bytes;
        }
        if (!c) return false;
        f->rec_chunk[k] = c;
    }
    /* An mmap'd record chunk is populated a window at a time just ahead of
     * the records made (MADV_POPULATE_WRITE: one call, not a fault a page;
     * refused by kernels before 5.14, when the pages fault in one by one). */
    uint32_t cap = (uint32_t)NODE_CHUNK0 << k, hi = cap;
    if (f->rec_map_len[k]) {
        size_t need = ((size_t)off + 1) * sizeof(scalar_rec), done = f->rec_populated[k];
        if (done < need) {
            /* from the window that holds the record: the ids before it may be
             * full nodes' (bench_scalar's leaves fill most of the chunk its
             * first compact node is made in), whose records stay unwritten */
            size_t from = (need - sizeof(scalar_rec)) & ~(size_t)(REC_POPULATE - 1);
            if (from < done) from = done;
            size_t end = (from + REC_POPULATE) & ~(size_t)(REC_POPULATE - 1);
            if (end > f->rec_map_len[k]) end = f->rec_map_len[k];
            madvise((char *)f->rec_chunk[k] + from, end - from, MADV_POPULATE_WRITE);
            f->rec_populated[k] = done = end;
        }
        hi = (uint32_t)(done / sizeof(scalar_rec));
    }
    f->compact_ready_lo = chunk_first_id((int)k);
    f->compact_ready_hi = f->compact_ready_lo + hi;
    f->compact_ready_bytes = (size_t)hi * sizeof(scalar_rec);
    /* what the fast path then need not do per node: the bounds that
     * compact_rec and materialization go by, and (after a rewind past full
     * nodes) stale node memory from here on, whose gen would match an old
     * handle, cleared */
    if (ctx->rec_hi < f->compact_ready_hi) ctx->rec_hi = f->compact_ready_hi;
    if (ctx->compact_lo > id) ctx->compact_lo = id;
    for (uint32_t j = id; j < ctx->node_written_hi; j++) node_at(ctx, j)->gen = 0;
    if (ctx->node_written_hi > id) ctx->node_written_hi = id;
    f->compact_ready_rec = f->rec_chunk[k];
    return true;
}

/* The record of the next node, made ready (compact_prepare); NULL where
 * none can be (the caller makes a full node instead). */
static inline __attribute__((always_inline)) scalar_rec *compact_next(ad_context *ctx)
{
    fast_state *f = fast_of(ctx);
    uint32_t id = ctx->n_nodes;
    if ((id < f->compact_ready_lo || id >= f->compact_ready_hi) && !compact_prepare(ctx, id)) return NULL;
    return f->compact_ready_rec + (id - f->compact_ready_lo);
}

/* ad_scalar and ad_scalar_const: a compact leaf (float64, on the CPU), in a
 * live context that is not checking finiteness and not in forward mode;
 * NULL otherwise (the caller makes a full one). A variable's grad is there
 * from the start, 0, and lives as long as it (as a full variable's). */
ad_node *ad_scalar_leaf(ad_context *ctx, double v, bool variable)
{
    if (!ctx->fast || ctx->check_finite || ctx->dirs > 0) return NULL;
    scalar_rec *r = compact_next(ctx);
    if (!r) return NULL;
    r->mark = 0;
    r->flags = (uint8_t)(REC_LEAF | (variable ? REC_VARIABLE | REC_HAS_GRAD : 0));
    r->op = 0;
    r->gen = ctx->gen;
    r->in[0] = r->in[1] = 0;
    r->value.f64 = v;
    r->grad.f64 = 0;
    leaf_made(ctx, ctx->n_nodes++);
    return compact_handle(r, r->gen);
}

/* The scalar path: an elementwise op without params on 0-d CPU inputs of one
 * dtype, in a context that is live (the thread's cached one), not checking
 * finiteness and not in forward mode. An op with scalar kernels on one or
 * two inputs makes a compact node (a 32-byte record: scalar_rec); any other
 * makes the full node ad_apply's general path would make. Only the checks
 * that can fail here are made, and only the inputs' first 64 bytes (flags and
 * inline values) or records are read. Anything else (an error to report
 * included, and a compact input to a full node, which the general path
 * materializes) returns false and takes the general path. Sets *out, a
 * handle (NULL if the op's forward failed), when it returns true. */
static bool scalar_path_apply(ad_context *ctx, const ad_op *op, ad_node *const *in, int n_in, ad_node **out)
{
    if (!ad_context_is_cached(ctx) ||
        !ctx->fast || ctx->check_finite || ctx->dirs > 0 || !in)
        return false;
    int op_index = scalar_op_index(ctx, op, n_in);   /* > 0: the op (checked) makes compact nodes */
    unsigned kind = op->flags & (AD_OP_ELEMENTWISE | AD_OP_PARAMS | AD_OP_TO_CUDA | AD_OP_TO_CPU);
    if (!op_index && (kind != AD_OP_ELEMENTWISE || n_in < op->n_in_min || n_in > op->n_in || n_in < 1 ||
                      n_in > AD_MAX_INPUTS || !op->infer || !op->cpu.forward))
        return false;
    unsigned all = ~0u, any = 0;
    /* in three variables and not an array: the array's two 8-byte stores read
     * back as one 16-byte load (to copy them into the node) cannot be
     * forwarded, which cost 3 ns an op */
    scalar_arg a0, a1 = {NULL, 0, 0}, a2 = {NULL, 0, 0};
    if (!scalar_input(ctx, in[0], &a0, &all, &any, ARG_FULL0) ||
        (n_in > 1 && !scalar_input(ctx, in[1], &a1, &all, &any, ARG_FULL1)) ||
        (n_in > 2 && !scalar_input(ctx, in[2], &a2, &all, &any, 0)))
        return false;
    /* every input 0-d on the CPU, and float32 all of them or none */
    if (!(all & AD_NODE_SCALAR) || ((all ^ any) & AD_NODE_F32)) return false;
    bool recording = ctx->grad_enabled && (any & AD_NODE_REQUIRES_GRAD);
    bool f32 = (any & AD_NODE_F32) != 0;
    if (op_index > 0) {   /* a compact node */
        scalar_rec *r = compact_next(ctx);
        if (!r) return false;
        double y = op->scalar->f(a0.v, n_in > 1 ? a1.v : 0);   /* rounded to the dtype as the op's forward does */
        r->mark = 0;
        r->flags = (uint8_t)((f32 ? REC_F32 : 0) | (recording ? n_in << REC_N_IN_SHIFT : 0) |
                             ((any >> 5) & (REC_IN0_FULL | REC_IN1_FULL)));
        r->op = recording ? (uint8_t)op_index : 0;
        r->gen = ctx->gen;
        r->in[0] = recording ? a0.id : 0;
        r->in[1] = recording ? a1.id : 0;
        if (f32) {
            r->value.f64 = 0;
            r->value.f32 = (float)y;
        } else {
            r->value.f64 = y;
        }
        r->grad.f64 = 0;
        ctx->n_nodes++;
        *out = compact_handle(r, r->gen);
        return true;
    }
    if (any & ARG_COMPACT) return false;   /* a full node's inputs are full nodes: the general path writes them */
    ad_node *o = node_new(ctx, op->name ? op->name : "apply");
    if (!o) {
        *out = NULL;
        return true;
    }
    o->value.dtype = f32 ? AD_FLOAT32 : AD_FLOAT64;
    o->value.size = 1;
    o->value.data = &o->inline_value;
    o->op = op;
    o->n_in = (uint8_t)n_in;
    /* all three, unused ones NULL (a loop to n_in compiled to a `rep movsb`) */
    o->in[0] = a0.full;
    o->in[1] = a1.full;
    o->in[2] = a2.full;
    o->flags = AD_NODE_SCALAR | (f32 ? AD_NODE_F32 : 0) | (recording ? AD_NODE_RECORDING | AD_NODE_REQUIRES_GRAD : 0);
    if (op->scalar && n_in <= 2) {   /* rounded to the dtype as the op's forward does */
        double y = op->scalar->f(a0.v, n_in > 1 ? a1.v : 0);
        if (f32) o->inline_value.f32 = (float)y;
        else o->inline_value.f64 = y;
    } else if (op->cpu.forward(o) != AD_OK) {
        ad_drop_half_made(ctx, o->id, ctx->n_dev);
        *out = NULL;
        return true;
    }
    if (!recording) {   /* as in the general path: a plain constant */
        o->op = NULL;
        o->n_in = 0;
        for (int s = 0; s < AD_MAX_INPUTS; s++) o->in[s] = NULL;
        o->saved = NULL;
    }
    *out = ad_handle_of(o);
    return true;
}

/* ad_apply (ad_op.h), the entry every op call takes: the scalar path above
 * where it applies, else the general path (core/apply.c), which is also all
 * there is with the fast path off. It stands here, not in the core, so that
 * the compiler inlines the scalar path into it: a call between files cost
 * the scalar path 1.5 ns of its 12 ns an op (BENCHMARKS.md). */
ad_node *ad_apply(ad_context *ctx, const ad_op *op, ad_node *const *in, int n_in, const ad_params *params)
{
    ad_node *fast;
    if (op && !params && scalar_path_apply(ctx, op, in, n_in, &fast)) return fast;
    return ad_apply_general(ctx, op, in, n_in, params);
}
