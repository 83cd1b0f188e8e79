/// What a serving system scored an impression with when it arrived, carried with the impression
/// while it waits for its label (see DESIGN.md, "Evaluation at serving time").
///
/// Stream does no math: the pipeline computes the logits (backbone alone, and the backbone with
/// the domain's kernel as it stood at that moment) and the joiner only keeps them, in its
/// snapshots and hand-overs too, until the labelled impression leaves.
public struct ImpressionScore: Sendable, Equatable {
  /// The frozen backbone's logit.
  public var backboneLogit: Float
  /// The logit with the domain's kernel as it then stood (z = mu); the backbone's when the
  /// domain had no kernel yet.
  public var kernelLogit: Float
  /// Whether the kernel was serving at that moment (the served logit is then `kernelLogit`,
  /// else `backboneLogit`).
  public var servesKernel: Bool

  /// Creates a score.
  public init(backboneLogit: Float, kernelLogit: Float, servesKernel: Bool) {
    self.backboneLogit = backboneLogit
    self.kernelLogit = kernelLogit
    self.servesKernel = servesKernel
  }
}
