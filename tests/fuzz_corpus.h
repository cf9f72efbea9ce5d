/* fuzz_corpus.h: the bounded fuzz tests' one corpus reader (test_expr_fuzz.c,
 * test_idx_fuzz.c). Reads each file of `dir` (not the dot files), at most
 * `max_entries` of them and `cap - 1` bytes of each, into entry k at
 * corpus + k·cap with its length in len[k] and a NUL after it (the formula
 * parser's target reads a C string), and runs the fuzz target on each as it
 * is read. Returns how many it read; 0 after a message when there are none. */
#ifndef FUZZ_CORPUS_H
#define FUZZ_CORPUS_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_corpus_load(const char *program, const char *dir, uint8_t *corpus, size_t cap, size_t *len,
                            int max_entries)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: cannot open corpus %s\n", program, dir);
        return 0;
    }
    for (struct dirent *ent; (ent = readdir(d)) && n < max_entries;) {
        if (ent->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        uint8_t *entry = corpus + (size_t)n * cap;
        len[n] = fread(entry, 1, cap - 1, f);
        entry[len[n]] = '\0';
        fclose(f);
        LLVMFuzzerTestOneInput(entry, len[n]);
        n++;
    }
    closedir(d);
    if (n == 0) fprintf(stderr, "%s: empty corpus %s\n", program, dir);
    return n;
}

#endif
