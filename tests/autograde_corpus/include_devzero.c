/* An endless include: /dev/zero never ends. */
#include "/dev/zero"
