/* The reference solution as a submission: full marks. */
#include "@SOLUTION@"
