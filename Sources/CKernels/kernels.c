#include "CKernels.h"

// Every product is rounded before it is added, as the Swift loop it stands in for does: a
// fused multiply-add would change the last bits, and serving scores must match bit for bit.
#pragma clang fp contract(off)
// Nor may the compiler reorder a sum, whatever flags it is given.
#pragma clang fp reassociate(off)

#if defined(__x86_64__)
#include <immintrin.h>

bool iak_has_avx2(void) { return __builtin_cpu_supports("avx2"); }

// Sums of 8 columns: `sum + broadcast(x) * line`, one rounded multiply and one rounded add.
#define IAK_STEP(sum, factor, line) (sum) = _mm256_add_ps((sum), _mm256_mul_ps((factor), (line)))

// One row of `c = a * b`: columns 32 at a time in four registers, then 8 at a time, then one by
// one; each element the ordered sum of its rounded products.
__attribute__((target("avx2"))) static inline void multiply_one_row(ptrdiff_t n, ptrdiff_t k,
                                                                   const float *x,
                                                                   const float *b, float *out) {
  const ptrdiff_t wide = n - n % 32;
  ptrdiff_t column = 0;
  for (; column < wide; column += 32) {
    __m256 sum0 = _mm256_setzero_ps(), sum1 = _mm256_setzero_ps();
    __m256 sum2 = _mm256_setzero_ps(), sum3 = _mm256_setzero_ps();
    for (ptrdiff_t index = 0; index < k; index++) {
      const __m256 factor = _mm256_set1_ps(x[index]);
      const float *line = b + index * n + column;
      IAK_STEP(sum0, factor, _mm256_loadu_ps(line));
      IAK_STEP(sum1, factor, _mm256_loadu_ps(line + 8));
      IAK_STEP(sum2, factor, _mm256_loadu_ps(line + 16));
      IAK_STEP(sum3, factor, _mm256_loadu_ps(line + 24));
    }
    _mm256_storeu_ps(out + column, sum0);
    _mm256_storeu_ps(out + column + 8, sum1);
    _mm256_storeu_ps(out + column + 16, sum2);
    _mm256_storeu_ps(out + column + 24, sum3);
  }
  for (; column + 8 <= n; column += 8) {
    __m256 sum = _mm256_setzero_ps();
    for (ptrdiff_t index = 0; index < k; index++) {
      IAK_STEP(sum, _mm256_set1_ps(x[index]), _mm256_loadu_ps(b + index * n + column));
    }
    _mm256_storeu_ps(out + column, sum);
  }
  for (; column < n; column++) {
    float sum = 0;
    for (ptrdiff_t index = 0; index < k; index++) {
      const float product = x[index] * b[index * n + column];
      sum = sum + product;
    }
    out[column] = sum;
  }
}

// Two rows at once (`x0`, `x1` into `out0`, `out1`): each line of `b` is loaded once for both.
// Every element is still its own ordered sum of rounded products, the bits of one row alone.
__attribute__((target("avx2"))) static inline void multiply_two_rows(
    ptrdiff_t n, ptrdiff_t k, const float *x0, const float *x1, const float *b, float *out0,
    float *out1) {
  const ptrdiff_t wide = n - n % 32;
  ptrdiff_t column = 0;
  for (; column < wide; column += 32) {
    __m256 sum00 = _mm256_setzero_ps(), sum01 = _mm256_setzero_ps();
    __m256 sum02 = _mm256_setzero_ps(), sum03 = _mm256_setzero_ps();
    __m256 sum10 = _mm256_setzero_ps(), sum11 = _mm256_setzero_ps();
    __m256 sum12 = _mm256_setzero_ps(), sum13 = _mm256_setzero_ps();
    for (ptrdiff_t index = 0; index < k; index++) {
      const __m256 factor0 = _mm256_set1_ps(x0[index]);
      const __m256 factor1 = _mm256_set1_ps(x1[index]);
      const float *line = b + index * n + column;
      const __m256 line0 = _mm256_loadu_ps(line), line1 = _mm256_loadu_ps(line + 8);
      const __m256 line2 = _mm256_loadu_ps(line + 16), line3 = _mm256_loadu_ps(line + 24);
      IAK_STEP(sum00, factor0, line0);
      IAK_STEP(sum01, factor0, line1);
      IAK_STEP(sum02, factor0, line2);
      IAK_STEP(sum03, factor0, line3);
      IAK_STEP(sum10, factor1, line0);
      IAK_STEP(sum11, factor1, line1);
      IAK_STEP(sum12, factor1, line2);
      IAK_STEP(sum13, factor1, line3);
    }
    _mm256_storeu_ps(out0 + column, sum00);
    _mm256_storeu_ps(out0 + column + 8, sum01);
    _mm256_storeu_ps(out0 + column + 16, sum02);
    _mm256_storeu_ps(out0 + column + 24, sum03);
    _mm256_storeu_ps(out1 + column, sum10);
    _mm256_storeu_ps(out1 + column + 8, sum11);
    _mm256_storeu_ps(out1 + column + 16, sum12);
    _mm256_storeu_ps(out1 + column + 24, sum13);
  }
  for (; column + 8 <= n; column += 8) {
    __m256 sum0 = _mm256_setzero_ps(), sum1 = _mm256_setzero_ps();
    for (ptrdiff_t index = 0; index < k; index++) {
      const __m256 line = _mm256_loadu_ps(b + index * n + column);
      IAK_STEP(sum0, _mm256_set1_ps(x0[index]), line);
      IAK_STEP(sum1, _mm256_set1_ps(x1[index]), line);
    }
    _mm256_storeu_ps(out0 + column, sum0);
    _mm256_storeu_ps(out1 + column, sum1);
  }
  for (; column < n; column++) {
    float sum0 = 0, sum1 = 0;
    for (ptrdiff_t index = 0; index < k; index++) {
      const float product0 = x0[index] * b[index * n + column];
      const float product1 = x1[index] * b[index * n + column];
      sum0 = sum0 + product0;
      sum1 = sum1 + product1;
    }
    out0[column] = sum0;
    out1[column] = sum1;
  }
}

__attribute__((target("avx2"))) void iak_multiply_rows_avx2(ptrdiff_t m, ptrdiff_t n,
                                                             ptrdiff_t k, const float *a,
                                                             const float *b, float *c) {
  ptrdiff_t row = 0;
  for (; row + 2 <= m; row += 2) {
    multiply_two_rows(n, k, a + row * k, a + (row + 1) * k, b, c + row * n, c + (row + 1) * n);
  }
  if (row < m) multiply_one_row(n, k, a + row * k, b, c + row * n);
}

#else

bool iak_has_avx2(void) { return false; }

void iak_multiply_rows_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a,
                            const float *b, float *c) {
  (void)m, (void)n, (void)k, (void)a, (void)b, (void)c;
}

#endif
