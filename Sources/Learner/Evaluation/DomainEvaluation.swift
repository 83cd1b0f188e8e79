import Base

/// A domain's evaluation: at serving time (the headline figures) and at training time (a
/// diagnostic).
///
/// Serving time: each impression was scored when it arrived, by the backbone and by the domain's
/// kernel as it then stood, and the scores are counted here once its label came
/// (`ServingScore`); `served` is what a serving system showed (the kernel's score while it was
/// serving, else the backbone's). Training time: the scores the trainer computed when the
/// example's batch closed, a whole `label.wait` later, with a kernel that may already have
/// learned from the same session's earlier labels. That figure flatters the kernel (it leaks
/// labels no live kernel would have had) and is kept only to show the gap.
public struct DomainEvaluation: Sendable, Equatable {
  /// Training-time diagnostic: scores with the domain's kernel (or bias, or fine-tuned
  /// backbone) when the batch closed, before training on it.
  public var adapted: PrequentialMeter
  /// Training-time diagnostic: scores of the frozen backbone alone on the same examples.
  public var backbone: PrequentialMeter
  /// Batches closed.
  public var batches: Int
  /// Serving time: the backbone's scores when each impression arrived.
  public var servingBackbone: PrequentialMeter
  /// Serving time: the kernel's scores when each impression arrived, whether or not it served
  /// (shadow).
  public var servingKernel: PrequentialMeter
  /// Serving time: what was served (the kernel's score while it was serving, else the
  /// backbone's).
  public var served: PrequentialMeter
  /// Examples whose served score was the kernel's.
  public var servedByKernel: Int
  /// Examples that carried no serving score (not counted in the serving-time meters).
  public var unscored: Int

  /// Creates an empty evaluation with sliding windows of `windowSize` examples.
  public init(windowSize: Int) {
    adapted = PrequentialMeter(windowSize: windowSize)
    backbone = PrequentialMeter(windowSize: windowSize)
    batches = 0
    servingBackbone = PrequentialMeter(windowSize: windowSize)
    servingKernel = PrequentialMeter(windowSize: windowSize)
    served = PrequentialMeter(windowSize: windowSize)
    servedByKernel = 0
    unscored = 0
  }

  /// Counts one example's serving-time scores (or that it had none) with its label.
  public mutating func recordServing(_ score: ServingScore?, label: Float) {
    guard let score else {
      unscored += 1
      return
    }
    servingBackbone.record(logit: score.backboneLogit, label: label)
    servingKernel.record(logit: score.kernelLogit, label: label)
    served.record(logit: score.servedLogit, label: label)
    if score.servesKernel { servedByKernel += 1 }
  }
}
