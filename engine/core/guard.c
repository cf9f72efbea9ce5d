/* guard.c: guard zones around the buffers kernels write, for checking
 * kernels (gradcheck turns them on; ad_kernel.h says what they promise).
 *
 * A buffer p of `bytes` bytes with guards lies between two zones:
 *     [p - AD_GUARD_BYTES, p)                        the zone before it
 *     [p + bytes, p + round32(bytes) + AD_GUARD_BYTES)  the zone after it
 * (the arena rounds every buffer up to 32 bytes: the round-up belongs to the
 * zone after, so a float32 buffer of 3 elements has its 4th guarded too).
 * Byte a of a zone holds ad_guard_byte(a) (ad_kernel.h says why those
 * values). A kernel that writes outside its buffer, by one element or by a
 * whole plane starting at the end, changes a byte of a zone, and
 * ad_guard_intact finds it once the call is over. In an
 * AddressSanitizer build the zones are poisoned as well, so the write itself
 * stops the program with ASan's report (the kernel's stack in it). */
#include <stdlib.h>
#include <string.h>
#include "ad_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define AD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AD_ASAN 1
#endif
#endif
#ifdef AD_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* The zone after a buffer of `bytes` bytes starts at `bytes` and is this long. */
static size_t after_len(size_t bytes) { return ad_guard_span(bytes) - bytes + AD_GUARD_BYTES; }

/* Four bytes of a zone at a 4-aligned address at once, where the machine is
 * little-endian: ad_guard_byte's hash h gives bytes h>>8, h>>16, h>>24 and
 * 0x81, the word (h >> 8) | 0x81000000. (A zone is looked at after every
 * call gradcheck makes: a word at a time keeps that a small part of the call.) */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define GUARD_WORDS 1
static inline uint32_t guard_word(const unsigned char *at)
{
    return ((uint32_t)((uintptr_t)at >> 2) * 2654435761u) >> 8 | 0x81000000u;
}
#endif

static void fill(unsigned char *z, size_t n)
{
    size_t j = 0;
#ifdef GUARD_WORDS
    for (; j < n && ((uintptr_t)(z + j) & 3); j++) z[j] = ad_guard_byte(z + j);
    for (; j + 4 <= n; j += 4) {
        uint32_t w = guard_word(z + j);
        memcpy(z + j, &w, 4);
    }
#endif
    for (; j < n; j++) z[j] = ad_guard_byte(z + j);
}

/* The first byte of z[0, n) that is not the zone's (n: none). */
static size_t first_changed(const unsigned char *z, size_t n)
{
    size_t j = 0;
#ifdef GUARD_WORDS
    for (; j < n && ((uintptr_t)(z + j) & 3); j++)
        if (z[j] != ad_guard_byte(z + j)) return j;
    for (; j + 4 <= n; j += 4) {
        uint32_t w;
        memcpy(&w, z + j, 4);
        if (w != guard_word(z + j)) break;   /* (the byte loop below finds which) */
    }
#endif
    for (; j < n; j++)
        if (z[j] != ad_guard_byte(z + j)) return j;
    return n;
}

void ad_guard_arm(void *p, size_t bytes)
{
    unsigned char *b = p;
    fill(b - AD_GUARD_BYTES, AD_GUARD_BYTES);
    fill(b + bytes, after_len(bytes));
    POISON(b - AD_GUARD_BYTES, AD_GUARD_BYTES);
    POISON(b + bytes, after_len(bytes));
}

void ad_guard_unpoison(void *p, size_t bytes)
{
    (void)p, (void)bytes;
    UNPOISON(p, bytes);
}

bool ad_set_guard_zones(ad_context *ctx, bool on)
{
    if (ad_check_context(ctx, "set_guard_zones") != AD_OK) return false;
    bool was = ctx->guards;
    ctx->guards = on;
    if (on) ctx->guards_used = true;
    return was;
}

bool ad_guard_intact(const void *p, size_t bytes, int64_t *where)
{
    const unsigned char *b = p, *before = b - AD_GUARD_BYTES;
    size_t len = after_len(bytes);
    /* (unpoisoned to be read here, and poisoned again: the zones stay armed) */
    UNPOISON(b + bytes, len);
    size_t j = first_changed(b + bytes, len);
    POISON(b + bytes, len);
    if (j < len) {
        if (where) *where = (int64_t)(bytes + j);   /* the first changed byte past the end */
        return false;
    }
    UNPOISON(before, AD_GUARD_BYTES);
    bool ok = first_changed(before, AD_GUARD_BYTES) == AD_GUARD_BYTES;
    for (size_t k = 1; !ok && k <= AD_GUARD_BYTES; k++)   /* the changed byte nearest the start */
        if (b[-(ptrdiff_t)k] != ad_guard_byte(b - k)) {
            if (where) *where = -(int64_t)k;
            break;
        }
    POISON(before, AD_GUARD_BYTES);
    return ok;
}

void *ad_guarded_alloc(size_t bytes)
{
    size_t total = AD_GUARD_BYTES + ad_guard_span(bytes) + AD_GUARD_BYTES;
    char *base = aligned_alloc(32, total);
    if (!base) {
        ad_fail(AD_ERR_NOMEM, "out of memory for a guarded buffer of %zu bytes", bytes);
        return NULL;
    }
    char *p = base + AD_GUARD_BYTES;
    memset(p, 0, bytes);
    ad_guard_arm(p, bytes);
    return p;
}

void ad_guarded_free(void *p, size_t bytes)
{
    if (!p) return;
    char *base = (char *)p - AD_GUARD_BYTES;
    UNPOISON(base, AD_GUARD_BYTES + ad_guard_span(bytes) + AD_GUARD_BYTES);
    free(base);
}
