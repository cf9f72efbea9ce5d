/* ad_data.h: IDX files (the MNIST family's format), gzipped or not, and
 * Fashion-MNIST from Debian's dataset-fashion-mnist or a given folder.
 * A missing, truncated or corrupt file is a clear error (AD_ERR_IO) naming
 * the file and what is wrong with it; never a crash or a wrong tensor. */
#ifndef AD_DATA_H
#define AD_DATA_H

#include <stdbool.h>
#include "ad_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AD_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Load an IDX file of unsigned bytes (magic 0x0000080N, N dims <= 4) into a
 * tensor of dtype dt, each byte times scale. NULL + message on error. */
ad_tensor *ad_idx_load(const char *path, ad_dtype dt, double scale);

/* The train (60,000) or test (10,000) split: images (N,1,28,28) scaled to
 * [0,1], labels (N) holding the class indices 0..9. dir NULL means
 * AD_FASHION_MNIST_DIR. Files may be gzipped (NAME.gz) or not (NAME). */
ad_status ad_fashion_mnist_load(const char *dir, bool train, ad_dtype dt, ad_tensor **images, ad_tensor **labels);

/* The ten class names, "T-shirt/top" .. "Ankle boot". */
const char *ad_fashion_mnist_class(int k);

#ifdef __cplusplus
}
#endif
#endif
