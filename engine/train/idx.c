/* idx.c: IDX files, plain or gzipped, read through our own zlib inflate
 * loop so that every byte of the file is accounted for: a gzip stream cut
 * anywhere (its 8-byte trailer included) or followed by anything but another
 * gzip member is an error, as is a plain file with bytes after its data.
 * Nothing is allocated on the header's word alone: the data buffer grows as
 * data arrives, so a 23-byte file announcing 7 GB costs a few kilobytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "ad_data.h"
#include "ad_kernel.h"

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* The file as a stream of (decompressed) bytes. */
typedef struct idx_src {
    int fd;
    const char *path;
    bool gz;                 /* gzip (magic 1f 8b) or plain */
    bool z_live;             /* inflateInit2 done */
    bool member_done;        /* the current gzip member ended (trailer checked) */
    bool eof;                /* no more bytes in the file */
    z_stream z;
    unsigned char in[1 << 16];
} idx_src;

/* More file bytes into in[] after the avail_in still unread. -1 on error. */
static int fill(idx_src *r)
{
    if (r->eof) return 0;
    if (r->z.avail_in > 0 && r->z.next_in != r->in) memmove(r->in, r->z.next_in, r->z.avail_in);
    r->z.next_in = r->in;
    ssize_t n;
    do n = read(r->fd, r->in + r->z.avail_in, sizeof r->in - r->z.avail_in);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        ad_fail(AD_ERR_IO, "%s: read error (%s)", r->path, strerror(errno));
        return -1;
    }
    if (n == 0) r->eof = true;
    r->z.avail_in += (uInt)n;
    return (int)n;
}

/* Up to n bytes of data into buf: the count, fewer than n only where the
 * data ends cleanly; -1 (with a message) on a read error, a corrupt or cut
 * gzip stream, or bytes after it that are not another gzip member. */
static int64_t src_read(idx_src *r, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        if (!r->gz) {
            if (r->z.avail_in == 0 && fill(r) < 0) return -1;
            if (r->z.avail_in == 0) break;   /* end of file */
            size_t k = r->z.avail_in < n - got ? r->z.avail_in : n - got;
            memcpy(buf + got, r->z.next_in, k);
            r->z.next_in += k;
            r->z.avail_in -= (uInt)k;
            got += k;
            continue;
        }
        if (r->member_done) {
            /* Another gzip member, or the end: anything else is garbage. */
            while (r->z.avail_in < 2 && !r->eof)
                if (fill(r) < 0) return -1;
            if (r->z.avail_in == 0) break;
            if (r->z.avail_in < 2 || r->z.next_in[0] != 0x1f || r->z.next_in[1] != 0x8b) {
                ad_fail(AD_ERR_IO, "%s: has bytes after the end of its gzip stream (corrupt, or not one file)", r->path);
                return -1;
            }
            inflateReset(&r->z);
            r->member_done = false;
        }
        if (r->z.avail_in == 0 && fill(r) < 0) return -1;
        size_t want = n - got > (1u << 30) ? (1u << 30) : n - got;
        r->z.next_out = buf + got;
        r->z.avail_out = (uInt)want;
        int zr = inflate(&r->z, Z_NO_FLUSH);
        got += want - r->z.avail_out;
        if (zr == Z_STREAM_END) {
            r->member_done = true;
        } else if (zr == Z_BUF_ERROR || (zr == Z_OK && r->z.avail_in == 0 && r->eof)) {
            if (r->z.avail_in == 0 && r->eof) {
                ad_fail(AD_ERR_IO, "%s: truncated: the gzip stream is cut before its end", r->path);
                return -1;
            }
        } else if (zr != Z_OK) {
            ad_fail(AD_ERR_IO, "%s: corrupt gzip stream (%s)", r->path, r->z.msg ? r->z.msg : zError(zr));
            return -1;
        }
    }
    return (int64_t)got;
}

/* Read exactly n bytes, or say why not. */
static ad_status read_exact(idx_src *r, void *buf, size_t n, const char *what)
{
    int64_t got = src_read(r, buf, n);
    if (got < 0) return ad_last_status();
    if ((size_t)got < n)
        return ad_fail(AD_ERR_IO, "%s: truncated: the %s needs %zu bytes, the file has %lld", r->path, what, n,
                       (long long)got);
    return AD_OK;
}

/* Open path for reading if it is a regular file: a FIFO, a device or a
 * directory is refused without blocking (O_NONBLOCK until checked). */
static int open_regular(const char *path, struct stat *sb)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) ad_fail(AD_ERR_IO, "%s: no such file", path);
        else ad_fail(AD_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
        ad_fail(AD_ERR_IO, "%s: not a regular file (%s)", path,
                S_ISDIR(sb->st_mode) ? "a directory" : S_ISFIFO(sb->st_mode) ? "a FIFO" : "a device or other special file");
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

ad_tensor *ad_idx_load(const char *path, ad_dtype dt, double scale)
{
    if (!path) {
        ad_fail(AD_ERR_ARG, "idx_load: path is NULL");
        return NULL;
    }
    struct stat sb;
    idx_src *r = calloc(1, sizeof *r);
    if (!r) {
        ad_fail(AD_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    r->path = path;
    r->z.next_in = r->in;
    if ((r->fd = open_regular(path, &sb)) < 0) {
        free(r);
        return NULL;
    }
    ad_tensor *t = NULL;
    unsigned char head[4], dimb[4 * AD_MAX_DIMS], *bytes = NULL;
    /* gzip or plain, from the first two bytes */
    while (r->z.avail_in < 2 && !r->eof)
        if (fill(r) < 0) goto done;
    r->gz = r->z.avail_in >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b;
    if (r->gz) {
        if (inflateInit2(&r->z, 16 + MAX_WBITS) != Z_OK) {   /* 16: gzip wrapper only */
            ad_fail(AD_ERR_NOMEM, "%s: cannot start zlib", path);
            goto done;
        }
        r->z_live = true;
    }
    if (read_exact(r, head, 4, "header") != AD_OK) goto done;
    if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] < 1 || head[3] > AD_MAX_DIMS) {
        ad_fail(AD_ERR_IO, "%s: not an IDX file of unsigned bytes (magic %02x%02x%02x%02x, expected 0000080N with N = 1..%d)",
                path, head[0], head[1], head[2], head[3], AD_MAX_DIMS);
        goto done;
    }
    int ndim = head[3];
    if (read_exact(r, dimb, (size_t)(4 * ndim), "dimensions") != AD_OK) goto done;
    int64_t shape[AD_MAX_DIMS], size = 1;
    for (int d = 0; d < ndim; d++) {
        shape[d] = be32(dimb + 4 * d);
        if (shape[d] == 0 || shape[d] > (1 << 28) || size > (INT64_C(1) << 34) / shape[d]) {
            ad_fail(AD_ERR_IO, "%s: dimension %d is %lld, which cannot be right", path, d, (long long)shape[d]);
            goto done;
        }
        size *= shape[d];
    }
    /* A plain file's size is known: check it before reading the data. */
    int64_t want = 4 + 4 * ndim + size;
    if (!r->gz && (int64_t)sb.st_size < want) {
        ad_fail(AD_ERR_IO, "%s: truncated: the data needs %lld bytes, the file has %lld", path, (long long)size,
                (long long)(sb.st_size - 4 - 4 * ndim));
        goto done;
    }
    /* The buffer grows with the data actually read (doubling from 1 MiB). */
    size_t cap = 0, got = 0;
    while (got < (size_t)size) {
        if (got == cap) {
            size_t nc = cap ? 2 * cap : (size_t)1 << 20;
            if (nc > (size_t)size) nc = (size_t)size;
            unsigned char *nb = realloc(bytes, nc);
            if (!nb) {
                ad_fail(AD_ERR_NOMEM, "%s: cannot allocate %zu bytes for its data", path, nc);
                goto done;
            }
            bytes = nb;
            cap = nc;
        }
        int64_t k = src_read(r, bytes + got, cap - got);
        if (k < 0) goto done;
        if (k == 0) {
            ad_fail(AD_ERR_IO, "%s: truncated: the data needs %lld bytes, the file has %zu", path, (long long)size, got);
            goto done;
        }
        got += (size_t)k;
    }
    unsigned char extra;
    int64_t more = src_read(r, &extra, 1);   /* must be the clean end (a gzip trailer checked) */
    if (more < 0) goto done;
    if (more > 0) {
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
    if (r->z_live) inflateEnd(&r->z);
    close(r->fd);
    free(r);
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
