/* sandbox.h: run untrusted work in a child process that can do nothing
 * harmful. Two kinds of child:
 *
 *  - a tool (the compiler): the system toolchain, run as an unprivileged user
 *    (when the grader is root), in its own process group (killed whole when
 *    it ends), with CPU, memory, file-size and wall-clock limits, a clean
 *    environment, only its own descriptors, a mount namespace in which no
 *    other path exists, and Landlock rules under which it can read the
 *    toolchain and the work directory and write the work directory only;
 *  - the runner (runner.c linked with the submission): the same, plus a
 *    seccomp filter installed BEFORE the program is executed, so the
 *    submission's load-time code (constructors, IFUNC resolvers) is filtered
 *    like the rest: it may compute, read its request on fd 0, write to fd 1,
 *    2 (/dev/null) and 3 (the answer), and nothing else.
 *
 * Where the kernel or the user lacks a feature, sandbox_configure says so
 * (notes) and the rest still holds; see sandbox.c for what each layer stops. */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct sandbox_limits {
    double cpu_seconds;       /* RLIMIT_CPU */
    double wall_seconds;      /* the whole process group is killed after this long */
    size_t memory_bytes;      /* RLIMIT_AS */
    size_t stack_bytes;       /* RLIMIT_STACK */
    size_t file_bytes;        /* RLIMIT_FSIZE: the largest file it may write */
} sandbox_limits;

typedef struct sandbox_config {
    bool drop_privileges;     /* the grader is root: children run as uid/gid */
    uid_t uid;
    gid_t gid;
    int landlock_abi;         /* 0: Landlock unavailable */
    bool private_view;        /* the tool gets a mount namespace holding only what it may read */
    char notes[1024];         /* what is missing and what that means, one line each ("" when nothing is) */
} sandbox_config;

/* Decide who children run as and which layers the kernel offers. user: the
 * account for children when the grader is root (NULL: "nobody"). Returns 0,
 * or -1 with a sentence in err (e.g. no such user). */
int sandbox_configure(sandbox_config *c, const char *user, char *err, size_t errlen);

typedef enum sandbox_outcome {
    SANDBOX_OK,               /* exited 0 (runner: and sent exactly the expected bytes) */
    SANDBOX_FAILED,           /* exited non-zero */
    SANDBOX_CRASHED,          /* killed by a signal (segfault, abort...) */
    SANDBOX_FORBIDDEN,        /* killed by the seccomp filter */
    SANDBOX_TIMEOUT,          /* wall-clock or CPU limit */
    SANDBOX_SHORT,            /* the runner exited without sending exactly its results */
    SANDBOX_ERROR             /* the grader could not run it (fork, pipe, sandbox setup) */
} sandbox_outcome;

/* Run argv (argv[0] an absolute path) as a tool: it may read read_paths
 * (files or directories, with everything below them) and read and write
 * work_dir, which is also its working directory. Everything it prints
 * (stdout and stderr) is read to the end: the first out_cap - 1 bytes land
 * in out (NUL-terminated), *out_total counts all of it. detail gets a
 * sentence for any outcome other than OK and FAILED. */
sandbox_outcome sandbox_run_tool(const sandbox_config *c, const sandbox_limits *lim, char *const argv[],
                                 const char *const *read_paths, const char *work_dir, char *out, size_t out_cap,
                                 size_t *out_total, char *detail, size_t detail_len);

/* Execute the runner program open at exe_fd (exe_path: the same file, for
 * Landlock) with input_fd as its stdin, under the seccomp filter, and read
 * exactly `bytes` bytes of results from its fd 3 into out. */
sandbox_outcome sandbox_run_program(const sandbox_config *c, const sandbox_limits *lim, int exe_fd, const char *exe_path,
                                    int input_fd, void *out, size_t bytes, char *detail, size_t detail_len);

/* seconds on the monotonic clock */
double sandbox_now(void);

#endif
