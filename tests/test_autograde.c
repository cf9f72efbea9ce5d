/* test_autograde.c: the grader against hostile submissions
 * (tests/autograde_corpus/manifest.txt): wrong gradients of every kind, and
 * submissions that attack the grader at compile time, at load time and at
 * run time. For each one, graded as the user running the suite and, when
 * that is root, with the grader itself running as an unprivileged user:
 *   - the score is the expected one and the report names the problem;
 *   - a secret planted next to the submission (readable by the grader)
 *     appears in no output;
 *   - nothing outside the output directory changed (a canary file and
 *     directory writable by everyone, the grader's working directory), and
 *     the output directory holds exactly the four reports, each a regular
 *     file, results.json valid UTF-8 JSON in Gradescope's format, even
 *     where a symlink and a FIFO were planted under their names;
 *   - no process of the submission survives the grader.
 * No exception under AddressSanitizer: the submission runs in a static,
 * uninstrumented program of its own, so its memory limit holds there too. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "autograde_test.h"

enum { AG_MAX_CHECKED = 1024 };   /* feedback fields checked: results.json's and its tests' */

/* Replace every occurrence of key in *s by value (reallocating). */
static void replace_all(char **s, const char *key, const char *value)
{
    char *p;
    while ((p = strstr(*s, key))) {
        size_t pre = (size_t)(p - *s), kl = strlen(key), vl = strlen(value), rest = strlen(p + kl);
        char *t = malloc(pre + vl + rest + 1);
        memcpy(t, *s, pre), memcpy(t + pre, value, vl), memcpy(t + pre + vl, p + kl, rest + 1);
        free(*s);
        *s = t;
    }
}

static bool valid_utf8(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 && c <= 0xf4 ? 4 : 0;
        if (!k || i + k > n) return false;
        for (size_t j = 1; j < k; j++)
            if ((p[i + j] & 0xc0) != 0x80) return false;
        if (k == 3 && ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] >= 0xa0))) return false;
        if (k == 4 && ((c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] >= 0x90))) return false;
        i += k;
    }
    return true;
}

/* Gradescope's results.json: score, execution_time, output, tests[] with
 * name, score, max_score, status, output, visibility. */
static void check_gradescope_format(const cJSON *doc, int n_tests)
{
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(doc, "score")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(doc, "execution_time")));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(doc, "output")));
    const cJSON *tests = cJSON_GetObjectItem(doc, "tests"), *t;
    assert_true(cJSON_IsArray(tests));
    assert_int_equal(cJSON_GetArraySize(tests), n_tests);
    cJSON_ArrayForEach(t, tests)
    {
        assert_true(cJSON_IsString(cJSON_GetObjectItem(t, "name")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(t, "score")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(t, "max_score")));
        assert_true(cJSON_GetObjectItem(t, "score")->valuedouble <= cJSON_GetObjectItem(t, "max_score")->valuedouble);
        const char *st = cJSON_GetObjectItem(t, "status")->valuestring;
        assert_true(!strcmp(st, "passed") || !strcmp(st, "failed"));
        assert_true(cJSON_IsString(cJSON_GetObjectItem(t, "output")));
        const char *v = cJSON_GetObjectItem(t, "visibility")->valuestring;
        assert_true(!strcmp(v, "visible") || !strcmp(v, "hidden") || !strcmp(v, "after_due_date") ||
                    !strcmp(v, "after_published"));
    }
}

/* A line of text that only the grader may write: a score or a test's verdict. */
static bool verdict_line(const char *line)
{
    return !strncmp(line, "Score:", 6) || !strncmp(line, "[PASS]", 6) || !strncmp(line, "[FAIL]", 6);
}

/* No forged verdict: the feedback fields of results.json hold no verdict
 * line at all, and report.txt holds one score line and one verdict line per
 * test, in order, each saying what results.json says. */
static void check_no_forged_lines(const char *name, const cJSON *doc, const char *report)
{
    const cJSON *t, *tests = cJSON_GetObjectItem(doc, "tests");
    const char *outs[AG_MAX_CHECKED];
    int n_out = 0;
    outs[n_out++] = cJSON_GetObjectItem(doc, "output")->valuestring;
    cJSON_ArrayForEach(t, tests) if (n_out < AG_MAX_CHECKED) outs[n_out++] = cJSON_GetObjectItem(t, "output")->valuestring;
    for (int i = 0; i < n_out; i++)
        for (const char *l = outs[i]; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
            if (verdict_line(l)) fail_msg("%s: results.json's feedback holds a verdict line: %.60s", name, l);
    int scores = 0, k = 0;
    for (const char *l = report; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (!verdict_line(l)) continue;
        if (l[0] == 'S') {
            scores++;
            continue;
        }
        const cJSON *tk = cJSON_GetArrayItem(tests, k++);
        char want[300];
        if (!tk) fail_msg("%s: report.txt has more verdict lines than tests: %.60s", name, l);
        snprintf(want, sizeof want, "[%s] %s  ", strcmp(cJSON_GetObjectItem(tk, "status")->valuestring, "passed") ? "FAIL" : "PASS",
                 cJSON_GetObjectItem(tk, "name")->valuestring);
        if (strncmp(l, want, strlen(want))) fail_msg("%s: report.txt says '%.60s' where it should say '%s'", name, l, want);
    }
    if (scores != 1 || k != cJSON_GetArraySize(tests))
        fail_msg("%s: report.txt has %d score lines and %d verdict lines for %d tests", name, scores, k,
                 cJSON_GetArraySize(tests));
}

/* Processes still running a runner of this grader (it makes its work
 * directory in $TMPDIR, the test's own): none once the grader has exited. */
static int surviving_runners(const char *tmpdir)
{
    DIR *d = opendir("/proc");
    const struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char link[300], target[4096];
        snprintf(link, sizeof link, "/proc/%s/exe", e->d_name);
        ssize_t k = readlink(link, target, sizeof target - 1);
        if (k <= 0) continue;
        target[k] = '\0';
        if (!strncmp(target, tmpdir, strlen(tmpdir)) && strstr(target, "/runner")) {
            print_error("a process of a submission survived: pid %s (%s)\n", e->d_name, target);
            n++;
        }
    }
    if (d) closedir(d);
    return n;
}

/* The entries of a directory, sorted, joined by spaces. */
static void list_dir(const char *path, char *out, size_t len)
{
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, ".."))
            snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? " " : "", names[i]->d_name);
        free(names[i]);
    }
    if (n >= 0) free(names);
}

typedef struct run_env {
    const char *exe, *src;
    bool as_nobody;      /* the grader itself runs as nobody (only when the suite is root) */
    char *solution;      /* the reference solution's text */
    int n_tests;         /* in the example assignment */
} run_env;

/* Grade one corpus submission and check everything the file comment lists. */
static void run_case(const run_env *env, const char *name, double expected, const char *phrase)
{
    char scratch[] = "/tmp/ag-test.XXXXXX", path[8192], cmd[16384], token[96];
    assert_non_null(mkdtemp(scratch));
    assert_int_equal(chmod(scratch, 0755), 0);
    snprintf(token, sizeof token, "AUTOGRADE-SECRET-%d-%ld", (int)getpid(), random());
    const char *dirs[] = {"secret", "canary", "out", "cwd", "tmp"};
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", scratch, dirs[i]);
        assert_int_equal(mkdir(path, 0755), 0);
    }
    /* the secret: readable by the grader, by no one else */
    char secret[4096], canary_dir[4096], out[4096], cwd[4096];
    snprintf(secret, sizeof secret, "%s/secret/secret.txt", scratch);
    snprintf(canary_dir, sizeof canary_dir, "%s/canary", scratch);
    snprintf(out, sizeof out, "%s/out", scratch);
    snprintf(cwd, sizeof cwd, "%s/cwd", scratch);
    spit(secret, token, 0600);
    /* the canary: writable by everyone, so only the sandbox can protect it */
    snprintf(path, sizeof path, "%s/canary.txt", canary_dir);
    spit(path, "canary\n", 0666);
    assert_int_equal(chmod(canary_dir, 0777), 0);
    assert_int_equal(chmod(cwd, 0777), 0);
    char tmpdir[4200];
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp/", scratch);
    assert_int_equal(chmod(tmpdir, 0777), 0);
    /* planted where the reports go: a symlink to the canary and a FIFO */
    snprintf(cmd, sizeof cmd, "%s/results.json", out);
    assert_int_equal(symlink(path, cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/junit.xml", out);
    assert_int_equal(mkfifo(cmd, 0666), 0);

    /* the submission, self-contained, and the assignment with a short compile limit */
    snprintf(path, sizeof path, "%s/tests/autograde_corpus/%s", env->src, name);
    char *sub = slurp(path, NULL);
    if (!sub) fail_msg("%s: cannot read %s", name, path);
    replace_all(&sub, "#include \"@SOLUTION@\"", env->solution);
    replace_all(&sub, "@SECRET@", secret);
    replace_all(&sub, "@CANARY@", canary_dir);
    replace_all(&sub, "@OUT@", out);
    replace_all(&sub, "@SOURCE_ROOT@", env->src);
    if (strstr(sub, "@MEMORIZED_TABLE@")) {
        /* the example assignment's answers under the grader's old fixed seed (2026) */
        snprintf(cmd, sizeof cmd, "%s %s/gradcheck/autograde/example/assignment.json 2026 > %s/table.h",
                 getenv("AUTOGRADE_MEMORIZE"), env->src, scratch);
        if (system(cmd) != 0) fail_msg("%s: autograde_memorize failed", name);
        snprintf(path, sizeof path, "%s/table.h", scratch);
        char *table = slurp(path, NULL);
        assert_non_null(table);
        replace_all(&sub, "@MEMORIZED_TABLE@", table);
        free(table);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/%s", scratch, name);
    spit(path, sub, 0644);
    free(sub);
    snprintf(path, sizeof path, "%s/gradcheck/autograde/example/assignment.json", env->src);
    char *js = slurp(path, NULL);
    cJSON *doc = cJSON_Parse(js);
    free(js);
    assert_non_null(doc);
    /* Wall-clock limits far above what a legal submission needs even on a
     * loaded machine (CPU limits, which load does not touch, stop the
     * endless ones), and a short compile limit for the include bomb. */
    cJSON *lim = cJSON_AddObjectToObject(doc, "limits");
    cJSON_AddNumberToObject(lim, "wall_seconds", 30);
    cJSON_AddNumberToObject(lim, "compile_seconds", 20);
    js = cJSON_Print(doc);
    cJSON_Delete(doc);
    snprintf(path, sizeof path, "%s/assignment.json", scratch);
    spit(path, js, 0644);
    free(js);
    if (env->as_nobody) {
        snprintf(cmd, sizeof cmd, "chown -R nobody:nogroup %s/secret %s/out %s/%s %s/assignment.json", scratch, scratch,
                 scratch, name, scratch);
        assert_int_equal(system(cmd), 0);
    }

    snprintf(cmd, sizeof cmd,
             "cd %s && TMPDIR=%s %s %s --assignment %s/assignment.json --submission %s/%s --out %s > %s/stdout 2> %s/stderr", cwd,
             tmpdir, env->as_nobody ? "setpriv --reuid=nobody --regid=nogroup --clear-groups" : "", env->exe, scratch, scratch,
             name, out, scratch, scratch);
    int st = system(cmd);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(path, sizeof path, "%s/stderr", scratch);
        char *e = slurp(path, NULL);
        fail_msg("%s: the grader itself failed (status %d): %s", name, st, e ? e : "");
    }

    /* the reports: exactly four regular files */
    char listing[1024];
    list_dir(out, listing, sizeof listing);
    if (strcmp(listing, "junit.xml report.txt results.json results.tap"))
        fail_msg("%s: the output directory holds '%s'", name, listing);
    const char *reports[] = {"results.json", "report.txt", "junit.xml", "results.tap", "../stdout", "../stderr"};
    char *text[6];
    size_t len[6];
    for (int i = 0; i < 6; i++) {
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", out, reports[i]);
        assert_int_equal(lstat(path, &sb), 0);
        if (!S_ISREG(sb.st_mode)) fail_msg("%s: %s is not a regular file", name, reports[i]);
        text[i] = slurp(path, &len[i]);
        assert_non_null(text[i]);
        if (memmem(text[i], len[i], token, strlen(token))) fail_msg("%s: the secret leaked into %s", name, reports[i]);
    }
    if (!valid_utf8((const unsigned char *)text[0], len[0])) fail_msg("%s: results.json is not valid UTF-8", name);
    doc = cJSON_Parse(text[0]);
    if (!doc) fail_msg("%s: results.json is not JSON", name);
    check_gradescope_format(doc, env->n_tests);
    check_no_forged_lines(name, doc, text[1]);
    double score = cJSON_GetObjectItem(doc, "score")->valuedouble;
    cJSON_Delete(doc);
    if (fabs(score - expected) > 1e-9) fail_msg("%s: score %g, expected %g\n%s", name, score, expected, text[1]);
    double txt_score = -1;
    if (sscanf(text[1], "Score: %lf /", &txt_score) != 1 || fabs(txt_score - score) > 1e-9)
        fail_msg("%s: report.txt's score disagrees with results.json's (%g)", name, score);
    if (!strstr(text[1], phrase)) fail_msg("%s: the report lacks '%s':\n%s", name, phrase, text[1]);
    for (int i = 0; i < 6; i++) free(text[i]);
    snprintf(cmd, sizeof cmd, "command -v xmllint >/dev/null 2>&1 && ! xmllint --noout %s/junit.xml", out);
    if (system(cmd) == 0) fail_msg("%s: junit.xml is not well-formed", name);

    /* nothing outside the output directory changed */
    snprintf(path, sizeof path, "%s/canary.txt", canary_dir);
    char *canary = slurp(path, NULL);
    if (!canary || strcmp(canary, "canary\n")) fail_msg("%s: the canary file changed", name);
    free(canary);
    list_dir(canary_dir, listing, sizeof listing);
    if (strcmp(listing, "canary.txt")) fail_msg("%s: the canary directory holds '%s'", name, listing);
    list_dir(cwd, listing, sizeof listing);
    if (listing[0]) fail_msg("%s: the grader's working directory holds '%s'", name, listing);
    list_dir(tmpdir, listing, sizeof listing);
    if (listing[0]) fail_msg("%s: the grader left '%s' in its temporary directory", name, listing);
    if (surviving_runners(tmpdir) != 0) fail_msg("%s: a process of the submission outlived the grader", name);

    snprintf(cmd, sizeof cmd, "rm -rf %s", scratch);
    assert_int_equal(system(cmd), 0);
}

static void run_corpus(bool as_nobody)
{
    run_env env = {getenv("AUTOGRADE"), getenv("SOURCE_ROOT"), as_nobody, NULL, 0};
    if (!env.exe || !env.src) fail_msg("AUTOGRADE and SOURCE_ROOT must be set; run through meson test");
    char path[8192], line[512];
    snprintf(path, sizeof path, "%s/gradcheck/autograde/example/solution.c", env.src);
    env.solution = slurp(path, NULL);
    assert_non_null(env.solution);
    snprintf(path, sizeof path, "%s/gradcheck/autograde/example/assignment.json", env.src);
    char *js = slurp(path, NULL);
    cJSON *doc = cJSON_Parse(js);
    env.n_tests = cJSON_GetArraySize(cJSON_GetObjectItem(doc, "tests"));
    cJSON_Delete(doc), free(js);
    snprintf(path, sizeof path, "%s/tests/autograde_corpus/manifest.txt", env.src);
    FILE *m = fopen(path, "r");
    assert_non_null(m);
    int cases = 0;
    const char *only = getenv("AUTOGRADE_CASE");   /* one case, while working on it */
    while (fgets(line, sizeof line, m)) {
        char name[128], phrase[256];
        double expected;
        if (line[0] == '#' || sscanf(line, "%127s %lf %255[^\n]", name, &expected, phrase) != 3) continue;
        if (only && strcmp(only, name)) continue;
        run_case(&env, name, expected, phrase);
        cases++;
    }
    fclose(m);
    free(env.solution);
    assert_true(only ? cases == 1 : cases >= 40);
}

static void test_corpus(void **state)
{
    (void)state;
    if (geteuid() != 0) print_message("not root: the corpus runs as this (unprivileged) user\n");
    run_corpus(false);
}

static void test_corpus_grader_unprivileged(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("skipped: not root, so the grader cannot be started as another user (test_corpus already "
                      "ran it unprivileged)\n");
        skip();
    }
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "setpriv --reuid=nobody --regid=nogroup --clear-groups %s --version >/dev/null 2>&1",
             getenv("AUTOGRADE"));
    if (system(cmd) != 0) {
        print_message("skipped: user nobody cannot run %s (its directory is not readable by others)\n",
                      getenv("AUTOGRADE"));
        skip();
    }
    run_corpus(true);
}


static void test_usage_errors(void **state)
{
    (void)state;
    assert_int_equal(run(">/dev/null 2>&1"), 2);
    assert_int_equal(run("--help 2>/dev/null | grep -q 'usage: autograde'"), 0);
    assert_int_equal(run("--version 2>/dev/null | grep -q '^autograde '"), 0);
    assert_int_equal(run("--bogus 2>&1 | grep -q \"unknown option '--bogus'\""), 0);
    assert_int_equal(run("--bogus >/dev/null 2>&1"), 2);
    assert_int_equal(run("--seed >/dev/null 2>&1"), 2);
    assert_int_equal(run("--seed abc --assignment a --submission b --out c >/dev/null 2>&1"), 2);
    assert_int_equal(run("--seed=-1 --assignment a --submission b --out c >/dev/null 2>&1"), 2);
    assert_int_equal(run("--validate a.json >/dev/null 2>&1"), 2);                       /* no --reference */
    assert_int_equal(run("--validate a.json --reference r.c --out o >/dev/null 2>&1"), 2);
    assert_int_equal(run("--reference r.c --assignment a --submission b --out c >/dev/null 2>&1"), 2);
    assert_int_equal(run("--check-assignment a.json --seed 3 >/dev/null 2>&1"), 2);
    assert_int_equal(run("--assignment /nonexistent.json --submission x.c --out o >/dev/null 2>&1"), 2);
    /* a directory and a FIFO as the assignment: refused at once, no crash, no hang */
    assert_int_equal(run("--assignment /tmp --submission x.c --out o >/dev/null 2>&1"), 2);
    char fifo[] = "/tmp/ag-fifo.XXXXXX", args[512];
    assert_non_null(mkdtemp(fifo));
    snprintf(args, sizeof args, "%s/f", fifo);
    assert_int_equal(mkfifo(args, 0600), 0);
    snprintf(args, sizeof args, "--assignment %s/f --submission x.c --out o >/dev/null 2>&1", fifo);
    assert_int_equal(run(args), 2);
    snprintf(args, sizeof args, "rm -rf %s", fifo);
    assert_int_equal(system(args), 0);
}

/* Malformed assignments: each refused with a message naming the test. */
static void test_bad_assignments(void **state)
{
    (void)state;
    const char *bad[][2] = {
        {"{\"tests\": []}", "must hold 1 to"},
        {"{\"tests\": [{\"op\": \"gelu\", \"shape\": [3]}]}", "unknown op"},
        {"{\"tests\": [{\"op\": \"sigmoid\", \"shape\": [0]}]}", "whole numbers from 1 to 4096"},
        {"{\"tests\": [{\"op\": \"sigmoid\", \"shape\": [2.5]}]}", "whole numbers"},
        {"{\"tests\": [{\"op\": \"linear\", \"shape\": [3]}]}", "linear takes \"shape\": [N, I, O]"},
        {"{\"tests\": [{\"op\": \"conv2d\", \"shape\": [1, 1, 4, 4]}]}", "conv2d needs \"kernel\""},
        {"{\"tests\": [{\"op\": \"sigmoid\", \"shape\": [3], \"points\": -1}]}", "\"points\" must be a number"},
        {"{\"tests\": [{\"op\": \"sigmoid\", \"shape\": [3], \"visibility\": \"secret\"}]}", "\"visibility\" must be"},
        {"{\"tests\": [{\"op\": \"linear\", \"shape\": [4096, 4096, 4096]}]}", "more than the grader takes"},
        {"{\"tests\": [{\"op\": \"sigmoid\", \"shape\": [3]}], \"limits\": {\"cpu_seconds\": 0}}", "\"cpu_seconds\""},
        {"[1, 2", "not JSON"},
        {"{\"tests\": [{\"op\": \"sigmoid\", \"shape\": [3]}], \"limits\": {\"total_seconds\": 0}}", "\"total_seconds\""},
        {"{\"tests\": [{\"op\": \"sigmoid\", \"shape\": [3], \"scale\": 0}]}", "\"scale\" must be a number"},
        {"{\"tests\": [{\"op\": \"sigmoid\", \"shape\": [3], \"seed\": 7}]}", "cannot score"},
        {"{\"tests\": [{\"op\": \"sigmoid\", \"shape\": [3], \"seed\": 1.5, \"points\": 0}]}", "whole number"},
    };
    char dir[] = "/tmp/ag-bad.XXXXXX", path[512], args[1024];
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "%s/a.json", dir);
        spit(path, bad[i][0], 0644);
        snprintf(args, sizeof args, "--assignment %s --submission x.c --out %s/o 2>&1 | grep -qF '%s'", path, dir,
                 bad[i][1]);
        if (run(args) != 0) fail_msg("assignment %s: no message containing '%s'", bad[i][0], bad[i][1]);
        snprintf(args, sizeof args, "--assignment %s --submission x.c --out %s/o >/dev/null 2>&1", path, dir);
        assert_int_equal(run(args), 2);
    }
    snprintf(args, sizeof args, "rm -rf %s", dir);
    assert_int_equal(system(args), 0);
}

/* The Gradescope bundle: built from the working tree, without any
 * reference solution, with setup.sh and run_autograder at its root. */
static void test_bundle(void **state)
{
    (void)state;
    char cmd[8192], dir[] = "/tmp/ag-bundle.XXXXXX";
    if (system("command -v python3 >/dev/null 2>&1") != 0) {
        print_message("skipped: no python3 to list the zip\n");
        skip();
    }
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "%s/gradcheck/autograde/example/make_bundle.sh %s/bundle.zip >/dev/null", getenv("SOURCE_ROOT"), dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import sys, zipfile; n = zipfile.ZipFile(sys.argv[1]).namelist(); "
             "bad = [x for x in n if x.endswith('solution.c') or 'autograde_corpus' in x]; "
             "sys.exit(1 if bad or 'setup.sh' not in n or 'run_autograder' not in n or 'meson.build' not in n else 0)\" "
             "%s/bundle.zip",
             dir);
    if (system(cmd) != 0) fail_msg("the bundle ships a reference solution or lacks setup.sh / run_autograder");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_usage_errors), cmocka_unit_test(test_bad_assignments),
                                       cmocka_unit_test(test_bundle), cmocka_unit_test(test_corpus),
                                       cmocka_unit_test(test_corpus_grader_unprivileged)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
