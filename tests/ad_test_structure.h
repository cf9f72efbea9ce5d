/* ad_test_structure.h: helpers of test_lesson_structure*.c: a lesson's
 * labels found in order, the numbers on a labelled line, and a relative
 * comparison that fails on NaN and names the lesson, its arguments and the
 * random seed. Include after ad_test.h and ad_test_lesson.h. */
#ifndef AD_TEST_STRUCTURE_H
#define AD_TEST_STRUCTURE_H

#include <stdbool.h>
#include <string.h>
#include <time.h>

enum { ST_OUT_MAX = 1 << 20 };
static char st_out[ST_OUT_MAX];
static char st_what[512];   /* "lesson args (seed N)": every failure names it */
static unsigned st_seed;

/* The seed of this run's random draws: AD_TEST_SEED, else the clock. */
static inline void st_seed_init(void)
{
    const char *s = getenv("AD_TEST_SEED");
    st_seed = s ? (unsigned)strtoul(s, NULL, 10) : (unsigned)time(NULL);
    srand(st_seed);
}
/* A uniform draw in (lo, hi). */
static inline double st_draw(double lo, double hi) { return lo + (hi - lo) * (rand() + 0.5) / ((double)RAND_MAX + 1); }

/* Run NAME ARGS into st_out; exit 0 is required. */
static inline const char *st_run(const char *name, const char *args)
{
    snprintf(st_what, sizeof st_what, "%s %s (seed %u; rerun with AD_TEST_SEED=%u)", name, args, st_seed, st_seed);
    int rc = ad_test_lesson_run(name, args, st_out, sizeof st_out);
    if (rc != 0) fail_msg("%s: exit %d", st_what, rc);
    return st_out;
}
static inline cJSON *st_json(const char *name, const char *args)
{
    snprintf(st_what, sizeof st_what, "%s --json %s (seed %u; rerun with AD_TEST_SEED=%u)", name, args, st_seed, st_seed);
    return ad_test_lesson_json(name, args, st_out, sizeof st_out);
}

/* got within rel·max(1, |want|) of want, both finite (a NaN fails). */
static inline void st_close(double got, double want, double rel, const char *label)
{
    if (!(isfinite(got) && isfinite(want) && fabs(got - want) <= rel * fmax(1.0, fabs(want))))
        fail_msg("%s: %s is %.17g, the math gives %.17g", st_what, label, got, want);
}

/* Each label after the one before it, in text; returns where the last starts. */
static inline const char *st_in_order(const char *text, const char *const *labels, int n)
{
    const char *p = text;
    for (int i = 0; i < n; i++) {
        const char *q = strstr(p, labels[i]);
        if (!q) fail_msg("%s: no '%s' after '%s'", st_what, labels[i], i ? labels[i - 1] : "(the start)");
        p = q + strlen(labels[i]);
    }
    return p;
}

/* text must not hold what (a second symbol for a quantity, a NaN, ASCII notation). */
static inline void st_never(const char *text, const char *what)
{
    if (strstr(text, what)) fail_msg("%s prints '%s':\n%.200s", st_what, what, strstr(text, what));
}

/* The reverse-mode step labels "  0′." … "  (n−1)′." between from and to,
 * each once and in order: returns the count. */
static inline int st_steps(const char *from, const char *to)
{
    int expect = 0;
    for (const char *p = from; p && p < to; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        int k, c = 0;
        if (sscanf(p, " %d′.%n", &k, &c) == 1 && c > 0) {
            if (k != expect) fail_msg("%s: step %d′ where %d′ was due:\n%.160s", st_what, k, expect, p);
            expect++;
        }
    }
    return expect;
}

/* The number after the last "= " on the line holding label (searched from
 * `from`); the line must exist. */
static inline double st_value(const char *from, const char *label)
{
    const char *p = strstr(from, label);
    if (!p) fail_msg("%s: no line '%s'", st_what, label);
    const char *eol = strchr(p, '\n'), *v = NULL;
    for (const char *q = p; (q = strstr(q, "= ")) && (!eol || q < eol); q += 2) v = q + 2;
    if (!v) fail_msg("%s: no '= value' on the line '%.80s'", st_what, p);
    return strtod(v, NULL);
}

/* The numbers on the line holding label, after the label (at most max). */
static inline int st_row(const char *from, const char *label, double *v, int max)
{
    const char *p = strstr(from, label);
    if (!p) fail_msg("%s: no line '%s'", st_what, label);
    const char *eol = strchr(p, '\n');
    p += strlen(label);
    int n = 0;
    while (n < max && *p && (!eol || p < eol)) {
        char *e;
        double x = strtod(p, &e);
        if (e == p) { p++; continue; }
        v[n++] = x;
        p = e;
    }
    return n;
}

/* JSON helpers: a number at key, element i of an array at key. */
static inline double st_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) fail_msg("%s: the JSON has no number '%s'", st_what, key);
    return v->valuedouble;
}
static inline double st_at(const cJSON *o, const char *key, int i)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *v = cJSON_GetArrayItem(a, i);
    if (!cJSON_IsNumber(v)) fail_msg("%s: the JSON has no number %s[%d]", st_what, key, i);
    return v->valuedouble;
}
static inline const cJSON *st_obj(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) fail_msg("%s: the JSON has no '%s'", st_what, key);
    return v;
}

#endif
