/// Buffers for a kernel's forward and backward passes, allocated once for the largest batch.
final class KernelWorkspace {
  /// Largest number of rows a pass may use.
  let capacity: Int
  /// The layout the buffers are sized for.
  let layout: KernelLayout
  /// `capacity x H` encoder hidden activations.
  let hidden: UnsafeMutablePointer<Float>
  /// `capacity x 2k` encoder outputs: `mu` then `log_var` per row.
  let statistics: UnsafeMutablePointer<Float>
  /// `capacity x k` noise of the last sampled pass.
  let noise: UnsafeMutablePointer<Float>
  /// `capacity x k` standard deviations `exp(log_var / 2)` of the last sampled pass.
  let deviation: UnsafeMutablePointer<Float>
  /// `capacity x k` bottleneck values.
  let code: UnsafeMutablePointer<Float>
  /// `capacity x m` decoder outputs.
  let delta: UnsafeMutablePointer<Float>
  /// `capacity x m` modified representation `h + delta`.
  let modified: UnsafeMutablePointer<Float>
  /// `capacity x k` gradient with respect to z.
  let codeGradient: UnsafeMutablePointer<Float>
  /// `capacity x 2k` gradient with respect to the encoder outputs.
  let statisticsGradient: UnsafeMutablePointer<Float>
  /// `capacity x H` gradient with respect to the encoder hidden layer.
  let hiddenGradient: UnsafeMutablePointer<Float>
  /// One gradient value per parameter.
  let gradient: UnsafeMutablePointer<Float>

  /// Creates the buffers for `layout` and batches of up to `capacity` rows.
  init(layout: KernelLayout, capacity: Int) {
    let rows = max(1, capacity)
    func make(_ count: Int) -> UnsafeMutablePointer<Float> {
      let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
      buffer.initialize(repeating: 0, count: max(1, count))
      return buffer
    }
    self.capacity = rows
    self.layout = layout
    hidden = make(rows * layout.encoderHidden)
    statistics = make(rows * 2 * layout.bottleneck)
    noise = make(rows * layout.bottleneck)
    deviation = make(rows * layout.bottleneck)
    code = make(rows * layout.bottleneck)
    delta = make(rows * layout.width)
    modified = make(rows * layout.width)
    codeGradient = make(rows * layout.bottleneck)
    statisticsGradient = make(rows * 2 * layout.bottleneck)
    hiddenGradient = make(rows * layout.encoderHidden)
    gradient = make(layout.parameterCount)
  }

  deinit {
    for buffer in [
      hidden, statistics, noise, deviation, code, delta, modified, codeGradient, statisticsGradient,
      hiddenGradient, gradient,
    ] {
      buffer.deallocate()
    }
  }
}
