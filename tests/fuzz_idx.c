/* fuzz_idx.c: the IDX loader's fuzz target. With clang it links against
 * libFuzzer (-fsanitize=fuzzer; .ci/fuzz runs it); the test suite drives the
 * same function through test_idx_fuzz.c with seeded mutations of
 * tests/idx_corpus/. The input is written to a temporary file and loaded.
 * Properties: loading never crashes or hangs; it fails with AD_ERR_IO (or
 * AD_ERR_NOMEM) and a message naming the file, or returns a tensor whose
 * shape is the header's and, for a plain (not gzipped) file, whose elements
 * are exactly the bytes after the header, with nothing left over. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "autodidact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmp_path[64];

static void remove_tmp(void)
{
    if (tmp_path[0]) unlink(tmp_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tmp_path[0]) {
        /* in memory where there is a tmpfs: the runs are I/O-bound otherwise */
        snprintf(tmp_path, sizeof tmp_path, "%s/fuzz_idx.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        int fd = mkstemp(tmp_path);
        if (fd < 0) abort();
        close(fd);
        atexit(remove_tmp);
    }
    FILE *f = fopen(tmp_path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();
    ad_clear_error();
    ad_tensor *t = ad_idx_load(tmp_path, size && (data[0] & 1) ? AD_FLOAT64 : AD_FLOAT32, 1.0);
    if (!t) {
        ad_status st = ad_last_status();
        if ((st != AD_ERR_IO && st != AD_ERR_NOMEM) || !strstr(ad_last_error(), tmp_path)) abort();
        return 0;
    }
    bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gz) {
        /* magic 0000080N, N dims, then exactly the data */
        if (size < 4 || data[3] != t->ndim) abort();
        int64_t n = 1;
        for (int d = 0; d < t->ndim; d++) {
            const uint8_t *b = data + 4 + 4 * d;
            int64_t dim = (int64_t)b[0] << 24 | (int64_t)b[1] << 16 | (int64_t)b[2] << 8 | b[3];
            if (dim != t->shape[d]) abort();
            n *= dim;
        }
        size_t head = 4 + 4 * (size_t)t->ndim;
        if (n != t->size || head + (size_t)n != size) abort();
        for (int64_t i = 0; i < n; i++)
            if (ad_tensor_get(t, i) != (double)data[head + (size_t)i]) abort();
    }
    ad_tensor_free(t);
    return 0;
}
