/* test_cli_fuzz.c: every command with random and hostile arguments.
 *
 *   test_cli_fuzz SECONDS_PER_COMMAND RANDOM_RUNS COMMAND...
 *
 * For each command: its options are read from its --help; then it runs with
 * each option with a hostile value, with an extreme number (1e308, 1e-320...),
 * and missing its value, then
 * RANDOM_RUNS seeded random mixes of options, hostile values and junk
 * (fewer if SECONDS_PER_COMMAND is spent first: the bound keeps the suite's
 * time fixed). A run fails the test if it
 *   - dies of a signal (a crash, or abort() from a sanitizer),
 *   - runs past 60 s (a hang; the arguments are kept to small work),
 *   - prints a sanitizer report (AddressSanitizer, LeakSanitizer, UBSan),
 *   - exits 0 with --json and prints anything but JSON whose numbers are all
 *     finite (cJSON writes NaN and inf as null, so null counts as NaN, but
 *     for the nulls a command means, listed in null_by_design), or exits 0
 *     after saying FAILED.
 * Each run has its own empty working folder, stdin from /dev/null.
 * Failures in other issues' areas that are not fixed yet are listed in
 * `known` with their issue number: they are reported as KNOWN, not hidden,
 * and one that stops failing is reported too, so the entry can go. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_ARGS = 16, MAX_OPTS = 48, HANG_SECONDS = 60 };

/* Cases that fail for a reason another issue owns: the command, and a piece
 * of the argument list that makes it fail. */
static const struct {
    const char *command, *args, *issue;
} known[] = {
    {NULL, NULL, NULL},   /* none today */
};

/* Commands that do their work only when given every required option: a
 * complete invocation ("@" is the source tree, $SOURCE_ROOT), in which each
 * value in turn is replaced by each of path_values. */
static const struct {
    const char *command;
    const char *args[8];
} baselines[] = {
    {"autograde",
     {"--assignment", "@/gradcheck/autograde/example/assignment.json", "--submission",
      "@/gradcheck/autograde/example/solution.c", "--out", "out", NULL}},
};
static const char *const path_values[] = {".", "/dev/null", "/nonexistent/x", "/proc", "/dev/full", ""};

static const char *const hostile[] = {
    "",        "-1",   "0",         "nan",  "inf",  "-inf", "1e308", "-1e308", "1e-320", "abc", "99999999999999999999",
    "2147483648", "-9223372036854775809", "0x10", "1.5", "1x", "--", "-", "%s%n%s", "/nonexistent/x", "/dev/null",
    "/proc",   ".",    "/dev/full", "\x01\x7f\xff", "cuda", "A", "B",
};
static const char *const junk[] = {"--", "-", "--bogus", "-x", "positional", "--json=1", "--=", "\xff\xfe"};
static const char *const formulas[] = {
    "x",   "x*y",   "log(0)+x", "x/(y-y)", "((((x", "x)))", "sin(", "1e999*x", "exp(exp(exp(x)))", "x^-0.5",
    "max(x)", "pi*e", "",     "    ",    "x y",
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static unsigned next_rand(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(rng_state >> 33);
}

static char *slurp(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    char *s = malloc(max + 1);
    size_t n = f ? fread(s, 1, max, f) : 0;
    if (f) fclose(f);
    s[n] = '\0';
    return s;
}

/* JSON nulls that mean "no value" by design, not a NaN: the command and the
 * path's start ("[]" stands for any index). */
static const struct {
    const char *command, *path;
} null_by_design[] = {
    {"finite_differences", ".errors[]"},   /* "null where x ± ε rounds back to x (no step)" */
};

/* The first null or non-finite number in the document (its path into
 * path), skipping the nulls by design of `command`; false if none. */
static bool has_nan(const char *command, const cJSON *j, char *path, size_t len, size_t at)
{
    bool bad = cJSON_IsNull(j) || (cJSON_IsNumber(j) && !(j->valuedouble - j->valuedouble == 0));
    if (bad && cJSON_IsNull(j))
        for (size_t k = 0; k < sizeof null_by_design / sizeof *null_by_design; k++) {
            if (strcmp(command, null_by_design[k].command)) continue;
            /* compare with "[]" matching any [digits] */
            const char *p = path, *q = null_by_design[k].path;
            while (*q) {
                if (q[0] == '[' && q[1] == ']' && *p == '[') {
                    while (*p && *p != ']') p++;
                    if (*p) p++;
                    q += 2;
                } else if (*p == *q) {
                    p++, q++;
                } else {
                    break;
                }
            }
            if (!*q) bad = false;
        }
    if (bad) return true;
    int i = 0;
    for (const cJSON *c = j->child; c; c = c->next, i++) {
        if (c->string) snprintf(path + at, len - at, ".%s", c->string);
        else snprintf(path + at, len - at, "[%d]", i);
        if (has_nan(command, c, path, len, strlen(path))) return true;
        path[at] = '\0';
    }
    return false;
}

typedef struct result {
    int status;          /* wait status */
    bool hung;
    char *out, *err;
} result;

/* Run argv in a fresh folder under work; capture stdout and stderr. */
static result run(const char *work, char *const *argv)
{
    result r = {0};
    char dir[700], out[700], err[700];
    snprintf(dir, sizeof dir, "%s/run", work);
    snprintf(out, sizeof out, "%s/stdout", work);
    snprintf(err, sizeof err, "%s/stderr", work);
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_cli_fuzz: cannot make %s\n", dir);
        exit(1);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        setpgid(0, 0);   /* its own group: a hang's children are killed with it */
        if (chdir(dir) != 0) _exit(126);
        int in = open("/dev/null", O_RDONLY), o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644),
            e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || o < 0 || e < 0) _exit(126);
        dup2(in, 0), dup2(o, 1), dup2(e, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    double t0 = now();
    while (1) {
        pid_t w = waitpid(pid, &r.status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) {
            perror("waitpid");
            exit(1);
        }
        if (now() - t0 > HANG_SECONDS) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &r.status, 0);
            r.hung = true;
            break;
        }
        usleep(2000);
    }
    r.out = slurp(out, 1 << 20);
    r.err = slurp(err, 1 << 16);
    return r;
}

/* Why the run failed, or NULL. */
static const char *verdict(const char *command, const result *r, bool json, char *why, size_t len)
{
    if (WIFEXITED(r->status) && WEXITSTATUS(r->status) >= 126 && !r->out[0] && !r->err[0])
        return snprintf(why, len, "could not be run (exit %d)", WEXITSTATUS(r->status)), why;
    if (r->hung) return snprintf(why, len, "still running after %d s (a hang)", HANG_SECONDS), why;
    if (WIFSIGNALED(r->status)) return snprintf(why, len, "killed by signal %d", WTERMSIG(r->status)), why;
    const char *reports[] = {"AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer"};
    for (int k = 0; k < 4; k++)
        if (strstr(r->err, reports[k]) || strstr(r->out, reports[k]))
            return snprintf(why, len, "sanitizer report (%s)", reports[k]), why;
    if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0 && json) {
        cJSON *doc = cJSON_Parse(r->out);
        if (!doc) return snprintf(why, len, "exit 0 with --json, but stdout is not JSON"), why;
        char path[512] = "";
        bool bad = has_nan(command, doc, path, sizeof path, 0);
        cJSON_Delete(doc);
        if (bad) return snprintf(why, len, "exit 0 with NaN, inf or null at %.200s in its --json output", path), why;
        if (strstr(r->err, "FAILED:")) return snprintf(why, len, "exit 0 after printing FAILED"), why;
    }
    return NULL;
}

/* The command's options, from its --help. */
static int harvest_options(const char *work, const char *exe, char opts[][32])
{
    char *argv[] = {(char *)exe, "--help", NULL};
    result r = run(work, argv);
    int n = 0;
    const char *texts[2] = {r.out, r.err};
    for (int t = 0; t < 2; t++)
        for (const char *p = texts[t]; (p = strstr(p, "--")) != NULL && n < MAX_OPTS;) {
            const char *q = p + 2;
            while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-') q++;
            size_t len = (size_t)(q - p);
            if (len >= 3 && len < 32 && p[2] != '-') {
                char o[32];
                memcpy(o, p, len);
                o[len] = '\0';
                bool seen = false;
                for (int i = 0; i < n && !seen; i++) seen = !strcmp(opts[i], o);
                if (!seen && strcmp(o, "--help")) strcpy(opts[n++], o);
            }
            p = q;
        }
    free(r.out);
    free(r.err);
    return n;
}

/* A failed run: KNOWN if `known` lists it, else FAIL (counted in *failures). */
static void report(const char *name, const char *line, const char *bad, const result *r, int *failures,
                   int *known_hits, bool *known_seen)
{
    int kn = -1;
    for (size_t i = 0; i < sizeof known / sizeof known[0] && kn < 0; i++)
        if (known[i].command && known[i].args && !strcmp(known[i].command, name) && strstr(line, known[i].args))
            kn = (int)i;
    if (kn >= 0) {
        (*known_hits)++;
        known_seen[kn] = true;
        printf("KNOWN (issue %s): %s%s: %s\n", known[kn].issue ? known[kn].issue : "?", name, line, bad);
    } else {
        (*failures)++;
        printf("FAIL: %s%s: %s\n", name, line, bad);
        printf("  stderr: %.600s\n", r->err);
    }
}

/* Run av (NULL-terminated) and judge it: 1 if it failed (not a known failure), else 0. */
static int run_and_judge(const char *work, const char *name, char *const *av, bool json, int *known_hits,
                         bool *known_seen)
{
    char line[2048] = "";
    size_t used = 0;
    for (int i = 1; av[i] && used < sizeof line - 1; i++)
        used += (size_t)snprintf(line + used, sizeof line - used, " '%.40s%s'", av[i], strlen(av[i]) > 40 ? "..." : "");
    /* --help, --version and --man print their text and exit 0 whatever else is given: no JSON then */
    for (int i = 1; av[i]; i++)
        if (!strcmp(av[i], "--help") || !strcmp(av[i], "--version") || !strcmp(av[i], "--man")) json = false;
    result r = run(work, av);
    char why[400];
    int failures = 0;
    const char *bad = verdict(name, &r, json, why, sizeof why);
    if (bad) report(name, line, bad, &r, &failures, known_hits, known_seen);
    free(r.out);
    free(r.err);
    return failures;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_cli_fuzz SECONDS_PER_COMMAND RANDOM_RUNS COMMAND...\n");
        return 2;
    }
    double budget = atof(argv[1]);
    long runs_per = atol(argv[2]);
    char work[] = "/tmp/test_cli_fuzz.XXXXXX";
    if (!mkdtemp(work)) {
        perror("mkdtemp");
        return 1;
    }
    /* a long formula and deep nesting (within the kernel's 128 KiB per argument) */
    static char long_formula[100001], deep[120002];
    for (int i = 0; i < 50000; i++) memcpy(long_formula + 2 * i, i ? "+x" : "x+", 2);
    long_formula[99999] = 'x', long_formula[100000] = '\0';
    memset(deep, '(', 60000), deep[60000] = 'x', memset(deep + 60001, ')', 60000), deep[120001] = '\0';
    int failures = 0, known_hits = 0, total = 0;
    bool known_seen[sizeof known / sizeof known[0]] = {0};
    for (int c = 3; c < argc; c++) {
        char exe_path[4096];
        if (!realpath(argv[c], exe_path)) {   /* the runs chdir into their own folders */
            fprintf(stderr, "test_cli_fuzz: no command %s\n", argv[c]);
            return 1;
        }
        const char *exe = exe_path, *name = base_name(exe);
        char opts[MAX_OPTS][32];
        int n_opts = harvest_options(work, exe, opts);
        bool is_lenet = !strcmp(name, "lenet"), is_formula = !strcmp(name, "autodidact");
        double t0 = now();
        long done = 0;
        /* the complete invocation, if any, with each value replaced in turn */
        const char *const *base = NULL;
        for (size_t b = 0; b < sizeof baselines / sizeof *baselines; b++)
            if (!strcmp(baselines[b].command, name)) base = baselines[b].args;
        static char base_args[8][1024];
        int n_base = 0;
        const char *src = getenv("SOURCE_ROOT");
        for (int i = 0; base && src && base[i]; i++, n_base++)
            snprintf(base_args[i], sizeof base_args[i], "%s%s", base[i][0] == '@' ? src : "", base[i] + (base[i][0] == '@'));
        int n_path = (int)(sizeof path_values / sizeof *path_values), n_swaps = n_base / 2 * n_path;
        for (int k = 0; k < n_swaps && now() - t0 < budget; k++, done++) {
            char *av[12];
            int n = 0;
            av[n++] = (char *)exe;
            for (int i = 0; i < n_base; i++)
                av[n++] = i == 2 * (k / n_path) + 1 ? (char *)path_values[k % n_path] : base_args[i];
            av[n] = NULL;
            failures += run_and_judge(work, name, av, false, &known_hits, known_seen);
            total++;
        }
        for (long k = 0; k < 3 * n_opts + runs_per && now() - t0 < budget; k++, done++) {
            char *av[MAX_ARGS + 12];
            int n = 0;
            av[n++] = (char *)exe;
            /* --json where the command has it, first (so that no option takes it for its value):
             * every option run, half the random ones */
            bool want_json = false;
            for (int i = 0; i < n_opts; i++)
                if (!strcmp(opts[i], "--json") && (k < 3 * n_opts || next_rand() % 2)) want_json = true;
            if (want_json) av[n++] = "--json";
            if (is_lenet) {   /* small work: 64 images, one epoch (later arguments may override) */
                const char *pre[] = {"--limit", "64", "--epochs", "1", "--batch", "32", "--threads", "1"};
                for (int i = 0; i < 8; i++) av[n++] = (char *)pre[i];
            }
            if (is_formula) {
                unsigned f = next_rand() % (sizeof formulas / sizeof *formulas + 2);
                av[n++] = f == 0 ? long_formula : f == 1 ? deep : (char *)formulas[f - 2];
                av[n++] = "--at";
                av[n++] = k % 3 ? "x=0.5,y=2" : (char *)hostile[next_rand() % (sizeof hostile / sizeof *hostile)];
            }
            if (k < n_opts) {   /* each option with a hostile value (a different one for each) */
                av[n++] = opts[k];
                av[n++] = (char *)hostile[(unsigned)(5 * k + 3 * c) % (sizeof hostile / sizeof *hostile)];
            } else if (k < 2 * n_opts) {   /* each option with an extreme number */
                static const char *const extreme[] = {"1e308", "-1e308", "1e154", "1e-320", "-0"};
                av[n++] = opts[k - n_opts];
                av[n++] = (char *)extreme[(unsigned)(k + c) % (sizeof extreme / sizeof *extreme)];
            } else if (k < 3 * n_opts) {   /* each option with its value missing */
                av[n++] = opts[k - 2 * n_opts];
            } else {   /* random mixes */
                int m = 1 + (int)(next_rand() % 5);
                for (int i = 0; i < m && n < MAX_ARGS; i++) {
                    unsigned pick = next_rand() % 10;
                    if (pick < 7 && n_opts) {
                        av[n++] = opts[next_rand() % (unsigned)n_opts];
                        av[n++] = (char *)hostile[next_rand() % (sizeof hostile / sizeof *hostile)];
                    } else if (pick < 8 && n_opts) {
                        av[n++] = opts[next_rand() % (unsigned)n_opts];
                    } else {
                        av[n++] = (char *)junk[next_rand() % (sizeof junk / sizeof *junk)];
                    }
                }
            }
            av[n] = NULL;
            failures += run_and_judge(work, name, av, want_json, &known_hits, known_seen);
            total++;
        }
        printf("%-20s %3ld runs (%d options) in %.1f s\n", name, done, n_opts, now() - t0);
        fflush(stdout);
    }
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].command && known[i].args && !known_seen[i])
            printf("note: known failure (issue %s) '%s %s' did not occur in this run (fixed, or seen only under a "
                   "sanitizer?)\n",
                   known[i].issue, known[i].command, known[i].args);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (system(cmd) != 0) fprintf(stderr, "test_cli_fuzz: could not remove %s\n", work);
    printf("test_cli_fuzz: %d runs, %d failures, %d known failures (other issues)\n", total, failures, known_hits);
    return failures ? 1 : 0;
}
