/// A domain's prequential evaluation: the adapted model and the backbone alone, side by side.
public struct DomainEvaluation: Sendable, Equatable {
  /// Scores with the domain's kernel (or bias, or fine-tuned backbone), before training on them.
  public var adapted: PrequentialMeter
  /// Scores of the frozen backbone alone.
  public var backbone: PrequentialMeter
  /// Batches closed.
  public var batches: Int

  /// Creates an empty evaluation with sliding windows of `windowSize` examples.
  public init(windowSize: Int) {
    adapted = PrequentialMeter(windowSize: windowSize)
    backbone = PrequentialMeter(windowSize: windowSize)
    batches = 0
  }
}
