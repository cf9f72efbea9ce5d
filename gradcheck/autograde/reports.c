/* reports.c: see reports.h. */
#define _GNU_SOURCE
#include "reports.h"
#include "ad_report.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* Write len bytes as dir/name through a fresh temporary file and a rename. */
static int write_atomic(int dir_fd, const char *name, const char *data, size_t len, char *err, size_t errlen)
{
    char tmp[128];
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        unsigned long long r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (unsigned long long)getpid() * 1000003u + (unsigned)tries;
        snprintf(tmp, sizeof tmp, ".%s.%016llx.tmp", name, r);
        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) return snprintf(err, errlen, "cannot create a temporary file for %s: %s", name, strerror(errno)), -1;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        p += n, left -= (size_t)n;
    }
    int saved = errno;
    if (close(fd) != 0 && left == 0) left = 1, saved = errno;
    if (left > 0 || renameat(dir_fd, tmp, dir_fd, name) != 0) {
        if (left == 0) saved = errno;
        unlinkat(dir_fd, tmp, 0);
        return snprintf(err, errlen, "cannot write %s: %s", name, strerror(saved)), -1;
    }
    return 0;
}

void quote_append(char *dst, size_t cap, const char *title, const char *text, size_t len, size_t total)
{
    size_t n = strlen(dst), lines = 0, shown = 0, col = 0;
    if (n + 1 >= cap) return;
#define PUT(...) (n += (size_t)snprintf(dst + n, cap - n, __VA_ARGS__), n = n < cap ? n : cap - 1)
    PUT("%s%s\n", n && dst[n - 1] != '\n' ? "\n" : "", title);
    /* room kept for the closing line, so that it survives a full buffer */
    size_t stop = cap > n + 96 ? cap - 96 : n;
    for (size_t i = 0; i < len && lines < QUOTE_MAX_LINES && n + 24 < stop; i++, shown = i) {
        unsigned char c = (unsigned char)text[i];
        if (col == 0) PUT(QUOTE_PREFIX);
        if (c == '\n') {
            PUT("\n");
            col = 0, lines++;
            continue;
        }
        if (col >= QUOTE_MAX_LINE) continue;   /* the rest of a long line */
        if (c == '\\') PUT("\\\\");
        else if (c == '\t') PUT("\\t");
        else if (c >= 0x20 && c < 0x7f) PUT("%c", c);
        else PUT("\\x%02x", c);
        if (++col == QUOTE_MAX_LINE) PUT(" [line cut]");
    }
    if (col > 0) PUT("\n");
    if (total > shown) PUT("  [%zu more bytes of this output not shown]\n", total - shown);
#undef PUT
}

static char *results_json(const assignment *a, const test_result *res, const char *general, uint64_t seed,
                          double seconds)
{
    double score = 0;
    for (int i = 0; i < a->n_tests; i++) score += res[i].score;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "score", round(score * 1000) / 1000);
    cJSON_AddNumberToObject(doc, "execution_time", round(seconds * 1000) / 1000);
    cJSON_AddStringToObject(doc, "output", general);
    cJSON_AddNumberToObject(doc, "seed", (double)seed);   /* at most 2^32 - 1: exact in a double */
    cJSON *arr = cJSON_AddArrayToObject(doc, "tests");
    for (int i = 0; i < a->n_tests; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", a->tests[i].name);
        cJSON_AddNumberToObject(o, "score", round(res[i].score * 1000) / 1000);
        cJSON_AddNumberToObject(o, "max_score", res[i].max_score);
        cJSON_AddStringToObject(o, "status", res[i].passed ? "passed" : "failed");
        cJSON_AddStringToObject(o, "output", res[i].output);
        cJSON_AddStringToObject(o, "visibility", a->tests[i].visibility);
        cJSON_AddItemToArray(arr, o);
    }
    char *js = cJSON_Print(doc);
    cJSON_Delete(doc);
    return js;
}

static void junit_xml(FILE *f, const assignment *a, const test_result *res)
{
    ad_junit_case *cases = calloc((size_t)a->n_tests, sizeof *cases);
    for (int i = 0; cases && i < a->n_tests; i++) {
        const char *first_line_end = strchr(res[i].output, '\n');
        cases[i] = (ad_junit_case){.classname = "autograde", .name = a->tests[i].name, .seconds = res[i].seconds,
                                   .outcome = res[i].passed ? AD_JUNIT_PASS : AD_JUNIT_FAILURE,
                                   .type = res[i].passed ? NULL : "WrongAnswer",
                                   .message = res[i].passed ? NULL : res[i].output,
                                   .details = res[i].passed || !first_line_end ? NULL : res[i].output};
    }
    if (cases) ad_junit_write(f, "autograde", cases, a->n_tests);
    free(cases);
}

/* TAP 13: a test per assignment test, its score and feedback as YAML. */
static void results_tap(FILE *f, const assignment *a, const test_result *res)
{
    ad_tap_begin(f, a->n_tests);
    for (int i = 0; i < a->n_tests; i++) {
        ad_tap_result(f, i + 1, res[i].passed, a->tests[i].name, NULL);
        ad_tap_yaml_begin(f);
        ad_tap_yaml_number(f, "score", round(res[i].score * 1000) / 1000);
        ad_tap_yaml_number(f, "max_score", res[i].max_score);
        ad_tap_yaml_string(f, "visibility", a->tests[i].visibility);
        ad_tap_yaml_string(f, "feedback", res[i].output);
        ad_tap_yaml_end(f);
    }
}

static void report_txt(FILE *f, const assignment *a, const test_result *res, const char *general, const char *notes,
                       uint64_t seed)
{
    double score = 0, max = 0;
    for (int i = 0; i < a->n_tests; i++) score += res[i].score, max += res[i].max_score;
    fprintf(f, "Score: %g / %g\nSeed: %llu (autograde --seed %llu grades again on the same inputs)\n%s\n",
            round(score * 1000) / 1000, max, (unsigned long long)seed, (unsigned long long)seed, general);
    if (notes && notes[0]) fprintf(f, "\n%s", notes);
    for (int i = 0; i < a->n_tests; i++)
        fprintf(f, "\n[%s] %s  %g / %g  (%s)\n%s", res[i].passed ? "PASS" : "FAIL", a->tests[i].name,
                round(res[i].score * 1000) / 1000, res[i].max_score, a->tests[i].visibility, res[i].output);
}

int reports_write(int dir_fd, const assignment *a, test_result *res, char *general, const char *notes, uint64_t seed,
                  double seconds, char *err, size_t errlen)
{
    ad_text_sanitize(general);
    for (int i = 0; i < a->n_tests; i++) ad_text_sanitize(res[i].output);
    int rc = 0;
    char *js = results_json(a, res, general, seed, seconds);
    rc = js ? write_atomic(dir_fd, "results.json", js, strlen(js), err, errlen) : -1;
    free(js);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (rc == 0 && f) {
        junit_xml(f, a, res);
        fclose(f);
        rc = write_atomic(dir_fd, "junit.xml", buf, len, err, errlen);
    }
    free(buf), buf = NULL;
    f = open_memstream(&buf, &len);
    if (rc == 0 && f) {
        results_tap(f, a, res);
        fclose(f);
        rc = write_atomic(dir_fd, "results.tap", buf, len, err, errlen);
    }
    free(buf), buf = NULL;
    f = open_memstream(&buf, &len);
    if (rc == 0 && f) {
        report_txt(f, a, res, general, notes, seed);
        fclose(f);
        rc = write_atomic(dir_fd, "report.txt", buf, len, err, errlen);
    }
    free(buf);
    if (rc == 0 && !f) rc = (snprintf(err, errlen, "out of memory"), -1);
    return rc;
}
