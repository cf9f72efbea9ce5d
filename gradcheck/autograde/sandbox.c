/* sandbox.c: see sandbox.h. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#include <sanitizer/lsan_interface.h>
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

int sandbox_write(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Allow only computing and writing to the result pipe (and to stdout and
 * stderr, which point at /dev/null): everything else kills the process. */
static int install_filter(int fd)
{
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!f) return -1;
    int rc = 0;
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd));
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, 1));
    rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, 2));
    const int allowed[] = {SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap),
                           SCMP_SYS(mremap), SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(rt_sigreturn),
                           SCMP_SYS(rt_sigprocmask), SCMP_SYS(futex), SCMP_SYS(clock_gettime), SCMP_SYS(fstat),
                           SCMP_SYS(newfstatat), SCMP_SYS(getpid), SCMP_SYS(gettid),
                           SCMP_SYS(sigaltstack) /* AddressSanitizer at exit */};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, allowed[i], 0);
    if (rc == 0) rc = seccomp_load(f);
    seccomp_release(f);
    return rc;
}

double sandbox_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

sandbox_outcome sandbox_run(const sandbox_limits *lim, const char *workdir, sandbox_setup setup, sandbox_body body,
                            void *user, void *out, size_t bytes, char *detail, size_t detail_len)
{
    int p[2];
    detail[0] = '\0';
    if (pipe(p) != 0) {
        snprintf(detail, detail_len, "the grader could not make a pipe: %s", strerror(errno));
        return SANDBOX_ERROR;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]), close(p[1]);
        snprintf(detail, detail_len, "the grader could not fork: %s", strerror(errno));
        return SANDBOX_ERROR;
    }
    if (pid == 0) {   /* the child */
        close(p[0]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
            close(devnull);
        }
        if (chdir(workdir) != 0) _exit(120);
        struct rlimit cpu = {(rlim_t)lim->cpu_seconds, (rlim_t)lim->cpu_seconds + 1}, fsize = {0, 0};
        setrlimit(RLIMIT_CPU, &cpu);
        setrlimit(RLIMIT_FSIZE, &fsize);
#ifndef UNDER_ASAN
        /* AddressSanitizer reserves terabytes of shadow address space up front, so
         * an address-space limit would fail every allocation; under ASan builds the
         * CPU and wall-clock limits bound a memory bomb instead. */
        struct rlimit as = {(rlim_t)lim->memory_bytes, (rlim_t)lim->memory_bytes};
        setrlimit(RLIMIT_AS, &as);
#endif
        /* A crash must end the child with its signal, not run a handler (a
         * sanitizer's reads /proc and would be stopped by the filter instead). */
        const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
        for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++) signal(crash_signals[i], SIG_DFL);
        if (setup && setup(user) != 0) _exit(121);
#ifdef UNDER_ASAN
        /* LeakSanitizer checks at exit through /proc and ptrace, which the filter
         * forbids, and a student's exit() would run it: check now, which also
         * turns the exit-time check off. */
        __lsan_do_leak_check();
#endif
        if (install_filter(p[1]) != 0) _exit(122);
        body(p[1], user);
        _exit(0);
    }
    close(p[1]);
    size_t got = 0;
    double deadline = sandbox_now() + lim->wall_seconds;
    bool timed_out = false, eof = false;
    while (!eof) {
        double left = deadline - sandbox_now();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pf = {p[0], POLLIN, 0};
        int r = poll(&pf, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        char buf[65536];
        ssize_t n = read(p[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            eof = true;
            break;
        }
        size_t take = got < bytes ? ((size_t)n < bytes - got ? (size_t)n : bytes - got) : 0;
        memcpy((char *)out + got, buf, take);
        got += (size_t)n;
    }
    if (timed_out) kill(pid, SIGKILL);
    close(p[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
        snprintf(detail, detail_len, "your code ran longer than %.0f s and was stopped (an endless loop?)", lim->wall_seconds);
        return SANDBOX_TIMEOUT;
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGSYS) {
            snprintf(detail, detail_len, "your code made a system call the grader forbids (opening a file, forking, "
                                         "running a program or using the network) and was stopped");
            return SANDBOX_FORBIDDEN;
        }
        if (sig == SIGXCPU || sig == SIGKILL) {
            snprintf(detail, detail_len, "your code used more than %.0f s of CPU time and was stopped", lim->cpu_seconds);
            return SANDBOX_TIMEOUT;
        }
        snprintf(detail, detail_len, "your code crashed (signal %d, %s): a bad pointer, an array out of bounds, or "
                                     "memory it could not get", sig, strsignal(sig));
        return SANDBOX_CRASHED;
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 121) {
        snprintf(detail, detail_len, "the grader could not load your compiled code");
        return SANDBOX_SETUP_FAILED;
    }
    if (got != bytes || code != 0) {
        snprintf(detail, detail_len, "your code exited (status %d) before returning its results", code);
        return SANDBOX_SHORT;
    }
    return SANDBOX_OK;
}
