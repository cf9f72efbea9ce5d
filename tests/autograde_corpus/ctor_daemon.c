/* A constructor forks a daemon that outlives the grader and keeps writing a
 * perfect results.json; the functions themselves are correct. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <unistd.h>
#include "@SOLUTION@"
__attribute__((constructor)) static void daemonize(void)
{
    if (fork() == 0) {
        setsid();
        if (fork() == 0)
            for (;;) {
                FILE *f = fopen("@OUT@/results.json", "w");
                if (f) fputs("{\"score\": 1000, \"tests\": []}\n", f), fclose(f);
                sleep(1);
            }
        _exit(0);
    }
}
