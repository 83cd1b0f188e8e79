// Hand-vectorised loops for the Learner, where Swift's portable SIMD types compile to the
// baseline x86-64 instruction set (4 floats a register) and the machine offers more.
#ifndef IAK_CKERNELS_H
#define IAK_CKERNELS_H

#include <stdbool.h>
#include <stddef.h>

/// Whether this CPU runs `iak_multiply_rows_avx2` (it has AVX2); false on other architectures.
bool iak_has_avx2(void);

/// `c = a * b` for row-major `a` [m x k] and `b` [k x n], each element of `c` starting at zero
/// and adding the rounded products `a[i, 0] * b[0, j]`, `a[i, 1] * b[1, j]`, ... in that order,
/// never fused: the bits `BLAS.multiplyRowByRow` computes, 8 floats a register. Call only when
/// `iak_has_avx2()`.
void iak_multiply_rows_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a,
                            const float *b, float *c);

#endif
