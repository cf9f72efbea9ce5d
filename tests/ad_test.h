/* ad_test.h: what the CMocka tests share. CMocka 1.1.5 (Debian 12) has no
 * assert_double_equal, so assert_close reports both values and the gap. */
#ifndef AD_TEST_H
#define AD_TEST_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <cmocka.h>

/* Built with AddressSanitizer? (GCC says so one way, clang another.) */
#if defined(__SANITIZE_ADDRESS__)
#define AD_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AD_TEST_UNDER_ASAN 1
#endif
#endif
#ifndef AD_TEST_UNDER_ASAN
#define AD_TEST_UNDER_ASAN 0
#endif

/* Run shell command cmd, its stdout into out (len bytes, cut there); its
 * exit status, -1 if it did not exit (a signal). */
static inline int ad_test_popen(const char *cmd, char *out, size_t len)
{
    FILE *p = popen(cmd, "r");
    if (!p) fail_msg("cannot run %s", cmd);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run the program named by environment variable `program` (set by meson
 * test) with `args`, stdout and stderr into out (len bytes, cut there);
 * its exit status, -1 if it did not exit. */
static inline int ad_test_command(const char *program, const char *args, char *out, size_t len)
{
    const char *exe = getenv(program);
    if (!exe) fail_msg("%s (the command's path) is not set; run through meson test", program);
    char cmd[4096];
    if (snprintf(cmd, sizeof cmd, "%s %s 2>&1", exe, args) >= (int)sizeof cmd) fail_msg("command too long: %s", args);
    return ad_test_popen(cmd, out, len);
}

#define assert_close(actual, expected, tol)                                                                            \
    do {                                                                                                               \
        double a_ = (actual), e_ = (expected), t_ = (tol);                                                             \
        if (!(fabs(a_ - e_) <= t_)) {                                                                                  \
            print_error("%s = %.17g, expected %.17g (|diff| %.3g > tol %.3g)\n", #actual, a_, e_, fabs(a_ - e_), t_); \
            fail();                                                                                                    \
        }                                                                                                              \
    } while (0)

/* Text a report writer must make valid UTF-8 and XML 1.0 (an op's name, a
 * grader's compiler output): every kind of byte sequence that is not
 * well-formed UTF-8, the characters XML forbids, and markup; it ends in a
 * sequence cut short. test_report.c checks each kind's replacement alone. */
#define AD_TEST_BAD_TEXT                                                                                               \
    "lone \x80\xBF, overlong \xC0\xAF \xC1\xBF \xE0\x80\xAF \xF0\x80\x80\xAF, surrogate \xED\xA0\x80, "             \
    "past U+10FFFF \xF4\x90\x80\x80, F5-FF \xF5\x80\x80\x80\xF6\xF7\xF8\xF9\xFA\xFB\xFC\xFD\xFE\xFF, "               \
    "U+FFFE/F \xEF\xBF\xBE\xEF\xBF\xBF, controls \x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0B\x0C\r\x0E\x0F"             \
    "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1A\x1B\x1C\x1D\x1E\x1F, markup ]]> < & \" ', cut \xF0\x9F\x98"

#endif
