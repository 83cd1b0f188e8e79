import Foundation

extension IAKKernel {
  /// Bounds applied to `log_var` before it is used (outside them its gradient is 0), so that
  /// `exp(log_var)` stays finite whatever the encoder produces.
  static let logVarianceRange: ClosedRange<Float> = -20...20

  /// Runs the kernel on `rows` rows of `input` (`h`, `rows x m`), writing `mu`/`log_var`, `z`,
  /// `delta` and `h' = h + delta` into `workspace`. With `sampling`, `z = mu + exp(log_var/2) *
  /// eps` with eps drawn from the kernel's noise generator (which advances), and `exp(log_var/2)`
  /// is kept in `workspace.deviation` for `backward`; otherwise `z = mu`. With `rowByRow`, each
  /// row's products are its own (`BLAS.multiplyRowByRow`), as the serving engines need.
  mutating func forward(
    input: UnsafePointer<Float>, rows: Int, workspace: KernelWorkspace, sampling: Bool,
    rowByRow: Bool = false
  ) {
    let k = layout.bottleneck
    let m = layout.width
    let hiddenWidth = layout.encoderHidden
    if sampling { noise.fillGaussian(workspace.noise, count: rows * k) }
    let range = Self.logVarianceRange
    parameters.withUnsafeBufferPointer { buffer in
      let p = buffer.baseAddress!
      var encoderInput = input
      if hiddenWidth > 0 {
        BLAS.multiply(
          m: rows, n: hiddenWidth, k: m, input, p + layout.hiddenWeight, into: workspace.hidden,
          rowByRow: rowByRow)
        BLAS.addRowVector(
          p + layout.hiddenBias, to: workspace.hidden, rows: rows, columns: hiddenWidth)
        BLAS.rectify(workspace.hidden, count: rows * hiddenWidth)
        encoderInput = UnsafePointer(workspace.hidden)
      }
      BLAS.multiply(
        m: rows, n: 2 * k, k: layout.encoderInputWidth, encoderInput, p + layout.encoderWeight,
        into: workspace.statistics, rowByRow: rowByRow)
      BLAS.addRowVector(
        p + layout.encoderBias, to: workspace.statistics, rows: rows, columns: 2 * k)
      for row in 0..<rows {
        let stats = workspace.statistics + row * 2 * k
        let code = workspace.code + row * k
        let eps = workspace.noise + row * k
        let deviation = workspace.deviation + row * k
        for unit in 0..<k {
          if sampling {
            let logVariance = min(max(stats[k + unit], range.lowerBound), range.upperBound)
            deviation[unit] = exp(0.5 * logVariance)
            code[unit] = stats[unit] + deviation[unit] * eps[unit]
          } else {
            code[unit] = stats[unit]
          }
        }
      }
      BLAS.multiply(
        m: rows, n: m, k: k, workspace.code, p + layout.decoderWeight, into: workspace.delta,
        rowByRow: rowByRow)
      BLAS.addRowVector(p + layout.decoderBias, to: workspace.delta, rows: rows, columns: m)
    }
    for index in 0..<(rows * m) {
      workspace.modified[index] = input[index] + workspace.delta[index]
    }
  }

  /// Writes into `workspace.gradient` the gradient of `mean BCE + beta * mean KL` given the
  /// gradient of the mean BCE with respect to `h'` (`modifiedGradient`, `rows x m`), after a
  /// sampled `forward` on the same `input`. Returns the mean KL per example in nats.
  func backward(
    input: UnsafePointer<Float>, modifiedGradient: UnsafePointer<Float>, rows: Int, beta: Float,
    workspace: KernelWorkspace
  ) -> Float {
    let k = layout.bottleneck
    let m = layout.width
    let hiddenWidth = layout.encoderHidden
    let gradient = workspace.gradient
    let range = Self.logVarianceRange
    var totalKL: Float = 0
    parameters.withUnsafeBufferPointer { buffer in
      let p = buffer.baseAddress!
      BLAS.multiply(
        m: k, n: m, k: rows, workspace.code, transposeA: true, modifiedGradient,
        into: gradient + layout.decoderWeight)
      BLAS.sumColumns(modifiedGradient, rows: rows, columns: m, into: gradient + layout.decoderBias)
      BLAS.multiply(
        m: rows, n: k, k: m, modifiedGradient, p + layout.decoderWeight, transposeB: true,
        into: workspace.codeGradient)
      let klScale = beta / Float(max(1, rows))
      for row in 0..<rows {
        let stats = workspace.statistics + row * 2 * k
        let statsGradient = workspace.statisticsGradient + row * 2 * k
        let codeGradient = workspace.codeGradient + row * k
        let eps = workspace.noise + row * k
        let deviation = workspace.deviation + row * k
        for unit in 0..<k {
          let mu = stats[unit]
          let raw = stats[k + unit]
          let inside = range.contains(raw)
          let logVariance = min(max(raw, range.lowerBound), range.upperBound)
          let variance = exp(logVariance)
          totalKL += 0.5 * (mu * mu + variance - logVariance - 1)
          statsGradient[unit] = codeGradient[unit] + klScale * mu
          statsGradient[k + unit] =
            inside
            ? codeGradient[unit] * eps[unit] * 0.5 * deviation[unit]
              + klScale * 0.5 * (variance - 1)
            : 0
        }
      }
      let encoderInput = hiddenWidth > 0 ? UnsafePointer(workspace.hidden) : input
      BLAS.multiply(
        m: layout.encoderInputWidth, n: 2 * k, k: rows, encoderInput, transposeA: true,
        workspace.statisticsGradient, into: gradient + layout.encoderWeight)
      BLAS.sumColumns(
        workspace.statisticsGradient, rows: rows, columns: 2 * k,
        into: gradient + layout.encoderBias)
      if hiddenWidth > 0 {
        BLAS.multiply(
          m: rows, n: hiddenWidth, k: 2 * k, workspace.statisticsGradient,
          p + layout.encoderWeight, transposeB: true, into: workspace.hiddenGradient)
        BLAS.maskByActivity(
          workspace.hiddenGradient, activation: workspace.hidden, count: rows * hiddenWidth)
        BLAS.multiply(
          m: m, n: hiddenWidth, k: rows, input, transposeA: true, workspace.hiddenGradient,
          into: gradient + layout.hiddenWeight)
        BLAS.sumColumns(
          workspace.hiddenGradient, rows: rows, columns: hiddenWidth,
          into: gradient + layout.hiddenBias)
      }
    }
    return totalKL / Float(max(1, rows))
  }

  /// Takes one Adam step along `gradient` (laid out like the parameters) at `rate`, clipping the
  /// gradient's global norm to `clip` (0 = no clipping).
  mutating func applyGradient(
    _ gradient: UnsafePointer<Float>, rate: Float, optimizer: AdamOptimizer, clip: Float
  ) {
    let count = layout.parameterCount
    let scale = AdamOptimizer.clippingScale(gradient, count: count, clip: clip)
    stepCount += 1
    let corrected = optimizer.correctedRate(rate, step: stepCount)
    parameters.withUnsafeMutableBufferPointer { p in
      firstMoment.withUnsafeMutableBufferPointer { m in
        secondMoment.withUnsafeMutableBufferPointer { v in
          optimizer.update(
            parameters: p.baseAddress!, gradient: gradient, firstMoment: m.baseAddress!,
            secondMoment: v.baseAddress!, count: count, correctedRate: corrected,
            gradientScale: scale)
        }
      }
    }
  }

  /// Multiply-adds of one forward pass for one row (encoder and decoder).
  var forwardMultiplyAdds: Int {
    layout.width * layout.encoderHidden + layout.encoderInputWidth * 2 * layout.bottleneck
      + layout.bottleneck * layout.width
  }
}
