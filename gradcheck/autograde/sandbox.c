/* sandbox.c: see sandbox.h.
 *
 * Why these layers, and what each one stops:
 *  - The submission never runs inside the grader's process: it is linked
 *    with runner.c into a static program of its own, so the engine (and its
 *    ad_* functions), the grader's memory and its open files are not there
 *    to be called or read, and no dynamic loader opens anything.
 *  - seccomp, installed in the child BEFORE execveat: everything the
 *    submission runs, from the first IFUNC resolver and constructor to the
 *    tested function, is under the filter. It allows computing, reading fd 0,
 *    writing fds 1-3, anonymous memory, signals to itself and one execveat
 *    of the descriptor the grader opened (close-on-exec, so it is gone once
 *    used, and nothing the filter allows can make a new descriptor). Opening,
 *    creating or renaming files, forking, threads, sockets, ptrace, kill of
 *    another process: killed on the spot. fstat, ioctl, lseek and readlink
 *    fail with EPERM instead, so that stdio still works (a student's printf
 *    is honest) and a stat() learns nothing.
 *  - An unprivileged user when the grader is root (Gradescope runs it as
 *    root): file permissions keep the grader's files and the hidden tests
 *    out of reach even where Landlock is missing, and a signal to the grader
 *    is refused.
 *  - A mount namespace for the compiler whose root holds only the toolchain,
 *    /dev/null and its work directory (private_view): no other path exists,
 *    so #include, .incbin and __has_include learn nothing, not even whether
 *    a path exists.
 *  - Landlock (Linux >= 5.13): the compiler may open only the toolchain and
 *    its work directory, so #include and .incbin of any other path fail;
 *    with ABI >= 4 no TCP, with ABI >= 6 no signal to a process outside the
 *    sandbox. Missing: said once in the log (sandbox_config.notes).
 *  - Limits: CPU, address space, stack, file size, no core files; a
 *    wall-clock deadline after which the child's whole process group is
 *    killed; the grader is a child subreaper, so nothing can outlive it
 *    unseen; the child dies with the grader (PR_SET_PDEATHSIG).
 *  - Descriptors: the child keeps only the ones it is given (close_range);
 *    its environment is empty (the runner) or a fixed minimal one (the tool).
 */
#define _GNU_SOURCE
#include "sandbox.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <poll.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- Landlock, declared here so that old kernel headers are no obstacle ---- */
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif
#ifndef __NR_close_range
#define __NR_close_range 436
#endif
enum {
    LL_EXECUTE = 1 << 0, LL_WRITE_FILE = 1 << 1, LL_READ_FILE = 1 << 2, LL_READ_DIR = 1 << 3,
    LL_FS_ABI1 = (1 << 13) - 1,          /* EXECUTE .. MAKE_SYM */
    LL_REFER = 1 << 13, LL_TRUNCATE = 1 << 14, LL_IOCTL_DEV = 1 << 15,
    LL_NET_BIND_TCP = 1, LL_NET_CONNECT_TCP = 2,
    LL_SCOPE_ABSTRACT_UNIX = 1, LL_SCOPE_SIGNAL = 2,
    LL_RULE_PATH_BENEATH = 1, LL_CREATE_RULESET_VERSION = 1,
};
struct ll_ruleset_attr {
    uint64_t handled_access_fs, handled_access_net, scoped;
};
struct __attribute__((packed)) ll_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
};

static uint64_t ll_fs_rights(int abi)
{
    uint64_t r = LL_FS_ABI1;
    if (abi >= 2) r |= LL_REFER;
    if (abi >= 3) r |= LL_TRUNCATE;
    if (abi >= 5) r |= LL_IOCTL_DEV;
    return r;
}

/* Rights that Landlock accepts on a file (not a directory) */
static uint64_t ll_file_rights(int abi)
{
    return (LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | (abi >= 3 ? LL_TRUNCATE : 0) | (abi >= 5 ? LL_IOCTL_DEV : 0));
}

static int ll_allow(int ruleset, int abi, const char *path, uint64_t rights)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -1;   /* a toolchain directory this system does not have */
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) rights &= ll_file_rights(abi);
    struct ll_path_beneath_attr a = {rights & ll_fs_rights(abi), fd};
    int rc = (int)syscall(__NR_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &a, 0);
    close(fd);
    return rc;
}

/* Restrict this process (and what it executes) to reading `read_paths`,
 * executing from them, and doing anything in `full_path` (may be NULL). */
static int ll_restrict(int abi, const char *const *read_paths, const char *full_path)
{
    struct ll_ruleset_attr attr = {ll_fs_rights(abi), LL_NET_BIND_TCP | LL_NET_CONNECT_TCP,
                                   LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL};
    size_t size = abi >= 6 ? sizeof attr : abi >= 4 ? 2 * sizeof(uint64_t) : sizeof(uint64_t);
    int rs = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
    if (rs < 0) return -1;
    int rc = 0;
    for (size_t i = 0; read_paths && read_paths[i] && rc == 0; i++)
        rc = ll_allow(rs, abi, read_paths[i], LL_READ_FILE | LL_READ_DIR | LL_EXECUTE);
    if (rc == 0) rc = ll_allow(rs, abi, "/dev/null", LL_READ_FILE | LL_WRITE_FILE);
    if (rc == 0 && full_path) rc = ll_allow(rs, abi, full_path, ll_fs_rights(abi));
    if (rc == 0) rc = (int)syscall(__NR_landlock_restrict_self, rs, 0);
    close(rs);
    return rc;
}

/* ---- a private view of the file system for the tool ----
 * Landlock refuses to open a path outside the sandbox, but an error that
 * says "Permission denied" rather than "No such file" still tells a
 * submission (#include, __has_include) whether the path exists. In a mount
 * namespace of its own, the tool's root is a fresh tmpfs holding only the
 * read paths and the work directory: every other path does not exist. */
static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* mkdir -p of the directories above path (inside the view) */
static int make_parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST) return -1;
    }
    return 0;
}

/* Make host path `path` appear at the same place under `view`. */
static int show_in_view(const char *view, const char *path, int depth)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    char dst[PATH_MAX];
    if (snprintf(dst, sizeof dst, "%s%s", view, path) >= (int)sizeof dst || make_parents(dst) != 0) return -1;
    if (S_ISLNK(st.st_mode)) {   /* /bin -> usr/bin: the same link, and what it points to */
        char target[PATH_MAX], real[PATH_MAX];
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n < 0) return -1;
        target[n] = '\0';
        if (symlink(target, dst) != 0 && errno != EEXIST) return -1;
        return depth < 4 && realpath(path, real) ? show_in_view(view, real, depth + 1) : 0;
    }
    if (S_ISDIR(st.st_mode) ? mkdir(dst, 0755) != 0 && errno != EEXIST : mknod(dst, S_IFREG | 0644, 0) != 0 && errno != EEXIST)
        return -1;
    return mount(path, dst, NULL, MS_BIND | MS_REC, NULL);
}

/* In the child, before the user switch: a new mount namespace (and, when
 * not root, a user namespace that maps this user to itself) whose root holds
 * only read_paths, /dev/null and work_dir. */
static int private_view(bool as_root, const char *const *read_paths, const char *work_dir)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWNS | (as_root ? 0 : CLONE_NEWUSER)) != 0) return -1;
    if (!as_root) {
        char map[64];
        snprintf(map, sizeof map, "%d %d 1\n", (int)uid, (int)uid);
        if (write_text("/proc/self/setgroups", "deny") != 0 || write_text("/proc/self/uid_map", map) != 0) return -1;
        snprintf(map, sizeof map, "%d %d 1\n", (int)gid, (int)gid);
        if (write_text("/proc/self/gid_map", map) != 0) return -1;
    }
    char view[PATH_MAX], old[PATH_MAX + 8];
    if (snprintf(view, sizeof view, "%s.view", work_dir) >= (int)sizeof view) return -1;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 || mkdir(view, 0700) != 0 ||
        mount("tmpfs", view, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") != 0)
        return -1;
    for (size_t i = 0; read_paths && read_paths[i]; i++)
        if (show_in_view(view, read_paths[i], 0) != 0) return -1;
    if (show_in_view(view, "/dev/null", 0) != 0 || show_in_view(view, work_dir, 0) != 0) return -1;
    snprintf(old, sizeof old, "%s/.old", view);
    if (mkdir(old, 0700) != 0 || syscall(SYS_pivot_root, view, old) != 0 || chdir("/") != 0 ||
        umount2("/.old", MNT_DETACH) != 0 || rmdir("/.old") != 0)
        return -1;
    return 0;
}

/* Can this grader make a private view? Tried once, in a throwaway child. */
static bool private_view_works(bool as_root)
{
    char dir[] = "/tmp/autograde-probe.XXXXXX";
    if (!mkdtemp(dir)) return false;
    const char *none[] = {NULL};
    pid_t pid = fork();
    if (pid == 0) _exit(private_view(as_root, none, dir) == 0 ? 0 : 1);
    int status = 1;
    if (pid > 0) waitpid(pid, &status, 0);
    char view[64];
    snprintf(view, sizeof view, "%s.view", dir);
    rmdir(view), rmdir(dir);
    return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int sandbox_configure(sandbox_config *c, const char *user, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    size_t n = 0;
    if (geteuid() == 0) {
        const struct passwd *pw = getpwnam(user ? user : "nobody");
        if (!pw || pw->pw_uid == 0)
            return snprintf(err, errlen, "the grader runs as root but has no unprivileged user '%s' to run "
                                         "submissions as", user ? user : "nobody"), -1;
        c->drop_privileges = true, c->uid = pw->pw_uid, c->gid = pw->pw_gid;
    } else {
        n += (size_t)snprintf(c->notes + n, sizeof c->notes - n,
                              "sandbox: not root, so submissions run as this user (uid %d): only Landlock and seccomp "
                              "keep this user's files from them\n", (int)geteuid());
    }
    c->private_view = private_view_works(c->drop_privileges);
    if (!c->private_view)
        n += (size_t)snprintf(c->notes + n, sizeof c->notes - n,
                              "sandbox: no mount namespace for the compiler: a compile error can tell whether a path "
                              "outside the sandbox exists (its contents stay out of reach)\n");
    int abi = (int)syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
    c->landlock_abi = abi > 0 ? abi : 0;
    if (abi <= 0)
        n += (size_t)snprintf(c->notes + n, sizeof c->notes - n,
                              "sandbox: no Landlock on this kernel (%s): the compiler can read every file the %s can%s\n",
                              strerror(errno), c->drop_privileges ? "unprivileged user" : "grader's user",
                              c->drop_privileges ? "" : " (hidden tests included: run the grader as root)");
    else if (abi < 6 && n < sizeof c->notes)
        snprintf(c->notes + n, sizeof c->notes - n,
                 "sandbox: Landlock ABI %d (< 6): signals from the compiler are stopped by the user switch only\n", abi);
    return 0;
}

double sandbox_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- in the child ---- */

/* Report why the sandbox could not be set up (on the close-on-exec status
 * pipe) and stop. */
static _Noreturn void child_fail(int status_fd, const char *what)
{
    char msg[256];
    int n = snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
    if (n > 0 && write(status_fd, msg, (size_t)n) < 0) _exit(126);
    _exit(126);
}

static void set_limit(int status_fd, int resource, rlim_t value)
{
    struct rlimit r = {value, value};
    if (setrlimit(resource, &r) != 0) child_fail(status_fd, "setrlimit");
}

/* Everything both kinds of child do before they execute: their own process
 * group, death with the grader, the given descriptors only (those below
 * first_closed as arranged by the caller, the status pipe and keep_fd),
 * limits (but the address space: see set_memory_limit), the user switch and
 * no new privileges. */
static void child_common(const sandbox_config *c, const sandbox_limits *lim, int status_fd, int keep_fd, int first_closed)
{
    if (setsid() < 0) child_fail(status_fd, "setsid");
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(status_fd, "PR_SET_PDEATHSIG");
    int lo = first_closed;
    int keep[2] = {status_fd < keep_fd ? status_fd : keep_fd, status_fd < keep_fd ? keep_fd : status_fd};
    for (int k = 0; k < 2; k++) {
        if (keep[k] < lo) continue;
        if (keep[k] > lo && syscall(__NR_close_range, lo, keep[k] - 1, 0) != 0)
            for (int fd = lo; fd < keep[k]; fd++) close(fd);
        lo = keep[k] + 1;
    }
    if (syscall(__NR_close_range, lo, ~0U, 0) != 0)
        for (int fd = lo; fd < 65536; fd++) close(fd);
    set_limit(status_fd, RLIMIT_CPU, (rlim_t)lim->cpu_seconds);
    set_limit(status_fd, RLIMIT_FSIZE, (rlim_t)lim->file_bytes);
    set_limit(status_fd, RLIMIT_CORE, 0);
    set_limit(status_fd, RLIMIT_STACK, (rlim_t)lim->stack_bytes);
    if (c->drop_privileges) {
        if (setgroups(0, NULL) != 0 || setresgid(c->gid, c->gid, c->gid) != 0 || setresuid(c->uid, c->uid, c->uid) != 0)
            child_fail(status_fd, "switching to the unprivileged user");
        if (setuid(0) == 0) errno = EPERM, child_fail(status_fd, "the user switch did not hold");
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(status_fd, "PR_SET_NO_NEW_PRIVS");
}

/* The address-space limit comes last, just before exec: a grader built with
 * AddressSanitizer has terabytes of shadow mapped, so after the limit its
 * allocator could not map anything more. */
static void set_memory_limit(int status_fd, const sandbox_limits *lim)
{
    set_limit(status_fd, RLIMIT_AS, (rlim_t)lim->memory_bytes);
}

enum { MAX_BPF = 1024 };

/* The runner's filter (see the top of this file), compiled to classic BPF
 * in prog (at most MAX_BPF instructions) so that loading it allocates
 * nothing. pid: the child's own. Returns the instruction count, or -1. */
static int build_runner_filter(pid_t pid, int exe_fd, struct sock_filter *prog)
{
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!f) return -1;
    int rc = seccomp_attr_set(f, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    const uint64_t low32 = 0xffffffffu;
#define ALLOW(sys, ...) rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(sys), __VA_ARGS__)
    ALLOW(read, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, low32, 0));
    for (int fd = 1; fd <= 3; fd++) ALLOW(write, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, low32, (scmp_datum_t)fd));
    ALLOW(execveat, 2, SCMP_A0(SCMP_CMP_MASKED_EQ, low32, (scmp_datum_t)exe_fd),
          SCMP_A4(SCMP_CMP_EQ, (scmp_datum_t)AT_EMPTY_PATH, 0));
    ALLOW(mmap, 1, SCMP_A4(SCMP_CMP_MASKED_EQ, low32, low32));          /* anonymous memory only (fd -1) */
    ALLOW(prlimit64, 2, SCMP_A0(SCMP_CMP_EQ, 0, 0), SCMP_A2(SCMP_CMP_EQ, 0, 0));   /* read its own limits */
    ALLOW(kill, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)pid, 0));             /* abort() and raise() */
    ALLOW(tgkill, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)pid, 0));
    ALLOW(tkill, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)pid, 0));
    const int plain[] = {SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap),
                         SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
                         SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack), SCMP_SYS(futex), SCMP_SYS(getpid),
                         SCMP_SYS(gettid), SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday),
                         SCMP_SYS(time), SCMP_SYS(getrusage), SCMP_SYS(sched_yield), SCMP_SYS(arch_prctl),
                         SCMP_SYS(set_tid_address), SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(getrandom)};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, plain[i], 0);
    /* What libc's startup and stdio ask, answered with nothing to learn */
    const int quiet[] = {SCMP_SYS(newfstatat), SCMP_SYS(fstat), SCMP_SYS(statx), SCMP_SYS(lseek), SCMP_SYS(ioctl),
                         SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(prlimit64)};
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++) rc |= seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), quiet[i], 0);
#undef ALLOW
    /* export through a pipe (libseccomp 2.5 exports to a descriptor only) */
    int p[2] = {-1, -1};
    ssize_t n = -1;
    if (rc == 0 && pipe(p) == 0 && seccomp_export_bpf(f, p[1]) == 0) {
        close(p[1]), p[1] = -1;
        size_t got = 0;
        while (got < MAX_BPF * sizeof *prog && (n = read(p[0], (char *)prog + got, MAX_BPF * sizeof *prog - got)) > 0)
            got += (size_t)n;
        n = n == 0 && got % sizeof *prog == 0 ? (ssize_t)(got / sizeof *prog) : -1;
    }
    if (p[0] >= 0) close(p[0]);
    if (p[1] >= 0) close(p[1]);
    seccomp_release(f);
    return (int)n;
}

/* ---- in the grader ---- */

/* Kill what is left of the child's process group, reap it, and reap any
 * orphan that reached us as the subreaper. */
static int finish_child(pid_t pid, bool kill_now)
{
    if (kill_now) kill(-pid, SIGKILL), kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    kill(-pid, SIGKILL);
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    return status;
}

/* Wait for the status pipe: EOF means the child reached exec; text means
 * the sandbox could not be set up (copied into detail). */
static bool exec_reached(int status_fd, char *detail, size_t detail_len)
{
    char msg[256];
    ssize_t n;
    while ((n = read(status_fd, msg, sizeof msg - 1)) < 0 && errno == EINTR) {
    }
    close(status_fd);
    if (n <= 0) return true;
    msg[n] = '\0';
    snprintf(detail, detail_len, "the grader could not set up the sandbox (%s)", msg);
    return false;
}

static void describe_signal(int sig, const sandbox_limits *lim, sandbox_outcome *oc, char *detail, size_t len)
{
    if (sig == SIGSYS) {
        *oc = SANDBOX_FORBIDDEN;
        snprintf(detail, len, "your code made a system call the grader forbids (opening a file, forking, starting a "
                              "thread, running a program, signalling another process or using the network) and was "
                              "stopped");
    } else if (sig == SIGXCPU || sig == SIGKILL) {
        *oc = SANDBOX_TIMEOUT;
        snprintf(detail, len, "your code used more than %.0f s of CPU time and was stopped", lim->cpu_seconds);
    } else {
        *oc = SANDBOX_CRASHED;
        snprintf(detail, len, "your code crashed (signal %d, %s): a bad pointer, an array out of bounds, a stack "
                              "overflow, or memory it could not get", sig, strsignal(sig));
    }
}

/* Pipes for the child's data (data[1] its end) and its status (see
 * exec_reached), then fork. Returns the pid (0 in the child), or -1 with a
 * sentence in detail and nothing left open. */
static pid_t start_child(int data[2], int status[2], char *detail, size_t len)
{
    if (pipe2(data, O_CLOEXEC) != 0) goto no_pipe;
    if (pipe2(status, O_CLOEXEC) != 0) {
        close(data[0]), close(data[1]);
        goto no_pipe;
    }
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(data[0]), close(data[1]), close(status[0]), close(status[1]);
        snprintf(detail, len, "the grader could not fork: %s", strerror(errno));
    }
    return pid;
no_pipe:
    snprintf(detail, len, "the grader could not make a pipe: %s", strerror(errno));
    return -1;
}

/* In the grader, once the child is started: close the child's ends and wait
 * for it to reach exec. false: it could not (detail says why; it is gone). */
static bool child_started(pid_t pid, int data[2], int status[2], char *detail, size_t len)
{
    close(data[1]), close(status[1]);
    if (exec_reached(status[0], detail, len)) return true;
    close(data[0]);
    finish_child(pid, true);
    return false;
}

/* Read fd to its end or to the deadline: the first cap bytes into buf;
 * *total counts every byte. Returns false when the deadline came first. */
static bool drain(int fd, double deadline, char *buf, size_t cap, size_t *total)
{
    *total = 0;
    for (;;) {
        double left = deadline - sandbox_now();
        if (left <= 0) return false;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, (int)(left * 1000) + 1) <= 0) continue;
        char chunk[65536];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return true;
        size_t take = *total < cap ? cap - *total : 0;
        if (take > (size_t)n) take = (size_t)n;
        memcpy(buf + *total, chunk, take);
        *total += (size_t)n;
    }
}

sandbox_outcome sandbox_run_tool(const sandbox_config *c, const sandbox_limits *lim, char *const argv[],
                                 const char *const *read_paths, const char *work_dir, char *out, size_t out_cap,
                                 size_t *out_total, char *detail, size_t detail_len)
{
    int outp[2], st[2];
    detail[0] = '\0', out[0] = '\0', *out_total = 0;
    pid_t pid = start_child(outp, st, detail, detail_len);
    if (pid < 0) return SANDBOX_ERROR;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(outp[1], 1) < 0 || dup2(outp[1], 2) < 0)
            child_fail(st[1], "arranging the descriptors");
        if (c->private_view && private_view(c->drop_privileges, read_paths, work_dir) != 0)
            child_fail(st[1], "making the compiler's view of the file system");
        if (chdir(work_dir) != 0) child_fail(st[1], "chdir to the work directory");
        child_common(c, lim, st[1], -1, 3);
        if (c->landlock_abi > 0 && ll_restrict(c->landlock_abi, read_paths, work_dir) != 0)
            child_fail(st[1], "Landlock");
        set_memory_limit(st[1], lim);
        char tmp[4200], home[4200];
        snprintf(tmp, sizeof tmp, "TMPDIR=%s", work_dir);
        snprintf(home, sizeof home, "HOME=%s", work_dir);
        char *const envp[] = {"PATH=/usr/bin:/bin", "LANG=C", "LC_ALL=C", tmp, home, NULL};
        execve(argv[0], argv, envp);
        child_fail(st[1], argv[0]);
    }
    if (!child_started(pid, outp, st, detail, detail_len)) return SANDBOX_ERROR;
    /* Read everything it prints, to the end: a tool blocked on a full pipe
     * would otherwise fail for the grader's sake, not the student's. */
    double deadline = sandbox_now() + lim->wall_seconds;
    bool timed_out = !drain(outp[0], deadline, out, out_cap - 1, out_total);
    out[*out_total < out_cap - 1 ? *out_total : out_cap - 1] = '\0';
    close(outp[0]);
    /* EOF: every process that held the pipe is gone or closed it; the driver exits next */
    int status = 0;
    struct rusage ru = {0};
    while (!timed_out) {
        pid_t w = wait4(pid, &status, WNOHANG, &ru);   /* ru: the tool and every process it waited for */
        if (w == pid) break;
        if (sandbox_now() > deadline) timed_out = true;
        else usleep(2000);
    }
    if (timed_out) {
        finish_child(pid, true);
        snprintf(detail, detail_len, "it ran longer than %.0f s", lim->wall_seconds);
        return SANDBOX_TIMEOUT;
    }
    kill(-pid, SIGKILL);
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    sandbox_outcome oc = SANDBOX_OK;
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    if (WIFSIGNALED(status)) describe_signal(WTERMSIG(status), lim, &oc, detail, detail_len);
    /* A helper (cc1) stopped at the CPU limit makes the driver fail, not die:
     * the CPU time of everything it waited for tells (CPU accounting is in
     * ticks, and a helper dies on the tick that crosses the limit). */
    if (oc == SANDBOX_TIMEOUT || cpu >= 0.9 * lim->cpu_seconds) {
        oc = SANDBOX_TIMEOUT;
        snprintf(detail, detail_len, "it used more than %.0f s of CPU time", lim->cpu_seconds);
    } else if (!WIFSIGNALED(status) && WEXITSTATUS(status) != 0 &&
               (strstr(out, "signal terminated program") || strstr(out, "unable to execute command"))) {
        /* gcc's and clang's words for a helper killed by a limit */
        oc = SANDBOX_TIMEOUT;
        snprintf(detail, detail_len, "it reached its limit of %.0f s of CPU time or %zu MiB of memory", lim->cpu_seconds,
                 lim->memory_bytes >> 20);
    } else if (!WIFSIGNALED(status) && WEXITSTATUS(status) != 0) {
        oc = SANDBOX_FAILED;
    }
    return oc;
}

sandbox_outcome sandbox_run_program(const sandbox_config *c, const sandbox_limits *lim, int exe_fd, const char *exe_path,
                                    int input_fd, void *out, size_t bytes, char *detail, size_t detail_len)
{
    int res[2], st[2];
    detail[0] = '\0';
    pid_t pid = start_child(res, st, detail, detail_len);
    if (pid < 0) return SANDBOX_ERROR;
    if (pid == 0) {
        /* fds: 0 the request, 1 and 2 /dev/null, 3 the answer, 4 the program
         * (close-on-exec), then the status pipe. Everything is first moved
         * above 10 so that no dup2 lands on a descriptor still to be read. */
        int st_fd = fcntl(st[1], F_DUPFD_CLOEXEC, 10);
        int fds[5] = {fcntl(input_fd, F_DUPFD_CLOEXEC, 10), open("/dev/null", O_WRONLY | O_CLOEXEC), -1,
                      fcntl(res[1], F_DUPFD_CLOEXEC, 10), fcntl(exe_fd, F_DUPFD_CLOEXEC, 10)};
        fds[2] = fds[1];
        for (int k = 0; k < 5; k++)
            if (st_fd < 0 || fds[k] < 0 || dup3(fds[k], k, k == 4 ? O_CLOEXEC : 0) < 0)
                child_fail(st[1], "arranging the descriptors");
        if (chdir("/") != 0) child_fail(st_fd, "chdir");
        child_common(c, lim, st_fd, 4, 5);
        const char *exe_only[] = {exe_path, NULL};
        if (c->landlock_abi > 0 && ll_restrict(c->landlock_abi, exe_only, NULL) != 0) child_fail(st_fd, "Landlock");
        struct sock_filter bpf[MAX_BPF];
        int n_bpf = build_runner_filter(getpid(), 4, bpf);
        if (n_bpf <= 0) child_fail(st_fd, "building the seccomp filter");
        struct sock_fprog prog = {(unsigned short)n_bpf, bpf};
        set_memory_limit(st_fd, lim);
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) child_fail(st_fd, "seccomp");
        char *const argv[] = {"runner", NULL}, *const envp[] = {NULL};
        syscall(SYS_execveat, 4, "", argv, envp, AT_EMPTY_PATH);
        child_fail(st_fd, "execveat");
    }
    if (!child_started(pid, res, st, detail, detail_len)) return SANDBOX_ERROR;
    size_t got = 0;
    bool timed_out = !drain(res[0], sandbox_now() + lim->wall_seconds, out, bytes, &got);
    close(res[0]);
    int status = finish_child(pid, timed_out);
    if (timed_out) {
        snprintf(detail, detail_len, "your code ran longer than %.0f s and was stopped (an endless loop?)",
                 lim->wall_seconds);
        return SANDBOX_TIMEOUT;
    }
    sandbox_outcome oc = SANDBOX_OK;
    if (WIFSIGNALED(status)) {
        describe_signal(WTERMSIG(status), lim, &oc, detail, detail_len);
        return oc;
    }
    int code = WEXITSTATUS(status);
    if (got != bytes || code != 0) {
        snprintf(detail, detail_len, got > bytes ? "your code wrote more results than the test has (status %d)"
                                                 : "your code exited (status %d) before returning its results", code);
        return SANDBOX_SHORT;
    }
    return SANDBOX_OK;
}
