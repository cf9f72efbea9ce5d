/* assignment.c: see assignment.h. */
#include "assignment.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *str(const cJSON *o, const char *k, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

/* A number field: dflt when absent, -1 (with err) when present but not a
 * finite number in [lo, hi]. */
static int number(const cJSON *o, const char *k, double dflt, double lo, double hi, double *out, const char *where,
                  char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) return *out = dflt, 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return snprintf(err, errlen, "%s: \"%s\" must be a number from %g to %g", where, k, lo, hi), -1;
    *out = v->valuedouble;
    return 0;
}

/* An array of at most `max` whole numbers in [lo, hi]; its length in *n. */
static int int_array(const cJSON *o, const char *k, int max, int64_t lo, int64_t hi, int64_t *out, int *n,
                     const char *where, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k), *e;
    *n = 0;
    if (!v) return 0;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > max)
        return snprintf(err, errlen, "%s: \"%s\" must be an array of at most %d numbers", where, k, max), -1;
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsNumber(e) || !(e->valuedouble >= (double)lo && e->valuedouble <= (double)hi) ||
            e->valuedouble != floor(e->valuedouble))
            return snprintf(err, errlen, "%s: \"%s\" entries must be whole numbers from %lld to %lld", where, k,
                            (long long)lo, (long long)hi), -1;
        out[(*n)++] = (int64_t)e->valuedouble;
    }
    return 0;
}

static int64_t product(const int64_t *v, int n)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++) p = p > AG_MAX_TEST_VALUES ? p : p * v[i];   /* entries <= 4096: no overflow */
    return p;
}

/* The shapes each op needs, and that no tensor is too big. */
static int check_shapes(const test_spec *t, const char *where, char *err, size_t errlen)
{
    static const struct { const char *op; int ndim; const char *layout; } ops[] = {
        {"sigmoid", 1, "[n]"}, {"linear", 3, "[N, I, O]"}, {"softmax_ce", 2, "[N, C]"},
        {"conv2d", 4, "[N, C, H, W] with \"kernel\": [K, R, S]"}, {"maxpool2d", 4, "[N, C, H, W]"}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(t->op, ops[i].op)) continue;
        if (t->ndim != ops[i].ndim)
            return snprintf(err, errlen, "%s: %s takes \"shape\": %s", where, t->op, ops[i].layout), -1;
        int64_t sizes[3] = {product(t->shape, t->ndim), 0, 0};
        if (!strcmp(t->op, "linear")) sizes[0] = t->shape[0] * t->shape[1], sizes[1] = t->shape[1] * t->shape[2];
        if (!strcmp(t->op, "conv2d")) sizes[1] = t->kernel[0] * t->shape[1] * t->kernel[1] * t->kernel[2];
        for (int k = 0; k < 2; k++)
            if (sizes[k] > AG_MAX_TEST_VALUES)
                return snprintf(err, errlen, "%s: a tensor of %lld values is more than the grader takes (%d)", where,
                                (long long)sizes[k], AG_MAX_TEST_VALUES), -1;
        return 0;
    }
    return snprintf(err, errlen, "%s: unknown op '%s' (sigmoid, linear, softmax_ce, conv2d, maxpool2d)", where, t->op), -1;
}

static int parse_test(const cJSON *o, int i, const char *name, test_spec *t, char *err, size_t errlen)
{
    char where[256];
    snprintf(t->name, sizeof t->name, "%s", str(o, "name", "unnamed test"));
    snprintf(where, sizeof where, "%s: test %d (%s)", name, i + 1, t->name);
    if (!cJSON_IsObject(o)) return snprintf(err, errlen, "%s: not a JSON object", where), -1;
    snprintf(t->op, sizeof t->op, "%s", str(o, "op", ""));
    snprintf(t->part, sizeof t->part, "%s", str(o, "part", "vjp"));
    snprintf(t->visibility, sizeof t->visibility, "%s", str(o, "visibility", "visible"));
    const char *vis[] = {"visible", "hidden", "after_due_date", "after_published"};
    bool vis_ok = false;
    for (int v = 0; v < 4; v++) vis_ok = vis_ok || !strcmp(t->visibility, vis[v]);
    if (!vis_ok)
        return snprintf(err, errlen, "%s: \"visibility\" must be visible, hidden, after_due_date or after_published",
                        where), -1;
    if (strcmp(t->part, "vjp") && strcmp(t->part, "forward"))
        return snprintf(err, errlen, "%s: \"part\" must be forward or vjp", where), -1;
    int nk = 0;
    double stride, pad, window;
    if (int_array(o, "shape", 4, 1, 4096, t->shape, &t->ndim, where, err, errlen) ||
        int_array(o, "kernel", 3, 1, 4096, t->kernel, &nk, where, err, errlen) ||
        number(o, "stride", 1, 1, 4096, &stride, where, err, errlen) ||
        number(o, "padding", 0, 0, 4096, &pad, where, err, errlen) ||
        number(o, "window", 2, 1, 4096, &window, where, err, errlen) ||
        number(o, "points", 1, 0, 1e6, &t->points, where, err, errlen) ||
        number(o, "atol", 1e-6, 0, 1e6, &t->atol, where, err, errlen) ||
        number(o, "rtol", 1e-4, 0, 1e6, &t->rtol, where, err, errlen) ||
        number(o, "scale", 1, 1e-6, 1e6, &t->scale, where, err, errlen))
        return -1;
    t->stride = (int64_t)stride, t->pad = (int64_t)pad, t->window = (int64_t)window;
    t->ties = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ties"));
    double seed;
    if (number(o, "seed", -1, 0, 4294967295.0, &seed, where, err, errlen)) return -1;
    if (seed >= 0 && seed != floor(seed)) return snprintf(err, errlen, "%s: \"seed\" must be a whole number", where), -1;
    t->pinned = seed >= 0, t->seed = t->pinned ? (uint32_t)seed : 0;
    if (t->pinned && t->points > 0)
        return snprintf(err, errlen, "%s: a test with a pinned \"seed\" has inputs known in advance, so it cannot "
                                     "score: give it \"points\": 0", where), -1;
    if (!strcmp(t->op, "conv2d") && nk != 3) return snprintf(err, errlen, "%s: conv2d needs \"kernel\": [K, R, S]", where), -1;
    return check_shapes(t, where, err, errlen);
}

int assignment_parse(const char *json, size_t len, const char *name, assignment *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    cJSON *doc = cJSON_ParseWithLength(json, len);
    const cJSON *tests = doc ? cJSON_GetObjectItemCaseSensitive(doc, "tests") : NULL;
    if (!cJSON_IsArray(tests)) {
        cJSON_Delete(doc);
        return snprintf(err, errlen, "%s: not JSON with a \"tests\" array", name), -1;
    }
    int n = cJSON_GetArraySize(tests);
    if (n < 1 || n > AG_MAX_TESTS) {
        cJSON_Delete(doc);
        return snprintf(err, errlen, "%s: \"tests\" must hold 1 to %d tests, not %d", name, AG_MAX_TESTS, n), -1;
    }
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(doc, "limits");
    double memory_mb = 512;
    a->tests = calloc((size_t)n, sizeof *a->tests);
    int rc = a->tests ? 0 : (snprintf(err, errlen, "%s: out of memory", name), -1);
    if (rc == 0 && lim && !cJSON_IsObject(lim)) rc = (snprintf(err, errlen, "%s: \"limits\" must be an object", name), -1);
    if (rc == 0)
        rc = number(lim, "cpu_seconds", 2, 0.1, 600, &a->cpu_seconds, name, err, errlen) ||
                     number(lim, "wall_seconds", 5, 0.1, 1200, &a->wall_seconds, name, err, errlen) ||
                     number(lim, "memory_mb", 512, 16, 65536, &memory_mb, name, err, errlen) ||
                     number(lim, "compile_seconds", 60, 1, 3600, &a->compile_seconds, name, err, errlen) ||
                     number(lim, "total_seconds", 600, 1, 86400, &a->total_seconds, name, err, errlen) ? -1 : 0;
    a->memory_bytes = (size_t)memory_mb << 20;
    for (int i = 0; rc == 0 && i < n; i++) rc = parse_test(cJSON_GetArrayItem(tests, i), i, name, &a->tests[i], err, errlen);
    cJSON_Delete(doc);
    if (rc != 0) {
        assignment_free(a);
        return -1;
    }
    a->n_tests = n;
    return 0;
}

int assignment_load(const char *path, assignment *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return snprintf(err, errlen, "cannot open the assignment %s: %s", path, strerror(errno)), -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > AG_MAX_ASSIGNMENT_BYTES) {
        close(fd);
        return snprintf(err, errlen, "the assignment %s is not a regular file of at most %d bytes", path,
                        AG_MAX_ASSIGNMENT_BYTES), -1;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    ssize_t k = 0;
    while (buf && got < (size_t)st.st_size && (k = read(fd, buf + got, (size_t)st.st_size - got)) > 0) got += (size_t)k;
    close(fd);
    if (!buf || k < 0) {
        free(buf);
        return snprintf(err, errlen, "cannot read the assignment %s", path), -1;
    }
    int rc = assignment_parse(buf, got, path, a, err, errlen);
    free(buf);
    return rc;
}

int assignment_lint(const assignment *a, char *out, size_t outlen)
{
    static const char *const ops[] = {"sigmoid", "linear", "softmax_ce", "conv2d", "maxpool2d"};
    int problems = 0;
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        bool used = false, fwd = false, vjp = false;
        for (int i = 0; i < a->n_tests; i++) {
            const test_spec *t = &a->tests[i];
            if (strcmp(t->op, ops[o])) continue;
            used = true;
            if (t->points > 0) {
                if (!strcmp(t->part, "forward")) fwd = true;
                else vjp = true;
            }
        }
        for (int part = 0; used && part < 2; part++) {
            if (part == 0 ? fwd : vjp) continue;
            size_t n = strlen(out);
            snprintf(out + n, outlen - n, "%s: no %s test that scores, so a wrong student_%s_%s gets full marks\n",
                     ops[o], part == 0 ? "forward" : "vjp", ops[o], part == 0 ? "forward" : "vjp");
            problems++;
        }
    }
    return problems;
}

void assignment_free(assignment *a)
{
    free(a->tests);
    a->tests = NULL, a->n_tests = 0;
}
