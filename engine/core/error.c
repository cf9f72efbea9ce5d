/* error.c: the thread-local last error (see ad_error.h). */
#include <stdio.h>
#include "ad_error.h"

static _Thread_local char last_message[1024];
static _Thread_local ad_status last_status = AD_OK;

const char *ad_last_error(void) { return last_message; }
ad_status ad_last_status(void) { return last_status; }

void ad_clear_error(void)
{
    last_message[0] = '\0';
    last_status = AD_OK;
}

const char *ad_status_name(ad_status s)
{
    switch (s) {
    case AD_OK: return "ok";
    case AD_ERR_ARG: return "bad argument";
    case AD_ERR_SHAPE: return "shape error";
    case AD_ERR_DTYPE: return "dtype error";
    case AD_ERR_STATE: return "state error";
    case AD_ERR_DOMAIN: return "domain error";
    case AD_ERR_NONFINITE: return "non-finite value";
    case AD_ERR_NOMEM: return "out of memory";
    case AD_ERR_IO: return "I/O error";
    case AD_ERR_DEVICE: return "device error";
    }
    return "unknown error";
}

ad_status ad_vfail(ad_status s, const char *fmt, va_list ap)
{
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    last_status = s;
    return s;
}

ad_status ad_fail(ad_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ad_vfail(s, fmt, ap);
    va_end(ap);
    return s;
}
