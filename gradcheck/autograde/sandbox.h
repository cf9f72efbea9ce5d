/* sandbox.h: run a function in a child process that can compute and write
 * to one pipe, and nothing else: CPU-time, memory and file-size limits, an
 * empty working directory, stdout/stderr to /dev/null, and a seccomp filter
 * (installed after the setup, before the student's code runs) under which
 * opening files, forking, exec'ing or networking kills the child. */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <stddef.h>

typedef struct sandbox_limits {
    double cpu_seconds;       /* RLIMIT_CPU */
    double wall_seconds;      /* killed after this long */
    size_t memory_bytes;      /* RLIMIT_AS (not applied under AddressSanitizer, see sandbox.c) */
} sandbox_limits;

/* Called in the child, after the limits and before the filter: load what it
 * needs (dlopen). Returns 0 on success. */
typedef int (*sandbox_setup)(void *user);
/* Called in the child under the filter: compute and write exactly `bytes`
 * bytes of results to fd (with sandbox_write). */
typedef void (*sandbox_body)(int fd, void *user);

typedef enum sandbox_outcome {
    SANDBOX_OK,               /* all bytes arrived and the child exited 0 */
    SANDBOX_SETUP_FAILED,     /* the setup step failed (e.g. dlopen) */
    SANDBOX_CRASHED,          /* killed by a signal (segfault, abort...) */
    SANDBOX_FORBIDDEN,        /* killed by the seccomp filter */
    SANDBOX_TIMEOUT,          /* wall-clock or CPU limit */
    SANDBOX_SHORT,            /* exited without sending all results */
    SANDBOX_ERROR             /* the grader could not run it (fork, pipe) */
} sandbox_outcome;

/* Run setup + body in a sandboxed child; read `bytes` bytes into out.
 * workdir: an empty directory for the child's cwd. detail gets a sentence. */
sandbox_outcome sandbox_run(const sandbox_limits *lim, const char *workdir, sandbox_setup setup, sandbox_body body,
                            void *user, void *out, size_t bytes, char *detail, size_t detail_len);

/* seconds on the monotonic clock */
double sandbox_now(void);

/* write all of buf to fd (EINTR-safe); 0 on success */
int sandbox_write(int fd, const void *buf, size_t len);

#endif
