/* ad_handle.h: handles. The API (ad_graph.h, ad_ops.h...) hands out
 * handles: a node's address with its generation in the top
 * AD_HANDLE_TAG_BITS bits (x86-64 and AArch64 user addresses leave them
 * zero). A context's generation moves on with every rewind that drops
 * nodes, and a node takes it when made; so a handle kept past the rewind
 * that dropped its node no longer matches the node that took its memory,
 * and every call that takes it refuses it by name. A handle cannot be
 * dereferenced: read it through the accessors. Kernels are given the nodes
 * themselves; an address with no tag is accepted wherever a handle is
 * (unchecked: the engine's own calls).
 */
#ifndef AD_HANDLE_H
#define AD_HANDLE_H

#include "ad_node.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif
