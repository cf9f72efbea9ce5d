/* test_expr_fuzz.c: a bounded fuzzing run of the formula parser, in every
 * `meson test`: each corpus file, then seeded random mutations of them
 * (bytes flipped, inserted, deleted, spliced) for a fixed number of
 * iterations, through the fuzz target's properties (fuzz_expr.c). A crash
 * or a broken property aborts the test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_corpus.h"

static const char alphabet[] = "xyz0123456789.e+-*/^(),  pilogexpsqrtmaxminrelu\t\n\"'#$%&;:<>?@[]{}|~`";

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "expr_corpus";
    long iterations = argc > 2 ? atol(argv[2]) : 200000;
    static char corpus[64][512];
    size_t clen[64];
    int n = fuzz_corpus_load("test_expr_fuzz", dir, (uint8_t *)&corpus[0][0], sizeof corpus[0], clen, 64);
    if (n == 0) return 1;
    uint64_t s = 0x243F6A8885A308D3ULL;
#define NEXT() (s = s * 6364136223846793005ULL + 1442695040888963407ULL, (unsigned)(s >> 33))
    char buf[1024];
    for (long it = 0; it < iterations; it++) {
        size_t len = strlen(strcpy(buf, corpus[NEXT() % (unsigned)n]));
        int edits = 1 + (int)(NEXT() % 3);
        for (int k = 0; k < edits; k++) {
            unsigned op = NEXT() % 4, pos = len ? NEXT() % (unsigned)len : 0;
            char c = (NEXT() % 8) ? alphabet[NEXT() % (sizeof alphabet - 1)] : (char)(NEXT() % 256);
            if (op == 0 && len) buf[pos] = c;
            else if (op == 1 && len + 1 < sizeof buf) {
                memmove(buf + pos + 1, buf + pos, len - pos + 1);
                buf[pos] = c;
                len++;
            } else if (op == 2 && len) {
                memmove(buf + pos, buf + pos + 1, len - pos);
                len--;
            } else if (op == 3) {   /* splice in a piece of another corpus entry */
                const char *o = corpus[NEXT() % (unsigned)n];
                size_t ol = strlen(o), from = ol ? NEXT() % ol : 0, take = ol - from < 12 ? ol - from : 12;
                if (len + take + 1 < sizeof buf) {
                    memmove(buf + pos + take, buf + pos, len - pos + 1);
                    memcpy(buf + pos, o + from, take);
                    len += take;
                }
            }
        }
        LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
    }
    printf("test_expr_fuzz: %d corpus entries and %ld mutations, no crash\n", n, iterations);
    return 0;
}
