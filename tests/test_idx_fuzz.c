/* test_idx_fuzz.c: a bounded fuzzing run of the IDX loader, in every
 * `meson test`: each file of tests/idx_corpus/, then seeded random
 * mutations of them (bytes flipped, inserted, deleted; a 4-byte field set to
 * 0, 1, 2^28 or 2^32 - 1; the file cut or a piece of it repeated) through the
 * fuzz target's properties (fuzz_idx.c). A crash, a hang (meson's timeout) or
 * a broken property fails the test. libFuzzer explores further (.ci/fuzz). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_corpus.h"

enum { MAX_ENTRIES = 64, MAX_LEN = 4096 };

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "idx_corpus";
    long iterations = argc > 2 ? atol(argv[2]) : 20000;
    static uint8_t corpus[MAX_ENTRIES][MAX_LEN + 1], buf[2 * MAX_LEN];
    size_t clen[MAX_ENTRIES];
    int n = fuzz_corpus_load("test_idx_fuzz", dir, &corpus[0][0], MAX_LEN + 1, clen, MAX_ENTRIES);
    if (n == 0) return 1;
    uint64_t s = 0x9E3779B97F4A7C15ULL;
#define NEXT() (s = s * 6364136223846793005ULL + 1442695040888963407ULL, (unsigned)(s >> 33))
    static const uint32_t fields[] = {0, 1, 1u << 28, 0xffffffffu, 60000, 28};
    for (long it = 0; it < iterations; it++) {
        int k = (int)(NEXT() % (unsigned)n);
        size_t len = clen[k];
        memcpy(buf, corpus[k], len);
        int edits = 1 + (int)(NEXT() % 3);
        for (int e = 0; e < edits; e++) {
            unsigned op = NEXT() % 6, pos = len ? NEXT() % (unsigned)len : 0;
            if (op == 0 && len) buf[pos] ^= (uint8_t)(1u << (NEXT() % 8));
            else if (op == 1 && len < MAX_LEN) {
                memmove(buf + pos + 1, buf + pos, len - pos);
                buf[pos] = (uint8_t)NEXT();
                len++;
            } else if (op == 2 && len) {
                memmove(buf + pos, buf + pos + 1, len - pos - 1);
                len--;
            } else if (op == 3 && len >= 4) {   /* a header field to an extreme */
                uint32_t v = fields[NEXT() % (sizeof fields / sizeof *fields)];
                size_t at = 4 * (NEXT() % (unsigned)(len / 4));
                for (int b = 0; b < 4; b++) buf[at + (size_t)b] = (uint8_t)(v >> (24 - 8 * b));
            } else if (op == 4) {
                len = pos;   /* cut */
            } else if (op == 5 && len) {   /* repeat a piece at the end */
                size_t take = len - pos < 16 ? len - pos : 16;
                if (len + take <= MAX_LEN) {
                    memcpy(buf + len, buf + pos, take);
                    len += take;
                }
            }
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("test_idx_fuzz: %d corpus files and %ld mutations, every property held\n", n, iterations);
    return 0;
}
