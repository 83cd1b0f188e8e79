/// How the learning rate follows the real size of a batch.
///
/// The loss is the mean over the batch, and Adam's step is nearly invariant to the gradient's
/// scale, so without scaling a batch of 2 would move a kernel as far as a full batch of 16 on
/// far noisier evidence. With `n` examples and `batchMax` = N:
/// - `.none`: lr
/// - `.linear`: lr * n / N
/// - `.squareRoot`: lr * sqrt(n / N), the usual rule for Adam (the noise of a mean of n
///   gradients falls as 1/sqrt(n)).
public enum LearningRateScaling: String, Sendable, Equatable, CaseIterable {
  /// The same learning rate for every batch size.
  case none
  /// Proportional to the batch size.
  case linear
  /// Proportional to the square root of the batch size (default).
  case squareRoot = "sqrt"

  /// `rate` scaled for a batch of `batchSize` relative to `referenceSize`.
  public func scale(_ rate: Float, batchSize: Int, referenceSize: Int) -> Float {
    let ratio = Float(max(0, batchSize)) / Float(max(1, referenceSize))
    switch self {
    case .none: return rate
    case .linear: return rate * ratio
    case .squareRoot: return rate * ratio.squareRoot()
    }
  }
}
