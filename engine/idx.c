/* idx.c: IDX files through zlib (gzread reads plain files too). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include "ad_data.h"
#include "ad_kernel_util.h"

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Read exactly n bytes, or say why not. */
static ad_status read_exact(gzFile f, const char *path, void *buf, size_t n, const char *what)
{
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int r = gzread(f, (char *)buf + got, chunk);
        if (r < 0) {
            int errnum;
            const char *msg = gzerror(f, &errnum);
            return ad_fail(AD_ERR_IO, "%s: corrupt (%s) while reading the %s", path, msg, what);
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    if (got < n)
        return ad_fail(AD_ERR_IO, "%s: truncated: the %s needs %zu bytes, the file has %zu", path, what, n, got);
    return AD_OK;
}

ad_tensor *ad_idx_load(const char *path, ad_dtype dt, double scale)
{
    if (!path) {
        ad_fail(AD_ERR_ARG, "idx_load: path is NULL");
        return NULL;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) {
        ad_fail(AD_ERR_IO, "%s: no such file", path);
        return NULL;
    }
    gzFile f = gzopen(path, "rb");
    if (!f) {
        ad_fail(AD_ERR_IO, "%s: cannot open", path);
        return NULL;
    }
    ad_tensor *t = NULL;
    unsigned char head[4], dimb[4 * AD_MAX_DIMS], *bytes = NULL;
    if (read_exact(f, path, head, 4, "header") != AD_OK) goto done;
    if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] < 1 || head[3] > AD_MAX_DIMS) {
        ad_fail(AD_ERR_IO, "%s: not an IDX file of unsigned bytes (magic %02x%02x%02x%02x, expected 0000080N with N = 1..%d)",
                path, head[0], head[1], head[2], head[3], AD_MAX_DIMS);
        goto done;
    }
    int ndim = head[3];
    if (read_exact(f, path, dimb, (size_t)(4 * ndim), "dimensions") != AD_OK) goto done;
    int64_t shape[AD_MAX_DIMS], size = 1;
    for (int d = 0; d < ndim; d++) {
        shape[d] = be32(dimb + 4 * d);
        if (shape[d] == 0 || shape[d] > (1 << 28) || size > (INT64_C(1) << 34) / shape[d]) {
            ad_fail(AD_ERR_IO, "%s: dimension %d is %lld, which cannot be right", path, d, (long long)shape[d]);
            goto done;
        }
        size *= shape[d];
    }
    bytes = malloc((size_t)size);
    if (!bytes) {
        ad_fail(AD_ERR_NOMEM, "%s: cannot allocate %lld bytes", path, (long long)size);
        goto done;
    }
    if (read_exact(f, path, bytes, (size_t)size, "data") != AD_OK) goto done;
    unsigned char extra;
    if (gzread(f, &extra, 1) > 0) {
        ad_fail(AD_ERR_IO, "%s: has bytes after the %lld its header announces (corrupt or not IDX)", path, (long long)size);
        goto done;
    }
    t = ad_tensor_new(dt, ndim, shape);
    if (t)
        AD_DISPATCH(dt, {
            T *out = t->data;
            for (int64_t i = 0; i < size; i++) out[i] = (T)(bytes[i] * scale);
        });
done:
    free(bytes);
    gzclose(f);
    return t;
}

static const char *const classes[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

const char *ad_fashion_mnist_class(int k) { return k >= 0 && k < 10 ? classes[k] : "?"; }

/* dir/name.gz if it exists, else dir/name. */
static void find_file(const char *dir, const char *name, char *out, size_t len)
{
    struct stat sb;
    snprintf(out, len, "%s/%s.gz", dir, name);
    if (stat(out, &sb) == 0) return;
    snprintf(out, len, "%s/%s", dir, name);
}

ad_status ad_fashion_mnist_load(const char *dir, bool train, ad_dtype dt, ad_tensor **images, ad_tensor **labels)
{
    if (!images || !labels) return ad_fail(AD_ERR_ARG, "fashion_mnist_load: NULL output");
    *images = *labels = NULL;
    if (!dir) dir = AD_FASHION_MNIST_DIR;
    char ip[1024], lp[1024];
    find_file(dir, train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte", ip, sizeof ip);
    find_file(dir, train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte", lp, sizeof lp);
    ad_tensor *im = ad_idx_load(ip, dt, 1.0 / 255.0);
    if (!im) return ad_last_status();
    ad_tensor *lb = ad_idx_load(lp, dt, 1.0);
    if (!lb) {
        ad_tensor_free(im);
        return ad_last_status();
    }
    if (im->ndim != 3 || im->shape[1] != 28 || im->shape[2] != 28 || lb->ndim != 1 || lb->shape[0] != im->shape[0]) {
        char a[64], b[64];
        ad_fail(AD_ERR_IO, "%s and %s: images %s and labels %s do not make a Fashion-MNIST split (N,28,28) and (N)", ip,
                lp, ad_shape_str(im, a, sizeof a), ad_shape_str(lb, b, sizeof b));
        ad_tensor_free(im);
        ad_tensor_free(lb);
        return AD_ERR_IO;
    }
    for (int64_t i = 0; i < lb->size; i++)
        if (ad_tensor_get(lb, i) > 9) {
            ad_fail(AD_ERR_IO, "%s: label %g at %lld is not a class 0..9", lp, ad_tensor_get(lb, i), (long long)i);
            ad_tensor_free(im);
            ad_tensor_free(lb);
            return AD_ERR_IO;
        }
    /* (N,28,28) -> (N,1,28,28): one channel */
    im->ndim = 4;
    im->shape[3] = 28;
    im->shape[2] = 28;
    im->shape[1] = 1;
    *images = im;
    *labels = lb;
    return AD_OK;
}
