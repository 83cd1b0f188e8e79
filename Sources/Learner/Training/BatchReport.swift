import Base

/// What happened when one domain's batch closed: its prequential scores and its training.
public struct BatchReport: Sendable, Equatable {
  /// The domain.
  public var domain: String
  /// Why the batch closed.
  public var reason: BatchClosing
  /// Examples in the batch.
  public var size: Int
  /// Event time of the batch's newest example, in milliseconds.
  public var lastEventTimeMs: Int64
  /// The learning rate used (scaled to `size`).
  public var learningRate: Float
  /// Mean training loss over the batch's steps (before each update), in nats.
  public var trainingLoss: Float
  /// Per example, the logit with the domain's adaptation, computed before training on it.
  public var adaptedLogits: [Float]
  /// Per example, the logit of the frozen backbone alone.
  public var backboneLogits: [Float]
  /// Per example, the label (in a delayed-feedback mode, the biased stream's: a provisional
  /// negative may have been clicked since).
  public var labels: [Float]
  /// Per serving-time record, what it was scored with when its impression arrived (nil: not
  /// scored then): the batch's examples with `label.mode = wait`; in a delayed-feedback mode
  /// the `.evaluate` records that reached the domain since its last batch, and none of the
  /// training copies.
  public var servingScores: [ServingScore?] = []
  /// The final label of each of `servingScores`.
  public var servingLabels: [Float] = []
  /// Whether the domain's kernel serves after this batch.
  public var isActive: Bool
}
