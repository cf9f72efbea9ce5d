/* test_engine_pins_idx.c: engine/train/idx.c, pinned where the other tests
 * let a change through: a file of just the two gzip magic bytes is a gzip
 * stream cut short (not a plain file with a short header), and the class
 * names of Fashion-MNIST at and past their ends, a gzip stream read in more
 * than one inflate (more compressed bytes than one 64 KiB read, and a second
 * member), and a second member whose first byte is the last of a read. The
 * gzip files are written here byte by byte (stored deflate blocks: their
 * compressed length is exact), with a CRC-32 of their own. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "ad_test_error.h"
#include "autodidact.h"

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* 1f 8b is the gzip magic: two bytes of it are read as gzip, and the stream
 * ends before its header does. One byte more (1f 8b 08) is gzip too, cut as
 * well; the first byte alone (1f) is too short to be gzip, so plain: its
 * 4-byte IDX header is 3 bytes short. */
static void test_gzip_magic_alone(void **state)
{
    (void)state;
    static const unsigned char magic[3] = {0x1f, 0x8b, 0x08};
    const char *path = "t_pins_magic";
    for (size_t n = 3; n >= 2; n--) {
        write_bytes(path, magic, n);
        ad_clear_error();
        assert_null(ad_idx_load(path, AD_FLOAT32, 1));
        assert_error(AD_ERR_IO, "t_pins_magic: truncated: the gzip stream is cut before its end");
    }
    write_bytes(path, magic, 1);
    assert_null(ad_idx_load(path, AD_FLOAT32, 1));
    assert_error(AD_ERR_IO, "t_pins_magic: truncated: the header needs 4 bytes, the file has 1");
    remove(path);
}

/* Classes 0..9 have names; -1 and 10, one past each end, are "?". */
static void test_class_names_at_their_ends(void **state)
{
    (void)state;
    assert_string_equal(ad_fashion_mnist_class(0), "T-shirt/top");
    assert_string_equal(ad_fashion_mnist_class(9), "Ankle boot");
    assert_string_equal(ad_fashion_mnist_class(-1), "?");
    assert_string_equal(ad_fashion_mnist_class(10), "?");
}

static uint32_t crc32_of(const unsigned char *b, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= b[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void put_le(FILE *f, uint32_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) fputc((int)((v >> (8 * i)) & 0xff), f);
}

/* One gzip member holding b[0..n) in stored blocks of at most `block` bytes:
 * 10 bytes of header, 5 a block and 8 of trailer around the data. */
static void put_gzip_member(FILE *f, const unsigned char *b, size_t n, size_t block)
{
    static const unsigned char head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    fwrite(head, 1, sizeof head, f);
    size_t at = 0;
    do {
        size_t len = n - at < block ? n - at : block;
        fputc(at + len == n ? 1 : 0, f);   /* BFINAL on the last, BTYPE 00: stored */
        put_le(f, (uint32_t)len, 2);
        put_le(f, (uint32_t)(~len & 0xffff), 2);
        fwrite(b + at, 1, len, f);
        at += len;
    } while (at < n);
    put_le(f, crc32_of(b, n), 4);
    put_le(f, (uint32_t)n, 4);
}

/* An IDX file of one dimension, n pseudo-random bytes (malloc'd; its length
 * 8 + n). */
static unsigned char *idx_bytes(uint32_t n)
{
    unsigned char *b = malloc(8 + (size_t)n);
    assert_non_null(b);
    const unsigned char head[8] = {0, 0, 8, 1, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                                   (unsigned char)(n >> 8), (unsigned char)n};
    memcpy(b, head, 8);
    uint32_t x = 12345;
    for (uint32_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        b[8 + i] = (unsigned char)(x >> 16);
    }
    return b;
}

/* The file at path, written as gzip members of idx[0..n) cut at cuts[0..n_cuts). */
static void write_gzip(const char *path, const unsigned char *idx, size_t n, const size_t *cuts, int n_cuts,
                       size_t block)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    size_t from = 0;
    for (int i = 0; i <= n_cuts; i++) {
        size_t to = i < n_cuts ? cuts[i] : n;
        put_gzip_member(f, idx + from, to - from, block);
        from = to;
    }
    assert_int_equal(fclose(f), 0);
}

/* The data of idx_bytes(n), loaded whole and in order from path. */
static void expect_loaded(const char *path, const unsigned char *idx, uint32_t n)
{
    ad_clear_error();
    ad_tensor *t = ad_idx_load(path, AD_FLOAT64, 1.0);
    if (!t) fail_msg("%s: %s", path, ad_last_error());
    assert_int_equal(t->ndim, 1);
    assert_int_equal(t->shape[0], n);
    for (uint32_t i = 0; i < n; i++)
        if (ad_tensor_get(t, i) != idx[8 + i]) fail_msg("%s: byte %u is %g, not %u", path, i, ad_tensor_get(t, i), idx[8 + i]);
    ad_tensor_free(t);
}

/* 150000 bytes of data: stored, about 150 KB compressed, so one read of the
 * data (one src_read of 150000 bytes) takes three reads of the file and as
 * many inflates, each adding to what the ones before gave; and the same
 * data in three members, cut inside the data, where an inflate after each
 * member's end adds the next member's bytes. */
static void test_gzip_in_several_inflates(void **state)
{
    (void)state;
    const uint32_t n = 150000;
    unsigned char *idx = idx_bytes(n);
    const char *path = "t_pins_gz_long";
    write_gzip(path, idx, 8 + n, NULL, 0, 65535);
    expect_loaded(path, idx, n);
    const size_t cuts[2] = {8 + 1000, 8 + 70001};
    write_gzip(path, idx, 8 + n, cuts, 2, 65535);
    expect_loaded(path, idx, n);
    remove(path);
    free(idx);
}

/* A first member of 65535 bytes (10 + 5 + 65512 + 8) in a file read 64 KiB
 * at a time: after it, one byte of the second member (its 1f) is all that is
 * left of the first read, and the read that follows appends to it. */
static void test_second_member_split_after_its_first_byte(void **state)
{
    (void)state;
    const uint32_t n = 70000;
    unsigned char *idx = idx_bytes(n);
    const char *path = "t_pins_gz_split";
    const size_t cut = 65512;
    write_gzip(path, idx, 8 + n, &cut, 1, 65535);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 65535, SEEK_SET), 0);
    assert_int_equal(fgetc(f), 0x1f);
    assert_int_equal(fgetc(f), 0x8b);
    fclose(f);
    expect_loaded(path, idx, n);
    remove(path);
    free(idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_magic_alone),
        cmocka_unit_test(test_class_names_at_their_ends),
        cmocka_unit_test(test_gzip_in_several_inflates),
        cmocka_unit_test(test_second_member_split_after_its_first_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
