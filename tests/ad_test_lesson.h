/* ad_test_lesson.h: running a lesson from a test (test_lesson_options,
 * test_lesson_fidelity, test_lesson_slips). meson gives each lesson's path
 * in the environment, under its name in upper case. Include after ad_test.h. */
#ifndef AD_TEST_LESSON_H
#define AD_TEST_LESSON_H

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <sys/wait.h>

/* The path of lesson `name` (a test fails where meson did not set it). */
static inline const char *ad_test_lesson_path(const char *name)
{
    char env[64];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof env; i++) env[i] = (char)toupper((unsigned char)name[i]);
    env[i] = '\0';
    const char *p = getenv(env);
    if (!p) fail_msg("environment variable %s (the lesson's path) is not set; run through meson test", env);
    return p;
}

/* Run lesson NAME with ARGS, its stdout into out (len bytes, cut there;
 * stderr dropped); the exit status, -1 if it did not exit. */
static inline int ad_test_lesson_run(const char *name, const char *args, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s 2>/dev/null", ad_test_lesson_path(name), args);
    return ad_test_popen(cmd, out, len);
}

/* The same with --json, parsed (a test fails on a non-zero exit or bad JSON). */
static inline cJSON *ad_test_lesson_json(const char *name, const char *args, char *out, size_t len)
{
    char a[1024];
    snprintf(a, sizeof a, "--json %s", args);
    int st = ad_test_lesson_run(name, a, out, len);
    if (st != 0) fail_msg("%s %s: exit %d", name, a, st);
    cJSON *doc = cJSON_Parse(out);
    if (!doc) fail_msg("%s %s: no valid JSON", name, a);
    return doc;
}

#endif
