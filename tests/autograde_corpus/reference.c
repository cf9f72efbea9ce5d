/* The reference solution as a submission: full marks. */
#include "example/solution.c"
