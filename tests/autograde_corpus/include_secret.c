/* The compiler is asked to paste a secret into the source (and so into the
 * diagnostics the student sees). */
#include "@SOLUTION@"
#include "@SECRET@"
