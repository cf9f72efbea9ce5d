/* test_engine_pins_idx.c: engine/train/idx.c, pinned where the other tests
 * let a change through: a file of just the two gzip magic bytes is a gzip
 * stream cut short (not a plain file with a short header), and the class
 * names of Fashion-MNIST at and past their ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"

static void assert_error(ad_status st, const char *want)
{
    assert_string_equal(ad_last_error(), want);
    assert_int_equal(ad_last_status(), st);
    ad_clear_error();
}

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_magic_alone),
        cmocka_unit_test(test_class_names_at_their_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
