/* version.c: the library's version at run time (ad_version.h). */
#include "ad_version.h"

const char *ad_version(void) { return AD_VERSION_STRING; }
