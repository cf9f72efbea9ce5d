/* text_hash.h: the one hash the teaching tools use for their tables (the
 * formula parser's and the symbolic engine's hash-consing, variable names).
 * FNV-1a over bytes, then splitmix64's finalizer. FNV alone leaves the low k
 * bits of the hash (all that a table's mask keeps) a function of the low k
 * bits of each input byte, and a double's low bytes are zero for every small
 * whole number: the constants 1, 2, ..., n of a sum of n terms all fell into
 * one probe chain (40,000 terms took 26.6 s). Not installed. */
#ifndef AD_TEXT_HASH_H
#define AD_TEXT_HASH_H

#include <stddef.h>
#include <stdint.h>

#define AD_FNV_BASIS 1469598103934665603ULL

/* FNV-1a over n bytes at p, continued from h (start from AD_FNV_BASIS). */
static inline uint64_t ad_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* splitmix64's finalizer: every output bit depends on every input bit. */
static inline uint64_t ad_hash_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
