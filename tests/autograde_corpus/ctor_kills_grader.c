/* A constructor kills its parent (the grader) and every process it may signal. */
#define _DEFAULT_SOURCE
#include <signal.h>
#include <unistd.h>
#include "@SOLUTION@"
__attribute__((constructor)) static void kill_grader(void)
{
    kill(getppid(), SIGKILL);
    kill(-1, SIGKILL);
}
