/* autograde: grade a student's implementation of ad_student.h.
 *   autograde --assignment assignment.json --submission student.c --out DIR
 *
 * 1. The submission is copied into a fresh work directory with the runner's
 *    sources (runner.c, runner_protocol.h, ad_student.h: built into this
 *    program) and compiled into one static program, the runner, by the
 *    system compiler run as a sandboxed tool (sandbox.h): it can read the
 *    toolchain and the work directory only, within CPU, memory, output and
 *    wall-clock limits, and everything it prints is read to the end.
 * 2. Each test draws its arrays from the grading's seed (fresh from the
 *    kernel unless --seed repeats an earlier grading's), and the runner is executed in a
 *    sandboxed child whose seccomp filter is in place before the first
 *    instruction of the submission runs; the child returns only the arrays
 *    it computed.
 * 3. The grader compares them with the engine's own ops (grade.h) and
 *    writes results.json, junit.xml, results.tap and report.txt (reports.h), whatever the
 *    submission does.
 * The threat model and what each layer stops: sandbox.c and the README. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gsl/gsl_rng.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ad_cli.h"
#include "ad_report.h"
#include "assignment.h"
#include "embedded.h"
#include "grade.h"
#include "reports.h"
#include "sandbox.h"

enum { MAX_SUBMISSION_BYTES = 1 << 20, COMPILER_LOG_BYTES = 16 << 10 };

/* What the compiler may read besides its work directory: the toolchain,
 * the C library and the system headers. Nothing of the grader's, the
 * assignment's or anyone's home. */
static const char *const toolchain_paths[] = {"/usr/bin", "/bin", "/usr/lib", "/lib", "/lib64", "/usr/libexec",
                                              "/usr/include", "/usr/local/include", "/etc/ld.so.cache", NULL};

enum { O_ASSIGNMENT, O_SUBMISSION, O_OUT, O_SEED, O_SANDBOX_USER, O_CHECK, O_VALIDATE, O_REFERENCE, O_ACCEPTED,
       N_OPTIONS };
static const ad_cli_option options[N_OPTIONS] = {
    [O_ASSIGNMENT] = {"assignment", "FILE", "the tests (JSON): ops, shapes, points, visibility, limits"},
    [O_SUBMISSION] = {"submission", "FILE.c", "the student's file (one C file, at most 1 MiB)"},
    [O_OUT] = {"out", "DIR", "where results.json, junit.xml, results.tap and report.txt go\n(created if missing)"},
    [O_SEED] = {"seed", "N", "seed of the test arrays, 0 to 4294967295: the one an earlier grading\n"
                             "reported, to grade again with the same inputs (default: drawn from\n"
                             "the kernel, so that answers cannot be known in advance)"},
    [O_SANDBOX_USER] = {"sandbox-user", "USER", "when run as root: the account the compiler and the submission\n"
                                                 "run as (default nobody)"},
    [O_CHECK] = {"check-assignment", "FILE", "only check an assignment: that it is valid and has a forward and a vjp\n"
                                             "test that score for every function it asks for (exit 0 when it has,\n"
                                             "1 when not, 2 when it is invalid)"},
    [O_VALIDATE] = {"validate", "FILE", "only check that an assignment's tests are strong: grade every mutant of\n"
                                        "the --reference solution (tests/mutation/mutate.py's) and name each\n"
                                        "one that still scores full marks, with its diff (exit 1 when one is\n"
                                        "not in the --accepted file; needs python3)"},
    [O_REFERENCE] = {"reference", "FILE.c", "with --validate: the reference solution"},
    [O_ACCEPTED] = {"accepted", "FILE", "with --validate: the mutants known to compute the same function,\n"
                                        "one a line: ID REASON"},
};
static ad_cli cli = {
    .program = "autograde",
    .summary = "grade a student's backward passes (ad_student.h) in a sandbox",
    .synopsis = "--assignment FILE --submission FILE.c --out DIR [options]",
    .description = "Compiles the submission with the grader's runner into one static program, in a sandbox\n"
                   "(an unprivileged user, a private view of the file system, Landlock, limits), runs every\n"
                   "test in its own sandboxed child under a seccomp filter that is in place before the\n"
                   "submission's first instruction, and compares what it returns with the engine's own ops.",
    .options = options,
    .n_options = N_OPTIONS,
    .notes = "Exit status: 0 graded (whatever the score), 1 the reports could not be written or no seed could be\n"
             "drawn, 2 a usage error.",
};

/* ---- the work directory ---- */

static int write_file_at(int dir_fd, const char *name, const void *data, size_t len)
{
    int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) break;
        p += n, len -= (size_t)n;
    }
    return close(fd) == 0 && len == 0 ? 0 : -1;
}

/* The submission: a regular file (not a FIFO that would block, not a
 * device), at most MAX_SUBMISSION_BYTES. Returns a malloc'd copy or NULL. */
static char *read_submission(const char *path, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0) return snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno)), NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_SUBMISSION_BYTES) {
        close(fd);
        return snprintf(err, errlen, "the submission must be a regular file of at most %d bytes", MAX_SUBMISSION_BYTES),
               NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    ssize_t k = 0;
    while (buf && got < (size_t)st.st_size && (k = read(fd, buf + got, (size_t)st.st_size - got)) > 0) got += (size_t)k;
    close(fd);
    if (!buf || k < 0) return free(buf), snprintf(err, errlen, "cannot read %s", path), NULL;
    *len = got;
    return buf;
}

/* Remove everything in the work directory (one level: the compiler makes no
 * subdirectories; a leftover one is removed if empty), the directory, and
 * the empty mount point of the compiler's view beside it. */
static void remove_work(const char *work, int work_fd)
{
    DIR *d = fdopendir(dup(work_fd));
    const struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            if (unlinkat(work_fd, e->d_name, 0) != 0) unlinkat(work_fd, e->d_name, AT_REMOVEDIR);
    if (d) closedir(d);
    close(work_fd);
    rmdir(work);
    char view[PATH_MAX + 8];   /* the compiler's mount point (sandbox.c: private_view) */
    snprintf(view, sizeof view, "%s.view", work);
    rmdir(view);
}

/* The system compiler, its links resolved (/usr/bin/cc -> /etc/alternatives/cc
 * -> ...): the compiler's view of the file system has no /etc/alternatives. */
static const char *find_compiler(void)
{
    static const char *const cands[] = {"/usr/bin/cc", "/usr/bin/gcc", "/bin/cc", NULL};
    static char real[PATH_MAX];
    for (int i = 0; cands[i]; i++)
        if (access(cands[i], X_OK) == 0 && realpath(cands[i], real)) return real;
    return NULL;
}

/* Compile the submission and the runner into work/runner. 0 on success;
 * otherwise general gets the message for the student. */
static int compile_runner(const sandbox_config *sc, const char *work, double seconds, char *general, size_t glen)
{
    const char *cc = find_compiler();
    if (!cc) return snprintf(general, glen, "The grader found no C compiler (cc): tell your instructor."), -1;
    char *const argv[] = {(char *)cc, "-std=c11", "-O2", "-Wall", "-fmax-errors=20", "-fdiagnostics-color=never",
                          "-static", "-o", "runner", "submission.c", "runner.c", "-lm", NULL};
    sandbox_limits lim = {.cpu_seconds = seconds / 2 < 1 ? 1 : seconds / 2, .wall_seconds = seconds,
                          .memory_bytes = (size_t)2 << 30,
                          .stack_bytes = (size_t)64 << 20, .file_bytes = (size_t)256 << 20};
    static char log[COMPILER_LOG_BYTES];
    char detail[512];
    size_t total = 0;
    sandbox_outcome oc = sandbox_run_tool(sc, &lim, argv, toolchain_paths, work, log, sizeof log, &total, detail, sizeof detail);
    /* the tools' words are the submission's to choose (#line names, #pragma
     * message, .gnu.warning sections): quoted, never copied as lines */
    const char *said = "The compiler, assembler and linker said (quoted):";
    general[0] = '\0';
    if (oc == SANDBOX_OK) {
        if (total > 0) snprintf(general, glen, "Compiled, with warnings.");
    } else if (oc == SANDBOX_FAILED) {
        snprintf(general, glen, "Your file did not compile, so no test could run.");
    } else if (oc == SANDBOX_ERROR) {
        snprintf(general, glen, "Not your fault: %s, so your file could not be compiled. Tell your instructor.", detail);
        return -1;
    } else {
        snprintf(general, glen, "Compiling your file was stopped because %s (an #include of something huge or endless?), "
                                "so no test could run.", detail);
    }
    if (total > 0) quote_append(general, glen, said, log, strlen(log), total);
    return oc == SANDBOX_OK ? 0 : -1;
}

/* ---- one test ---- */

/* Run test i; `left`: seconds of the grading's time budget still left,
 * which caps the test's wall-clock limit (not its CPU limit: the kernel
 * counts that in whole seconds). Returns whether the budget stopped it. */
static bool run_test(const sandbox_config *sc, const assignment *a, int i, uint64_t seed, double left, int exe_fd,
                     const char *exe_path, test_result *r)
{
    bool budget_stopped = false;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    char err[512], detail[512];
    test_data d;
    if (!rng) {
        say(r, "the grader ran out of memory\n");
        return false;
    }
    gsl_rng_set(rng, test_seed(&a->tests[i], seed, i));
    if (test_data_setup(&d, &a->tests[i], rng, err, sizeof err) != 0) {
        say(r, "the assignment's test is malformed: %s\n", err);
        gsl_rng_free(rng);
        return false;
    }
    /* the reply: an ag_reply, then the answer's doubles */
    size_t bytes = sizeof(ag_reply) + test_data_answer_bytes(&d);
    double *buf = calloc(1, bytes), *got[AG_MAX_IN];
    int req = test_data_request_fd(&d);
    if (!buf || req < 0) {
        say(r, "the grader could not prepare the test's data\n");
    } else {
        size_t off = sizeof(ag_reply) / sizeof(double);
        for (int k = 0; k < (d.req.vjp ? d.n_in : 1); k++)
            got[k] = buf + off, off += (size_t)(d.req.vjp ? d.in_len[k] : d.y_len);
        bool capped = left < a->wall_seconds;
        sandbox_limits lim = {.cpu_seconds = a->cpu_seconds, .wall_seconds = capped ? left : a->wall_seconds,
                              .memory_bytes = a->memory_bytes, .stack_bytes = (size_t)64 << 20, .file_bytes = 0};
        double t0 = sandbox_now();
        sandbox_outcome oc = sandbox_run_program(sc, &lim, exe_fd, exe_path, req, buf, bytes, detail, sizeof detail);
        /* a timeout at the capped wall-clock limit, not at the CPU limit */
        budget_stopped = oc == SANDBOX_TIMEOUT && capped && sandbox_now() - t0 >= left - 0.01;
        ag_reply rep;
        memcpy(&rep, buf, sizeof rep);
        bool replied = rep.magic == AG_REPLY_MAGIC;
        if (replied && rep.status == AG_REPLY_FAULT) say_fault(r, &d, &rep);
        else if (budget_stopped)
            say(r, "stopped after %.1f s, when the time budget for the whole grading (%g s) was spent\n", left,
                a->total_seconds);
        else if (oc != SANDBOX_OK) say(r, "%s\n", detail);
        else if (!replied || rep.status != AG_REPLY_OK)
            say(r, "your code wrote into the channel the runner answers the grader on (descriptor 3), so its answer "
                   "cannot be trusted\n");
        else grade(&d, got, r);
    }
    if (req >= 0) close(req);
    free(buf);
    test_data_free(&d);
    gsl_rng_free(rng);
    return budget_stopped;
}

/* --check-assignment: the assignment file's lint (assignment_lint). */
static int check_assignment(const char *path)
{
    assignment a;
    char err[1024], out[4096] = "";
    if (assignment_load(path, &a, err, sizeof err) != 0) {
        fprintf(stderr, "autograde: %s\n", err);
        return 2;
    }
    int problems = assignment_lint(&a, out, sizeof out);
    assignment_free(&a);
    for (const char *l = out; *l;) {
        const char *e = strchr(l, '\n');
        printf("%s: %.*s\n", path, (int)(e - l), l);
        l = e + 1;
    }
    if (!problems) printf("%s: every function it asks for has a forward and a vjp test that score\n", path);
    return problems ? 1 : 0;
}

/* --validate: validate.py beside an installed grader (share/autodidact/
 * assignment), else the source tree's; it grades with this very program. */
static int validate(const char *assignment_path, const char *reference, const char *accepted, const char *seed)
{
    char self[PATH_MAX], dir[PATH_MAX], script[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "autograde: cannot find its own program (/proc/self/exe): %s\n", strerror(errno));
        return 2;
    }
    self[n] = '\0';
    memcpy(dir, self, (size_t)n + 1);
    *strrchr(dir, '/') = '\0';
    snprintf(script, sizeof script, "%s/../share/autodidact/assignment/validate.py", dir);
    if (access(script, R_OK) != 0) snprintf(script, sizeof script, "%s", AG_VALIDATE_SCRIPT);
    if (access(script, R_OK) != 0) {
        fprintf(stderr, "autograde: --validate needs validate.py, found neither beside the grader nor at %s\n", script);
        return 2;
    }
    char *argv[16];
    int k = 0;
    argv[k++] = "python3", argv[k++] = script, argv[k++] = "--autograde", argv[k++] = self;
    argv[k++] = "--reference", argv[k++] = (char *)reference;
    if (accepted) argv[k++] = "--accepted", argv[k++] = (char *)accepted;
    if (seed) argv[k++] = "--seed", argv[k++] = (char *)seed;
    argv[k++] = (char *)assignment_path, argv[k] = NULL;
    fflush(stdout);
    execvp("python3", argv);
    fprintf(stderr, "autograde: --validate needs python3: %s\n", strerror(errno));
    return 2;
}

int main(int argc, char **argv)
{
    const char *assignment_path = NULL, *submission = NULL, *out = NULL, *user = NULL, *check = NULL;
    const char *to_validate = NULL, *reference = NULL, *accepted = NULL, *seed_text = NULL;
    uint64_t seed = 0;
    bool seeded = false;
    ad_cli_start(&cli, argc, argv);
    const char *v;
    for (int k; (k = ad_cli_next(&cli, &v)) != AD_CLI_END;) {
        switch (k) {
        case O_ASSIGNMENT: assignment_path = v; break;
        case O_SUBMISSION: submission = v; break;
        case O_OUT: out = v; break;
        case O_SEED: seed = (uint64_t)ad_cli_long(&cli, v, 0, 4294967295L), seeded = true, seed_text = v; break;
        case O_SANDBOX_USER: user = v; break;
        case O_CHECK: check = v; break;
        case O_VALIDATE: to_validate = v; break;
        case O_REFERENCE: reference = v; break;
        case O_ACCEPTED: accepted = v; break;
        default: ad_cli_usage_error(&cli, "unexpected argument '%s'", v);
        }
    }
    if ((reference || accepted) && !to_validate) ad_cli_usage_error(&cli, "--reference and --accepted go with --validate");
    if (to_validate) {
        if (!reference) ad_cli_usage_error(&cli, "--validate needs --reference, the reference solution");
        if (assignment_path || submission || out || user || check)
            ad_cli_usage_error(&cli, "--validate takes only --reference, --accepted and --seed");
        return validate(to_validate, reference, accepted, seed_text);
    }
    if (check) {
        if (assignment_path || submission || out || seeded || user)
            ad_cli_usage_error(&cli, "--check-assignment takes no other option");
        return check_assignment(check);
    }
    if (!assignment_path || !submission || !out) ad_cli_usage_error(&cli, "--assignment, --submission and --out are needed");
    double t0 = sandbox_now();
    char err[1024];
    uint32_t drawn;
    if (!seeded) {
        if (getrandom(&drawn, sizeof drawn, 0) != (ssize_t)sizeof drawn) {
            fprintf(stderr, "autograde: cannot draw a seed from the kernel (getrandom: %s); give one with --seed\n",
                    strerror(errno));
            return 1;
        }
        seed = drawn;
    }
    /* the output directory first: a bad --out fails before anything is read */
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "autograde: cannot create the output directory %s: %s\n", out, strerror(errno));
        return 2;
    }
    int out_fd = open(out, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (out_fd < 0) {
        fprintf(stderr, "autograde: %s is not a directory the grader can use: %s\n", out, strerror(errno));
        return 2;
    }
    if (!ad_cli_check_out_dir("autograde", out)) {   /* /proc, a read-only mount: before any grading */
        close(out_fd);
        return 2;
    }
    assignment a;
    sandbox_config sc;
    if (assignment_load(assignment_path, &a, err, sizeof err) != 0 || sandbox_configure(&sc, user, err, sizeof err) != 0) {
        fprintf(stderr, "autograde: %s\n", err);
        assignment_free(&a);
        close(out_fd);
        return 2;
    }
    for (int i = 0; i < a.n_tests; i++) ad_text_sanitize(a.tests[i].name);
    if (sc.notes[0]) fputs(sc.notes, stderr);

    test_result *res = calloc((size_t)a.n_tests, sizeof *res);
    static char general[COMPILER_LOG_BYTES + 1024];
    if (!res) {
        fprintf(stderr, "autograde: out of memory\n");
        assignment_free(&a);
        close(out_fd);
        return 1;
    }
    for (int i = 0; i < a.n_tests; i++) res[i].max_score = a.tests[i].points;

    const char *not_run = "the submission did not compile";
    size_t sub_len = 0;
    char *sub = read_submission(submission, &sub_len, err, sizeof err);
    /* the work directory: under $TMPDIR when it is an absolute path, else /tmp */
    const char *tmpdir = getenv("TMPDIR");
    char work[PATH_MAX];
    snprintf(work, sizeof work, "%s/autograde.XXXXXX", tmpdir && tmpdir[0] == '/' && strlen(tmpdir) < 256 ? tmpdir : "/tmp");
    int work_fd = -1;
    if (!sub) {
        snprintf(general, sizeof general, "Your submission could not be read: %s.", err);
        not_run = "the submission could not be read";
    } else if (!mkdtemp(work) || (work_fd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
               write_file_at(work_fd, "submission.c", sub, sub_len) != 0 ||
               write_file_at(work_fd, "runner.c", ag_runner_c, ag_runner_c_len) != 0 ||
               write_file_at(work_fd, "runner_protocol.h", ag_runner_protocol_h, ag_runner_protocol_h_len) != 0 ||
               write_file_at(work_fd, "ad_student.h", ag_student_h, ag_student_h_len) != 0 ||
               (sc.drop_privileges && fchown(work_fd, sc.uid, sc.gid) != 0)) {
        snprintf(general, sizeof general, "The grader could not prepare its work directory (%s): tell your instructor.",
                 strerror(errno));
        not_run = "the grader could not prepare its work directory";
    } else if (compile_runner(&sc, work, a.compile_seconds < a.total_seconds ? a.compile_seconds : a.total_seconds,
                              general, sizeof general) == 0) {
        char exe_path[PATH_MAX + 8];
        snprintf(exe_path, sizeof exe_path, "%s/runner", work);
        int exe_fd = openat(work_fd, "runner", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (exe_fd < 0 || fstat(exe_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            snprintf(general, sizeof general, "The compiler left no program to run: tell your instructor.");
            not_run = "the compiler left no program to run";
        } else {
            not_run = NULL;
            size_t n = strlen(general);
            const char *base = strrchr(submission, '/');
            snprintf(general + n, sizeof general - n,
                     "%sCompiled %s. %d tests run, each in its own sandbox, on inputs drawn with seed %llu.",
                     n && general[n - 1] != '\n' ? "\n" : "", base ? base + 1 : submission, a.n_tests, (unsigned long long)seed);
            /* the time budget: what finished keeps its credit, the rest is not run */
            int finished = 0;
            bool spent = false;
            for (int i = 0; i < a.n_tests; i++) {
                double ts = sandbox_now(), left = a.total_seconds - (ts - t0);
                if (spent || left < 0.05) {
                    spent = true;
                    say(&res[i], "not run: the time budget for the whole grading (%g s) was spent before this test\n",
                        a.total_seconds);
                    continue;
                }
                spent = run_test(&sc, &a, i, seed, left, exe_fd, exe_path, &res[i]);
                finished += !spent;
                res[i].seconds = sandbox_now() - ts;
            }
            if (spent) {
                n = strlen(general);
                snprintf(general + n, sizeof general - n,
                         "\nThe time budget for the whole grading (%g s) was spent: %d of %d tests finished and keep "
                         "their scores, the others were stopped or not run (is your code far slower than it needs "
                         "to be?).", a.total_seconds, finished, a.n_tests);
            }
        }
        if (exe_fd >= 0) close(exe_fd);
    }
    for (int i = 0; not_run && i < a.n_tests; i++) say(&res[i], "not run: %s\n", not_run);
    free(sub);
    if (work_fd >= 0) remove_work(work, work_fd);

    int rc = reports_write(out_fd, &a, res, general, sc.notes, seed, sandbox_now() - t0, err, sizeof err);
    close(out_fd);
    double score = 0, max = 0;
    for (int i = 0; i < a.n_tests; i++) score += res[i].score, max += res[i].max_score;
    if (rc != 0) fprintf(stderr, "autograde: %s\n", err);
    else printf("autograde: %g / %g (%s/results.json, junit.xml, results.tap, report.txt)\n", score, max, out);
    free(res);
    assignment_free(&a);
    return rc == 0 ? 0 : 1;   /* ad_cli checks stdout at exit */
}
