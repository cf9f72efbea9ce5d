/* gc_isolate.c: an op's check in a child process, so that a kernel that
 * crashes (or never returns) is one failed record beside every other op's
 * results instead of the end of the run.
 *
 * The child runs the op's cases one by one and writes each case's records
 * down a pipe as it finishes ('R' and the record's bytes: the child is a
 * fork of this very program, so the struct reads back as it was written),
 * an error as 'E', status and message, and 'D' when done. Before each
 * forward, vjp or jvp it writes the phase into a page shared with the parent
 * (gc_phase_slot), with the case and dtype: where the child dies, the
 * parent reads what it was doing there. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <unistd.h>
#include "gc_internal.h"

gc_phase *gc_phase_slot;

static const char *phase_name(int phase)
{
    switch (phase) {
    case GC_PHASE_FORWARD: return "forward";
    case GC_PHASE_VJP: return "vjp";
    case GC_PHASE_JVP: return "forward-mode pass (forward or jvp)";
    }
    return "check";
}

static const char *signal_name(int sig, char *buf, size_t len)
{
    static const struct { int sig; const char *name; } names[] = {
        {SIGSEGV, "SIGSEGV"}, {SIGABRT, "SIGABRT"}, {SIGFPE, "SIGFPE"}, {SIGBUS, "SIGBUS"}, {SIGILL, "SIGILL"},
        {SIGKILL, "SIGKILL"}, {SIGTERM, "SIGTERM"}, {SIGTRAP, "SIGTRAP"}, {SIGSYS, "SIGSYS"}, {SIGPIPE, "SIGPIPE"},
        {SIGXCPU, "SIGXCPU"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig) return names[i].name;
    snprintf(buf, len, "signal %d", sig);
    return buf;
}

/* ---- the child ---- */
static bool put(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* The case's records in one write where memory allows ('R' and the bytes of each). */
static void send_records(int fd, const ad_gc_report *r)
{
    size_t one = 1 + sizeof(ad_gc_record);
    char *buf = malloc((size_t)(r->n ? r->n : 1) * one);
    for (int i = 0; i < r->n; i++) {
        char *at = buf ? buf + (size_t)i * one : NULL, tag = 'R';
        if (at) {
            *at = tag;
            memcpy(at + 1, &r->rec[i], sizeof r->rec[i]);
        } else {
            put(fd, &tag, 1);
            put(fd, &r->rec[i], sizeof r->rec[i]);
        }
    }
    if (buf) put(fd, buf, (size_t)r->n * one);
    free(buf);
}

static void send_error(int fd, ad_status st)
{
    char tag = 'E', msg[1024];
    int code = (int)st;
    snprintf(msg, sizeof msg, "%s", ad_last_error());
    put(fd, &tag, 1);
    put(fd, &code, sizeof code);
    put(fd, msg, sizeof msg);
}

/* Cases first .. of op (or the one case c), their records down fd. */
static _Noreturn void child(int fd, const ad_op *op, const ad_op_case *c, int first, const ad_gc_options *o)
{
    /* The default action for the crash signals, so that the parent sees the
     * signal itself: the host program's handlers (a test framework's, which
     * would print and exit; ASan's, which would print its report and exit
     * with status 1) belong to the host, not to the check. A sanitizer's own
     * findings (a heap overflow) still end the child with its report. */
    static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS};
    for (size_t k = 0; k < sizeof crash_signals / sizeof crash_signals[0]; k++) signal(crash_signals[k], SIG_DFL);
    int n = gc_units(op, c);   /* the cases, then the paths */
    ad_status st = AD_OK;
    if (n == 0) st = ad_gradcheck_op(op, o, &(ad_gc_report){0});   /* its error: no cases */
    for (int k = first; k < n && st == AD_OK; k++) {
        ad_gc_report r = {0};
        gc_phase_slot->case_index = k;
        gc_phase_slot->dtype = AD_FLOAT64;
        gc_phase_slot->phase = GC_PHASE_NONE;
        st = gc_run_unit(op, c, k, o, &r);
        send_records(fd, &r);
        ad_gc_report_free(&r);
    }
    if (st != AD_OK) send_error(fd, st);
    char tag = 'D';
    put(fd, &tag, 1);
    fflush(NULL);   /* --print-jacobian's listing */
    _exit(0);
}

/* ---- the parent ---- */
static bool append(ad_gc_report *r, const ad_gc_record *rec)
{
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        ad_gc_record *p = realloc(r->rec, (size_t)cap * sizeof *p);
        if (!p) {
            r->n_fail++;   /* a result that cannot be kept counts as a failure */
            return false;
        }
        r->rec = p;
        r->cap = cap;
    }
    r->rec[r->n++] = *rec;
    if (!rec->pass) r->n_fail++;
    return true;
}

/* Everything the child writes until it closes the pipe or the time limit
 * passes (then it is killed: *timed_out). NULL where memory runs out. */
static char *read_all(int fd, pid_t pid, double time_limit, size_t *len, bool *timed_out)
{
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    *len = 0;
    *timed_out = false;
    double deadline = gc_now() + time_limit;
    while (buf) {
        int ms = -1;
        if (time_limit > 0) {
            double left = deadline - gc_now();
            if (left <= 0) {
                *timed_out = true;
                kill(pid, SIGKILL);
                break;
            }
            ms = left > 1e6 ? 1000000000 : (int)(left * 1000) + 1;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int k = poll(&p, 1, ms);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) continue;   /* the deadline, checked above */
        if (*len == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                return NULL;
            }
            buf = b;
        }
        ssize_t got = read(fd, buf + *len, cap - *len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;   /* end of file: the child is gone or done */
        *len += (size_t)got;
    }
    return buf;
}

/* One child, from case first on: its records into r, and where it crashed
 * or ran out of time, a record saying so and the case's index in *crashed
 * (-1: it finished). */
static ad_status run_child(const ad_op *op, const ad_op_case *c, int first, const ad_gc_options *o, double time_limit,
                           ad_gc_report *r, int *crashed)
{
    *crashed = -1;
    gc_phase *slot = mmap(NULL, sizeof *slot, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (slot == MAP_FAILED)
        return ad_fail(AD_ERR_IO, "gradcheck %s: no shared page for the child: %s", op->name, strerror(errno));
    memset(slot, 0, sizeof *slot);
    slot->case_index = first;
    int fds[2];
    if (pipe(fds) != 0) {
        munmap(slot, sizeof *slot);
        return ad_fail(AD_ERR_IO, "gradcheck %s: no pipe for the child: %s", op->name, strerror(errno));
    }
    fflush(NULL);   /* else the child's exit would write this process's buffered output again */
    double t0 = gc_now();
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        close(fds[0]), close(fds[1]), munmap(slot, sizeof *slot);
        return ad_fail(AD_ERR_IO, "gradcheck %s: fork failed: %s", op->name, strerror(errno));
    }
    if (pid == 0) {
#ifdef __linux__
        /* If gradcheck itself is killed (a CI job's timeout), its child goes
         * with it, not on checking for minutes with nobody to read it. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
#else
        (void)parent;
#endif
        close(fds[0]);
        gc_phase_slot = slot;
        child(fds[1], op, c, first, o);
    }
    close(fds[1]);
    size_t len;
    bool timed_out;
    char *buf = read_all(fds[0], pid, time_limit, &len, &timed_out);
    close(fds[0]);
    int wst = 0;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {}
    /* the child's records, up to where it stopped */
    ad_status st = buf ? AD_OK : ad_fail(AD_ERR_NOMEM, "gradcheck %s: out of memory for the child's records", op->name);
    bool done = false;
    char msg[1024] = "";
    ad_status child_st = AD_OK;
    for (size_t at = 0; buf && at < len && !done;) {
        char tag = buf[at++];
        if (tag == 'R' && len - at >= sizeof(ad_gc_record)) {
            ad_gc_record rec;
            memcpy(&rec, buf + at, sizeof rec);
            at += sizeof rec;
            append(r, &rec);
        } else if (tag == 'E' && len - at >= sizeof(int) + sizeof msg) {
            int code;
            memcpy(&code, buf + at, sizeof code);
            memcpy(msg, buf + at + sizeof code, sizeof msg);
            msg[sizeof msg - 1] = '\0';
            at += sizeof code + sizeof msg;
            child_st = (ad_status)code;
        } else {
            done = tag == 'D';
            break;
        }
    }
    free(buf);
    if (st == AD_OK && !done) {   /* it crashed, or ran out of time: a record says which and where */
        ad_gc_record rec;
        memset(&rec, 0, sizeof rec);
        snprintf(rec.op, sizeof rec.op, "%s", op->name);
        snprintf(rec.case_label, sizeof rec.case_label, "%s", gc_unit_label(op, c, slot->case_index));
        rec.dtype = slot->dtype;
        rec.input = -1;
        rec.check = AD_GC_CRASH;
        rec.numerical = rec.reverse = rec.forward = rec.x_at_worst = NAN;
        rec.seconds = gc_now() - t0;
        const char *phase = phase_name(slot->phase);
        char sb[32];
        if (timed_out)
            snprintf(rec.message, sizeof rec.message, "%s ran past the time limit (%g s) and was stopped", phase,
                     time_limit);
        else if (WIFSIGNALED(wst))
            snprintf(rec.message, sizeof rec.message, "%s crashed (%s)", phase,
                     signal_name(WTERMSIG(wst), sb, sizeof sb));
        else
            snprintf(rec.message, sizeof rec.message,
                     "%s crashed: the check's process exited with status %d before it finished (a sanitizer's "
                     "report on stderr says why)",
                     phase, WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
        append(r, &rec);
        *crashed = slot->case_index;
    }
    munmap(slot, sizeof *slot);
    if (st == AD_OK && child_st != AD_OK) st = ad_fail(child_st, "%s", msg);
    return st;
}

ad_status ad_gradcheck_op_isolated(const ad_op *op, const ad_op_case *c, const ad_gc_options *o, double time_limit,
                                   ad_gc_report *r)
{
    if (!op || !r) return ad_fail(AD_ERR_ARG, "gradcheck: op or report is NULL");
    if (!(time_limit >= 0))
        return ad_fail(AD_ERR_ARG, "gradcheck %s: time limit %g s is not >= 0", op->name, time_limit);
    /* after a crash, the op's later cases in a fresh child */
    int n = gc_units(op, c), crashed = -1;
    for (int first = 0;; first = crashed + 1) {
        ad_status st = run_child(op, c, first, o, time_limit, r, &crashed);
        if (st != AD_OK) return st;
        if (crashed < 0 || crashed + 1 >= n) return AD_OK;
    }
}
