// transfer.cu: send and receive as differentiable ops, and the small device
// services the engine needs (zeroing, seeding, the recorded kernel error).
//
// to_device and to_host are not in ops/ad_op_list.h: the registry's ops run
// on either device with the same math, while these two only move data, and
// gradcheck's CPU sweep cannot run them. They go through ad_apply like every
// op, flagged AD_OP_TO_CUDA / AD_OP_TO_CPU so the engine puts the output on
// the other side.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "gpu_internal.h"

static thread_local ad_status pending = AD_OK;

void ad_gpu_note(ad_status st)
{
    if (st != AD_OK && pending == AD_OK) pending = st;   // keep the first failure
}

extern "C" ad_status ad_gpu_take_error(void)
{
    ad_status st = pending;
    pending = AD_OK;
    return st;
}

// ---- faults found by kernels (gpu_internal.h, ad_gpu_fault) ----
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static ad_gpu_fault *fault_record = NULL;   // on the device, made once, for the life of the process

ad_gpu_fault *ad_gpu_fault_record(void)
{
    pthread_mutex_lock(&fault_lock);
    if (!fault_record) {
        void *p = ad_gpu_malloc(sizeof(ad_gpu_fault));
        if (p && ad_gpu_memzero(p, sizeof(ad_gpu_fault)) == AD_OK) fault_record = (ad_gpu_fault *)p;
        else ad_gpu_free(p);
    }
    ad_gpu_fault *r = fault_record;
    pthread_mutex_unlock(&fault_lock);
    return r;
}

ad_status ad_gpu_take_fault(void)
{
    pthread_mutex_lock(&fault_lock);
    ad_gpu_fault *r = fault_record;
    pthread_mutex_unlock(&fault_lock);
    if (!r) return AD_OK;   // no kernel that checks has run
    // Not counted as a copy to the host: it follows one, and the device is idle by then.
    ad_gpu_fault f;
    if (AD_CUDA_CHECK(cudaMemcpy(&f, r, sizeof f, cudaMemcpyDeviceToHost)) != AD_OK) return AD_ERR_DEVICE;
    if (f.code == AD_GPU_FAULT_NONE) return AD_OK;
    ad_gpu_memzero(r, sizeof f);
    const ad_op *op = ad_op_at(f.op);
    const char *who = op ? op->name : "?", *when = "(found on the GPU by the forward pass, reported at the next copy to "
                                                  "the host)";
    switch (f.code) {
    case AD_GPU_FAULT_CLASS_INDEX:
        return ad_fail(AD_ERR_ARG, "%s: target %g at [%lld] is not a class index in 0..%lld %s", who, f.value,
                       (long long)f.index, (long long)f.limit - 1, when);
    case AD_GPU_FAULT_NEGATIVE_WEIGHT:
        return ad_fail(AD_ERR_ARG, "%s: class weight %g of the target at [%lld] is negative %s", who, f.value,
                       (long long)f.index, when);
    case AD_GPU_FAULT_ALL_IGNORED:
        return ad_fail(AD_ERR_ARG, "%s: every target is ignored (or weighs 0): the mean is undefined %s", who, when);
    }
    return ad_fail(AD_ERR_DEVICE, "%s: unknown fault %d recorded on the GPU", who, (int)f.code);
}

extern "C" ad_status ad_gpu_memzero(void *p, size_t bytes)
{
    return AD_CUDA_CHECK(cudaMemset(p, 0, bytes));
}

// y (n) += x (n), or += 1 where x is NULL.
template <typename T> __global__ void add_into_kernel(T *y, const T *x, int64_t n)
{
    AD_GPU_FOR(i, n)
        y[i] += x ? x[i] : (T)1;
}

extern "C" ad_status ad_gpu_add_into(ad_dtype dt, void *dst, const void *src, int64_t n)
{
    if (n <= 0) return AD_OK;
    AD_DISPATCH(dt, { AD_LAUNCH(ad_gpu_blocks(n, 256), 256, add_into_kernel<T>)((T *)dst, (const T *)src, n); });
    return AD_CUDA_CHECK(cudaGetLastError());
}

static size_t bytes_of(const ad_tensor *t) { return (size_t)t->size * ad_dtype_size((ad_dtype)t->dtype); }

// ---- shape rules: the same shape on the other side ----
static ad_status copy_infer(const char *who, ad_device from, ad_node *const *in, int *nd, int64_t *sh, ad_dtype *dt)
{
    const ad_tensor *x = &in[0]->value;
    if (x->device != from) {
        char s[64];
        return ad_fail(AD_ERR_DEVICE, "%s: input %s is already on the %s", who, ad_shape_str(x, s, sizeof s),
                       x->device == AD_CUDA ? "GPU" : "CPU");
    }
    *nd = x->ndim;
    for (int d = 0; d < AD_MAX_DIMS; d++) sh[d] = x->shape[d];
    *dt = (ad_dtype)x->dtype;
    return AD_OK;
}

static ad_status to_device_infer(ad_node *const *in, int n_in, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n_in;
    (void)p;
    return copy_infer("to_device", AD_CPU, in, nd, sh, dt);
}

static ad_status to_host_infer(ad_node *const *in, int n_in, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)n_in;
    (void)p;
    return copy_infer("to_host", AD_CUDA, in, nd, sh, dt);
}

// ---- sends without waiting ----
// cudaMemcpy from pageable host memory (a node's value) waits for the
// device to finish everything queued before it: a send at the start of a
// training step would wait for the whole previous step. From page-locked
// memory, cudaMemcpyAsync queues the copy and returns. So a send goes
// through one of a ring of page-locked staging buffers: the host data is
// copied in, the copy to the device queued, and an event recorded after it;
// a buffer is filled again only once its event says its last copy is done
// (STAGING_SLOTS sends later). A send too large for a slot, or where
// page-locked memory cannot be had, is a plain cudaMemcpy.
enum { STAGING_SLOTS = 4, STAGING_BYTES = 4 << 20 };
static struct {
    char *buf;
    cudaEvent_t copied;   // recorded after the slot's last copy
    bool in_use;
} staging[STAGING_SLOTS];
static int staging_next;
static pthread_mutex_t staging_lock = PTHREAD_MUTEX_INITIALIZER;

static ad_status send_to_device(void *dst, const void *src, size_t bytes)
{
    if (bytes > STAGING_BYTES) return AD_GPU_MEMCPY(dst, src, bytes, cudaMemcpyHostToDevice);
    pthread_mutex_lock(&staging_lock);
    int i = staging_next;
    if (!staging[i].buf) {
        void *p = NULL;
        cudaEvent_t e = NULL;
        if (cudaMallocHost(&p, STAGING_BYTES) != cudaSuccess ||
            cudaEventCreateWithFlags(&e, cudaEventDisableTiming) != cudaSuccess) {
            (void)cudaGetLastError();   // not an error: the plain copy below still works
            if (p) cudaFreeHost(p);
            pthread_mutex_unlock(&staging_lock);
            return AD_GPU_MEMCPY(dst, src, bytes, cudaMemcpyHostToDevice);
        }
        staging[i].buf = (char *)p;
        staging[i].copied = e;
    }
    staging_next = (i + 1) % STAGING_SLOTS;
    ad_status st = staging[i].in_use ? AD_CUDA_CHECK(cudaEventSynchronize(staging[i].copied)) : AD_OK;
    if (st == AD_OK) {
        memcpy(staging[i].buf, src, bytes);
        ad_gpu_count_copy(cudaMemcpyHostToDevice);
        st = AD_CUDA_CHECK(cudaMemcpyAsync(dst, staging[i].buf, bytes, cudaMemcpyHostToDevice, 0));
    }
    if (st == AD_OK) st = AD_CUDA_CHECK(cudaEventRecord(staging[i].copied, 0));
    staging[i].in_use = st == AD_OK;
    pthread_mutex_unlock(&staging_lock);
    return st;
}

// ---- to_device: x (host) -> y (device), y = x ----
static ad_status to_device_forward(ad_node *o)
{
    return send_to_device(o->value.data, o->in[0]->value.data, bytes_of(&o->value));
}

// gin (host) += gout (device): bring gout over, then add on the host.
static void to_device_vjp1(const ad_node *o, int slot, const void *gout, void *gin)
{
    (void)slot;
    int64_t n = o->value.size;
    void *tmp = malloc(bytes_of(&o->value));
    if (!tmp) {
        ad_gpu_note(ad_fail(AD_ERR_NOMEM, "to_device: vjp: no host memory for %lld elements", (long long)n));
        return;
    }
    ad_status st = AD_GPU_MEMCPY(tmp, gout, bytes_of(&o->value), cudaMemcpyDeviceToHost);
    if (st == AD_OK) {
        AD_DISPATCH(o->value.dtype, {
            T *g = (T *)gin;
            const T *t = (const T *)tmp;
            for (int64_t i = 0; i < n; i++) g[i] += t[i];
        });
    } else {
        ad_gpu_note(st);
    }
    free(tmp);
}
AD_VJP_BY_ROWS(to_device_vjp, to_device_vjp1)

static void to_device_jvp(ad_node *o, int k)
{
    size_t row = bytes_of(&o->value);
    for (int d = 0; d < k; d++) {
        const void *tx = ad_tangent_row(o->in[0], d);
        void *t = ad_tangent_row(o, d);
        ad_gpu_note(tx ? send_to_device(t, tx, row) : ad_gpu_memzero(t, row));
    }
}

// ---- to_host: x (device) -> y (host), y = x ----
static ad_status to_host_forward(ad_node *o)
{
    return AD_GPU_MEMCPY(o->value.data, o->in[0]->value.data, bytes_of(&o->value), cudaMemcpyDeviceToHost);
}

// gin (device) += gout (host): send gout over, then add on the device.
static void to_host_vjp1(const ad_node *o, int slot, const void *gout, void *gin)
{
    (void)slot;
    size_t bytes = bytes_of(&o->value);
    void *tmp = ad_gpu_malloc(bytes);
    if (!tmp) {
        ad_gpu_note(AD_ERR_DEVICE);
        return;
    }
    ad_status st = AD_GPU_MEMCPY(tmp, gout, bytes, cudaMemcpyHostToDevice);
    if (st == AD_OK) st = ad_gpu_add_into((ad_dtype)o->value.dtype, gin, tmp, o->value.size);
    ad_gpu_note(st);
    ad_gpu_free(tmp);
}
AD_VJP_BY_ROWS(to_host_vjp, to_host_vjp1)

static void to_host_jvp(ad_node *o, int k)
{
    size_t row = bytes_of(&o->value);
    for (int d = 0; d < k; d++) {
        const void *tx = ad_tangent_row(o->in[0], d);
        void *t = ad_tangent_row(o, d);
        if (tx) ad_gpu_note(AD_GPU_MEMCPY(t, tx, row, cudaMemcpyDeviceToHost));
        else memset(t, 0, row);
    }
}

static const ad_op_kernels to_device_kernels = {to_device_forward, to_device_vjp, to_device_jvp, NULL};

static ad_op make_to_device(void)
{
    ad_op op = {};
    op.name = "to_device";
    op.summary = "send: the same tensor, on the GPU (its vjp receives the gradient back)";
    op.n_in = op.n_in_min = 1;
    op.flags = AD_OP_LINEAR | AD_OP_TO_CUDA;
    op.infer = to_device_infer;
    op.cuda = &to_device_kernels;
    return op;
}

static ad_op make_to_host(void)
{
    ad_op op = {};
    op.name = "to_host";
    op.summary = "receive: the same tensor, on the CPU (its vjp sends the gradient over)";
    op.n_in = op.n_in_min = 1;
    op.flags = AD_OP_LINEAR | AD_OP_TO_CPU;
    op.infer = to_host_infer;
    op.cpu = {to_host_forward, to_host_vjp, to_host_jvp, NULL};
    return op;
}

static const ad_op op_to_device = make_to_device();
static const ad_op op_to_host = make_to_host();

extern "C" ad_node *ad_to_device(ad_context *ctx, ad_node *x)
{
    if (x && !ad_gpu_available()) return NULL;
    ad_node *in[1] = {x};
    return ad_apply(ctx, &op_to_device, in, 1, NULL);
}

extern "C" ad_node *ad_to_host(ad_context *ctx, ad_node *x)
{
    ad_node *in[1] = {x};
    return ad_apply(ctx, &op_to_host, in, 1, NULL);
}
