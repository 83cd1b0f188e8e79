/// The frozen backbone's part of scoring one impression, computed ahead of the training thread:
/// the backbone's logit and the representation `h` at the kernel's insertion point. It depends on
/// the impression's features alone (the backbone never changes), so a decoding thread computes
/// it while the training thread is busy, and the serving score then only runs the kernel on `h`
/// (see `ServingScore`).
public struct ServingInput: Sendable, Equatable {
  /// The frozen backbone's logit.
  public var backboneLogit: Float
  /// The representation at the insertion point (one row).
  public var representation: [Float]

  /// Creates an input.
  public init(backboneLogit: Float, representation: [Float]) {
    self.backboneLogit = backboneLogit
    self.representation = representation
  }
}
