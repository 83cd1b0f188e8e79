/// What a labelled example is for, under the label modes of `label.mode` (README, "Delayed
/// feedback").
///
/// With `wait` every example's label is final when it leaves the joiner: it is trained on and
/// counts in the serving-time figures (`trainAndEvaluate`). With `fake_negative` and `es_dfm`
/// training sees a biased stream instead (an impression as a provisional negative before its
/// label is known, its click again as a positive), so each impression leaves twice: its training
/// copies (`train`, importance weighted) and, once its label is final, its serving-time record
/// (`evaluate`: the score it was served with and the true label, never trained on).
public enum ExampleUse: UInt8, Sendable, CaseIterable {
  /// The label is final: train on it and count it in the serving-time figures.
  case trainAndEvaluate = 0
  /// A copy in the biased stream of a delayed-feedback mode: train on it with an importance
  /// weight; it says nothing about serving.
  case train = 1
  /// The final label with the serving score: counts in the serving-time figures, not trained on.
  case evaluate = 2

  /// Whether a trainer learns from it.
  public var trains: Bool { self != .evaluate }

  /// Whether it counts in the serving-time figures.
  public var evaluates: Bool { self != .train }
}
