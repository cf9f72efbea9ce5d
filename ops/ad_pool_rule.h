/* ad_pool_rule.h: max-pooling's choice of a window's element, shared by the
 * CPU (ops/pool.c) and the GPU (gpu/pool.cu) so the two cannot differ.
 *
 * Scanning the window in row-major order, v takes the place of the best so
 * far, b, when it is larger, or when it is NaN and b is not. So a tie goes to
 * the first maximum (which then takes the whole gradient), and a NaN
 * anywhere in the window makes the output NaN, as in PyTorch (the first NaN
 * takes the gradient). A plain `v > b` would skip the NaN. */
#ifndef AD_POOL_RULE_H
#define AD_POOL_RULE_H

/* (bitwise | and &: no branch, so a scan compiles to selects) */
#define AD_POOL_TAKES(v, b) (((v) > (b)) | (((v) != (v)) & ((b) == (b))))

#endif
