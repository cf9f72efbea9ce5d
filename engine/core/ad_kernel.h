/* ad_kernel.h: what an op's kernels see (include it to write an op, with
 * ad_op.h): the node's layout, the block-of-cotangents helper, and arena
 * memory that lives as long as a node.
 *
 * Handles and nodes. The API (ad_graph.h, ad_ops.h...) hands out handles:
 * a node's address with its generation in the top AD_HANDLE_TAG_BITS bits
 * (x86-64 and AArch64 user addresses leave them zero). A context's
 * generation moves on with every rewind that drops nodes, and a node takes
 * it when made; so a handle kept past the rewind that dropped its node no
 * longer matches the node that took its memory, and every call that takes
 * it refuses it by name. A handle cannot be dereferenced: read it through
 * the accessors. Kernels (forward, vjp, jvp, infer, kink_gap) are given the
 * nodes themselves, whose fields they read; an address with no tag is
 * accepted wherever a handle is (unchecked: the engine's own calls). */
#ifndef AD_KERNEL_H
#define AD_KERNEL_H

#include "ad_op.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Node flags. */
enum {
    AD_NODE_REQUIRES_GRAD = 1u << 0, /* gradients flow to / through it */
    AD_NODE_LEAF = 1u << 1,          /* made by ad_variable/ad_constant */
    AD_NODE_RECORDING = 1u << 2,     /* recorded for backward (op, inputs kept) */
    /* bits 3, 6 and 7 are the engine's own (the scalar path's, ad_internal.h) */
    AD_NODE_BORN_COMPACT = 1u << 3,  /* made as a compact scalar node: its handles carry bit 0 */
};

/* A scalar's number, as a node holds it inline. */
typedef union ad_scalar_num {
    double f64;
    float f32;
} ad_scalar_num;

/* A graph node, as kernels see it.
 * The order is for the scalar path: what making an op and the backward sweep
 * read of a node (mark, flags, op, grad, the inline numbers, the inputs) is in
 * the first 64 bytes; the value's header next; what scalar graphs rarely
 * touch last. (The scalar path is bound by the memory it touches.) */
struct ad_node {
    uint32_t mark;                   /* backward bookkeeping */
    uint8_t n_in;
    uint8_t flags;
    uint16_t gen;                    /* the context's generation when made (handles) */
    const ad_op *op;                 /* NULL for a leaf or a no-grad result */
    void *grad;                      /* dL/dvalue, value.size elements of the
                                        value's dtype; NULL until backward */
    /* Inline storage for a scalar's value and grad: scalar graphs need no
     * arena allocation beyond the node itself. */
    ad_scalar_num inline_value, inline_grad;
    ad_node *in[AD_MAX_INPUTS];      /* recorded inputs (n_in of them) */
    ad_tensor value;                 /* the forward value (data in the arena) */
    void *tangent;                   /* k * value.size elements: row d is the
                                        derivative along direction d; NULL = 0 */
    const ad_params *params;         /* op parameters, NULL if none */
    void *saved;                     /* op's own data kept for backward */
    const char *name;                /* label for tables and DOT, may be NULL */
    ad_context *ctx;                 /* the owning context */
    uint32_t id;                     /* creation index within the context */
};

/* The node behind a handle, checked as every call of the API checks it:
 * NULL for NULL (no message), and NULL with a message naming `who` for a
 * handle whose node a rewind dropped. For an op's own constructor that
 * reads its inputs before ad_apply (ad_flatten reads x's shape). */
ad_node *ad_resolve(const ad_node *h, const char *who);

/* Handles: the node's address, or for a node made on the scalar path as a
 * compact record (ad_fast_seam.h: its full node is written only when
 * something asks for it) the record's address with bit 0 set; the
 * generation in the top bits (64-bit only). */
#if UINTPTR_MAX > 0xffffffffu
enum { AD_HANDLE_TAG_BITS = 16, AD_HANDLE_TAG_SHIFT = 64 - AD_HANDLE_TAG_BITS };
#define AD_HANDLE_ADDR_MASK ((((uintptr_t)1 << AD_HANDLE_TAG_SHIFT) - 1) & ~(uintptr_t)1)
static inline unsigned ad_handle_tag(const ad_node *handle) { return (unsigned)((uintptr_t)handle >> AD_HANDLE_TAG_SHIFT); }
static inline uintptr_t ad_handle_gen_bits(const ad_node *n) { return (uintptr_t)n->gen << AD_HANDLE_TAG_SHIFT; }
#else
/* 32-bit addresses have no spare top bits: handles are unchecked there. */
#define AD_HANDLE_ADDR_MASK (~(uintptr_t)1)
static inline unsigned ad_handle_tag(const ad_node *handle) { (void)handle; return 0; }
static inline uintptr_t ad_handle_gen_bits(const ad_node *n) { (void)n; return 0; }
#endif
/* Where a handle's node is (its memory, or its record's; no checks, nothing
 * read): for telling memory apart, not for reading. */
static inline ad_node *ad_node_addr(const ad_node *handle) { return (ad_node *)((uintptr_t)handle & AD_HANDLE_ADDR_MASK); }
/* The node behind a handle, for code that reads its fields: the address for
 * an ordinary node (no checks: the engine's resolve does those); a compact
 * one's full node is written first (ad_resolve). */
static inline ad_node *ad_node_of(const ad_node *handle)
{
    return ((uintptr_t)handle & 1) ? ad_resolve(handle, "node_of") : ad_node_addr(handle);
}
/* The handle of a node (NULL stays NULL). A node made compact keeps its
 * record's handle. */
ad_node *ad_born_compact_handle(const ad_node *n);
static inline ad_node *ad_handle_of(const ad_node *n)
{
    if (!n) return NULL;
    if (n->flags & AD_NODE_BORN_COMPACT) return ad_born_compact_handle(n);
    return (ad_node *)((uintptr_t)n | ad_handle_gen_bits(n));
}

/* A vjp for one cotangent, and the block form made from it: each row of
 * gout through `one` into the same row of gin (pointer arithmetic only, so
 * it serves device buffers too). Rows are gout_r = gout + r·|out| and
 * gin_r = gin + r·|in[slot]| elements of their dtypes. */
typedef void (*ad_vjp_one_fn)(const ad_node *out, int slot, const void *gout, void *gin);
static inline void ad_vjp_rows(ad_vjp_one_fn one, const ad_node *out, int slot, int rows, const void *gout, void *gin)
{
    size_t out_bytes = (size_t)out->value.size * ad_dtype_size((ad_dtype)out->value.dtype);
    size_t in_bytes = (size_t)out->in[slot]->value.size * ad_dtype_size((ad_dtype)out->in[slot]->value.dtype);
    for (int r = 0; r < rows; r++)
        one(out, slot, (const char *)gout + (size_t)r * out_bytes, (char *)gin + (size_t)r * in_bytes);
}
/* Defines `static void name(out, slot, rows, gout, gin)` from `one`. */
#define AD_VJP_BY_ROWS(name, one)                                                                \
    static void name(const ad_node *out, int slot, int rows, const void *gout, void *gin)       \
    {                                                                                            \
        ad_vjp_rows(one, out, slot, rows, gout, gin);                                            \
    }

/* Writing a kernel once for both dtypes:
 *   AD_DISPATCH(dtype, { T *y = out->value.data; ... });
 * runs the body with the typedef T = double or T = float. */
#define AD_DISPATCH(dt, ...)                                                                                           \
    do {                                                                                                               \
        if ((dt) == AD_FLOAT32) {                                                                                      \
            typedef float T;                                                                                           \
            __VA_ARGS__                                                                                                \
        } else {                                                                                                       \
            typedef double T;                                                                                          \
            __VA_ARGS__                                                                                                \
        }                                                                                                              \
    } while (0)

/* Pointer to element i of a buffer of dtype dt. */
static inline void *ad_elem_ptr(const void *base, int64_t i, ad_dtype dt)
{
    return (char *)base + (size_t)i * ad_dtype_size(dt);
}

/* Pointer to row `dir` of a node's tangent (NULL if it has none). */
static inline void *ad_tangent_row(const ad_node *n, int dir)
{
    if (!n->tangent) return NULL;
    return (char *)n->tangent + (size_t)dir * (size_t)n->value.size * ad_dtype_size((ad_dtype)n->value.dtype);
}

/* Arena memory (zeroed, 32-byte aligned) that lives as long as the node. */
void *ad_node_alloc(ad_node *n, size_t bytes);
/* GPU memory (zeroed) that lives as long as the node, for CUDA kernels that
 * keep device data for their vjp. */
void *ad_node_alloc_device(ad_node *n, size_t bytes);
/* Guard zones, for checking kernels (gradcheck turns them on in its own
 * contexts). With guards on, every arena buffer the context allocates from
 * then on (a value, a tangent, a grad, saved data) lies between two zones:
 * [p - AD_GUARD_BYTES, p) before it, and after it
 * [p + bytes, p + ad_guard_span(bytes) + AD_GUARD_BYTES) (the arena's
 * round-up to 32 bytes is guarded too). The byte at address a of a zone is
 * ad_guard_byte(a). A kernel that writes outside its buffer changes a zone;
 * ad_guard_intact finds it after the call. In an AddressSanitizer build the
 * zones are poisoned too, so the write itself stops with ASan's report. A
 * 1-element CPU value or grad is held inside its node (ad_node's
 * inline_value, inline_grad) and has no zones.
 *
 * The fill: each aligned 4 bytes read (little-endian) as a tiny negative
 * normal float32 (about -3e-38) and each 8 as a tiny negative normal float64
 * (about -1e-303), their low bits a hash of the address. Tiny, so that a
 * kernel adding (+=) anything but 0 into a zone changes its bits (a huge fill
 * would absorb the sum, a NaN keep its bits through it); negative, so that a
 * select one past the end (relu's "keep where y > 0, else 0", reading the
 * value's zone) writes 0 and shows, where a positive fill would be kept;
 * hashed by address, so that a kernel reading one element past its input
 * (the input's zone) and writing it one past its output (the output's zone)
 * changes the bytes too. */
enum { AD_GUARD_BYTES = 256 };
static inline size_t ad_guard_span(size_t bytes) { return bytes ? (bytes + 31) & ~(size_t)31 : 32; }
static inline unsigned char ad_guard_byte(const void *at)
{
    uintptr_t a = (uintptr_t)at;
    if ((a & 3) == 3) return 0x81;   /* the top byte of 4: sign 1, a tiny exponent */
    uint32_t h = (uint32_t)(a >> 2) * 2654435761u;   /* Knuth's multiplicative hash of the word */
    return (unsigned char)(h >> (8 + 8 * (a & 3)));
}
/* Guards on or off for ctx's allocations from now on; returns the old setting. */
bool ad_set_guard_zones(ad_context *ctx, bool on);
/* Are both zones around buffer p (`bytes` bytes, allocated with guards) as
 * armed? If not, *where (may be NULL) is the byte offset from p of the
 * changed byte nearest the buffer: >= bytes after it, < 0 before it. */
bool ad_guard_intact(const void *p, size_t bytes, int64_t *where);
/* A zeroed buffer of `bytes` with the same zones, off the arena: for a
 * buffer a caller hands a kernel itself (ad_backward_block's grads). */
void *ad_guarded_alloc(size_t bytes);
void ad_guarded_free(void *p, size_t bytes);
/* Is this node being recorded for backward (save data for vjp)? */
bool ad_node_recording(const ad_node *n);
/* The context's tangent direction count k. */
int ad_node_dirs(const ad_node *n);

#ifdef __cplusplus
}
#endif
#endif
