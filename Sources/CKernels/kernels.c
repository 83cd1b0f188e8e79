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

__attribute__((target("avx2"))) void iak_multiply_rows_avx2(ptrdiff_t m, ptrdiff_t n,
                                                             ptrdiff_t k, const float *a,
                                                             const float *b, float *c) {
  const ptrdiff_t wide = n - n % 32;
  for (ptrdiff_t row = 0; row < m; row++) {
    const float *x = a + row * k;
    float *out = c + row * n;
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
}

#else

bool iak_has_avx2(void) { return false; }

void iak_multiply_rows_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a,
                            const float *b, float *c) {
  (void)m, (void)n, (void)k, (void)a, (void)b, (void)c;
}

#endif
