/* A correct solution that prints debugging output in every function, as
 * students do: printing is honest and costs nothing. */
#include <stdio.h>
#include "@SOLUTION@"
__attribute__((constructor)) static void hello(void) { printf("starting\n"); fflush(stdout); }
__attribute__((destructor)) static void bye(void) { fprintf(stderr, "bye\n"); }
