/* ad_guard.h: guard zones, for checking kernels (gradcheck turns them on
 * in its own contexts, and checks the zones after each kernel call). */
#ifndef AD_GUARD_H
#define AD_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ad_graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* With guards on, every arena buffer the context allocates from
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
#ifdef __cplusplus
}
#endif
#endif
