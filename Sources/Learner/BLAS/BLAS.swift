internal import CKernels
internal import COpenBLAS

/// Thin wrappers over the few BLAS calls and elementwise loops the Learner needs, and the
/// row-by-row product of the serving engines (`multiplyRowByRow`).
///
/// All matrices are row-major `[rows x columns]` in contiguous memory; callers pass raw pointers
/// into buffers allocated once (see `BackboneWorkspace`), so none of these functions allocate.
enum BLAS {
  /// `c = a * b + beta * c` where `a` is `[m x k]` and `b` is `[k x n]` (or their transposes).
  ///
  /// A product with `k == 1` and `beta == 0` (an outer product: the output layer's backward
  /// pass, and a one-row batch's weight gradients) is a plain loop: each output is one rounded
  /// product, the same bits `cblas_sgemm` gives, without its fixed cost (measured with
  /// `iak-stream bench steps`: about 0.35 µs against 0.9 µs for `[1 x 1] x [1 x 64]`). A product
  /// with `m == 1` (a one-row batch) is the row loop (`multiplyRowByRow`) or `cblas_sgemv`: its
  /// bits are those of a one-row batch wherever it runs, as a batch of one is always one row.
  ///
  /// - Parameters:
  ///   - transposeA: use `a` stored as `[k x m]`.
  ///   - transposeB: use `b` stored as `[n x k]`.
  ///   - beta: 0 to overwrite `c`, 1 to accumulate into it.
  @inline(__always)
  static func multiply(
    m: Int, n: Int, k: Int,
    _ a: UnsafePointer<Float>, transposeA: Bool = false,
    _ b: UnsafePointer<Float>, transposeB: Bool = false,
    into c: UnsafeMutablePointer<Float>, beta: Float = 0
  ) {
    if m == 0 || n == 0 { return }
    if k == 0 {
      if beta == 0 { c.update(repeating: 0, count: m * n) }
      return
    }
    if k == 1 && beta == 0 {
      outerProduct(m: m, n: n, a, b, into: c)
      return
    }
    if m == 1 {
      // One row (a batch of one): `cblas_sgemm` packs all of `b` for it, which costs more than
      // the products (`bench steps`, batch 1: the frozen layers 13.4-14.9 us with it, 3.2-4.9
      // us row by row). `a` is the same `k` floats transposed or not.
      if !transposeB && beta == 0 {
        multiplyRowByRow(m: 1, n: n, k: k, a, b, into: c)
      } else {
        // c = op(b)^T a: `b` is [n x k] (transposed) or [k x n].
        cblas_sgemv(
          CblasRowMajor, transposeB ? CblasNoTrans : CblasTrans, Int32(transposeB ? n : k),
          Int32(transposeB ? k : n), 1, b, Int32(transposeB ? k : n), a, 1, beta, c, 1)
      }
      return
    }
    let lda = transposeA ? m : k
    let ldb = transposeB ? k : n
    cblas_sgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(n))
  }

  /// `c = a * b` (no transposes): row by row (`multiplyRowByRow`) or with `cblas_sgemm`.
  @inline(__always)
  static func multiply(
    m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    into c: UnsafeMutablePointer<Float>, rowByRow: Bool
  ) {
    if rowByRow {
      multiplyRowByRow(m: m, n: n, k: k, a, b, into: c)
    } else {
      multiply(m: m, n: n, k: k, a, b, into: c)
    }
  }

  /// `c = a * b` for `a` `[m x k]` and `b` `[k x n]`, each row of `c` on its own: element
  /// `c[i, j]` starts at zero and adds the rounded products `a[i, 0] * b[0, j]`,
  /// `a[i, 1] * b[1, j]`, ... in that order. A row's bits therefore depend on that row alone,
  /// not on the rows beside it nor on how many there are, which `cblas_sgemm`'s blocking does not
  /// promise (one row and a row among 256 differ in the last bits on this machine's OpenBLAS).
  /// Serving scores need it: the frozen layers run for one impression where it is scored, and for
  /// a chunk of impressions on the thread that decodes ahead, and both must give the same bits.
  ///
  /// On a CPU with AVX2 the loop runs in C with 8 floats a register (`iak_multiply_rows_avx2`:
  /// `bench learner`'s serving score, mostly these products, went from 9.2 to 6.8 us per
  /// impression); elsewhere in Swift (`multiplyRowByRowPortable`), whose `SIMD8` compiles to
  /// the baseline instruction set, 4 floats a register. Both give every element the same bits.
  static func multiplyRowByRow(
    m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    into c: UnsafeMutablePointer<Float>
  ) {
    if hasAVX2 {
      iak_multiply_rows_avx2(m, n, k, a, b, c)
    } else {
      multiplyRowByRowPortable(m: m, n: n, k: k, a, b, into: c)
    }
  }

  /// Whether this CPU has AVX2 (`multiplyRowByRow` then runs in C), asked once.
  static let hasAVX2 = iak_has_avx2()

  /// `multiplyRowByRow` in Swift, for any CPU. Columns go 32 at a time in registers (four
  /// `SIMD8`), then 8 at a time, the rest one by one; every way each element is the same
  /// sequence of rounded multiplies and adds.
  static func multiplyRowByRowPortable(
    m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    into c: UnsafeMutablePointer<Float>
  ) {
    let wide = n - n % 32
    let rawB = UnsafeRawPointer(b)
    let rawC = UnsafeMutableRawPointer(c)
    let stride = MemoryLayout<Float>.stride
    for row in 0..<m {
      let x = a + row * k
      let out = row * n
      var column = 0
      while column < wide {
        var sum0 = SIMD8<Float>(), sum1 = SIMD8<Float>()
        var sum2 = SIMD8<Float>(), sum3 = SIMD8<Float>()
        for index in 0..<k {
          let factor = SIMD8<Float>(repeating: x[index])
          let line = rawB + (index * n + column) * stride
          sum0 += factor * line.loadUnaligned(as: SIMD8<Float>.self)
          sum1 += factor * line.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
          sum2 += factor * line.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
          sum3 += factor * line.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
        }
        let target = rawC + (out + column) * stride
        target.storeBytes(of: sum0, as: SIMD8<Float>.self)
        target.storeBytes(of: sum1, toByteOffset: 32, as: SIMD8<Float>.self)
        target.storeBytes(of: sum2, toByteOffset: 64, as: SIMD8<Float>.self)
        target.storeBytes(of: sum3, toByteOffset: 96, as: SIMD8<Float>.self)
        column += 32
      }
      while column + 8 <= n {
        var sum = SIMD8<Float>()
        for index in 0..<k {
          let line = rawB + (index * n + column) * stride
          sum += SIMD8<Float>(repeating: x[index]) * line.loadUnaligned(as: SIMD8<Float>.self)
        }
        (rawC + (out + column) * stride).storeBytes(of: sum, as: SIMD8<Float>.self)
        column += 8
      }
      while column < n {
        var sum: Float = 0
        for index in 0..<k { sum += x[index] * b[index * n + column] }
        c[out + column] = sum
        column += 1
      }
    }
  }

  /// `c[i, j] = a[i] * b[j]` for `a` of length `m` and `b` of length `n` (`c` is `[m x n]`);
  /// a one-column `a` and a one-row `b` are laid out the same transposed or not.
  @inline(__always)
  static func outerProduct(
    m: Int, n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    into c: UnsafeMutablePointer<Float>
  ) {
    for i in 0..<m {
      let x = a[i]
      let row = c + i * n
      for j in 0..<n { row[j] = x * b[j] }
    }
  }

  /// Adds `bias` (length `columns`) to every row of `matrix` (`[rows x columns]`).
  @inline(__always)
  static func addRowVector(
    _ bias: UnsafePointer<Float>, to matrix: UnsafeMutablePointer<Float>, rows: Int, columns: Int
  ) {
    for row in 0..<rows {
      let line = matrix + row * columns
      for column in 0..<columns { line[column] += bias[column] }
    }
  }

  /// Replaces every negative entry of `values` by 0.
  @inline(__always)
  static func rectify(_ values: UnsafeMutablePointer<Float>, count: Int) {
    for index in 0..<count { values[index] = max(values[index], 0) }
  }

  /// Zeroes `gradient` wherever `activation` (a ReLU output) is not positive.
  @inline(__always)
  static func maskByActivity(
    _ gradient: UnsafeMutablePointer<Float>, activation: UnsafePointer<Float>, count: Int
  ) {
    for index in 0..<count {
      gradient[index] = activation[index] > 0 ? gradient[index] : 0
    }
  }

  /// Writes the column sums of `matrix` (`[rows x columns]`) into `sums` (length `columns`).
  @inline(__always)
  static func sumColumns(
    _ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<Float>
  ) {
    sums.update(repeating: 0, count: columns)
    for row in 0..<rows {
      let line = matrix + row * columns
      for column in 0..<columns { sums[column] += line[column] }
    }
  }
}
