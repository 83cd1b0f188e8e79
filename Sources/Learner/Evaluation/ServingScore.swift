/// What a serving system scored an example with when its impression arrived, before any label
/// of its moment was known: the frozen backbone's logit, the logit with the domain's kernel as it
/// then stood (z = mu), and whether that kernel was serving. Serving-time evaluation records
/// these when the label arrives; the trainer's own scores at batch time are only a diagnostic.
public struct ServingScore: Sendable, Equatable {
  /// The frozen backbone's logit.
  public var backboneLogit: Float
  /// The logit with the domain's kernel (or bias, or tuned backbone) as it then stood; the
  /// backbone's when the domain had none yet.
  public var kernelLogit: Float
  /// Whether the kernel was serving at that moment.
  public var servesKernel: Bool

  /// Creates a score.
  public init(backboneLogit: Float, kernelLogit: Float, servesKernel: Bool) {
    self.backboneLogit = backboneLogit
    self.kernelLogit = kernelLogit
    self.servesKernel = servesKernel
  }

  /// The logit that was served: the kernel's while it was serving, else the backbone's.
  public var servedLogit: Float { servesKernel ? kernelLogit : backboneLogit }
}
