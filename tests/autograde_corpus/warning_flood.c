/* A correct solution that also makes thousands of compiler warnings: warnings
 * are not errors, and honest work gets full marks. */
#include "@SOLUTION@"
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define U static int CAT(unused_, __COUNTER__);
#define U10 U U U U U U U U U U
#define U100 U10 U10 U10 U10 U10 U10 U10 U10 U10 U10
#define U1000 U100 U100 U100 U100 U100 U100 U100 U100 U100 U100
U1000 U1000 U1000 U1000 U1000 U1000 U1000 U1000
