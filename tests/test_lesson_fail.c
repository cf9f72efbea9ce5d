/* test_lesson_fail.c: the line a lesson's failed check prints (lesson_fail):
 * "  FAILED: why" under the text output, and with --json, where stdout holds
 * the JSON alone, "program: FAILED: why" on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ad_test.h"
#include "lesson.h"

/* What lesson_fail writes to fd (1 or 2), through a temporary file. */
static void failed_line(bool json, int fd, char *buf, size_t len)
{
    lesson L = {.program = "autodidact", .json = json};
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(NULL);
    int saved = dup(fd);
    assert_true(saved >= 0 && dup2(fileno(tmp), fd) == fd);
    lesson_fail(&L, "%s: %d, expected %d", "the check", 1, 2);
    fflush(NULL);
    assert_int_equal(dup2(saved, fd), fd);
    close(saved);
    rewind(tmp);
    size_t n = fread(buf, 1, len - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
}

static void test_failed_line(void **state)
{
    (void)state;
    char buf[256];
    failed_line(true, 2, buf, sizeof buf);
    assert_string_equal(buf, "autodidact: FAILED: the check: 1, expected 2\n");
    failed_line(true, 1, buf, sizeof buf);
    assert_string_equal(buf, "");   /* nothing in the JSON's stream */
    failed_line(false, 1, buf, sizeof buf);
    assert_string_equal(buf, "  FAILED: the check: 1, expected 2\n");
    assert_int_equal(lesson_status(), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_failed_line)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
