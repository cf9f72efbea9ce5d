/* ad_error.h: status codes and the thread-local error message.
 *
 * Every public call that can fail returns an ad_status (or NULL) and leaves a
 * message that names the op and the shapes, e.g.
 *   "conv2d: input x (2,3,8,8) has 3 channels but weight w (4,1,3,3) expects 1".
 * Errors are sticky across chained calls: an op given a NULL input returns
 * NULL and keeps the first message, so a whole expression can be built and
 * checked once at the end. */
#ifndef AD_ERROR_H
#define AD_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ad_status {
    AD_OK = 0,
    AD_ERR_ARG,        /* a bad argument: NULL, out of range, unknown name */
    AD_ERR_SHAPE,      /* shapes that do not fit the op */
    AD_ERR_DTYPE,      /* mixed or unsupported dtypes */
    AD_ERR_STATE,      /* wrong order of calls, freed context, no graph */
    AD_ERR_DOMAIN,     /* a value outside the op's domain (checked modes) */
    AD_ERR_NONFINITE,  /* NaN/Inf produced (finite-checking mode) */
    AD_ERR_NOMEM,      /* allocation failed */
    AD_ERR_IO,         /* file missing, truncated or corrupt */
    AD_ERR_DEVICE      /* CUDA/cuBLAS error, or no GPU */
} ad_status;

/* The message of the last error on this thread ("" if none). */
const char *ad_last_error(void);
/* The status of the last error on this thread (AD_OK if none). */
ad_status ad_last_status(void);
/* Forget the last error. */
void ad_clear_error(void);
/* Short name of a status ("shape error", ...). */
const char *ad_status_name(ad_status s);

/* Set the error; returns s so callers can `return ad_fail(...)`. */
ad_status ad_fail(ad_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
ad_status ad_vfail(ad_status s, const char *fmt, va_list ap);

#ifdef __cplusplus
}
#endif
#endif
