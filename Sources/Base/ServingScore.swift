/// What a serving system scored an impression with when it arrived, before its label was known:
/// the frozen backbone's logit, the logit with the domain's kernel as it then stood (z = mu), and
/// whether that kernel was serving (see DESIGN.md, "Evaluation at serving time").
///
/// The pipeline computes it at ingest; the joiner only carries it with the waiting impression (in
/// its snapshots and hand-overs too), and serving-time evaluation counts it when the label arrives.
public struct ServingScore: Sendable, Equatable {
  /// The frozen backbone's logit.
  public var backboneLogit: Float
  /// The logit with the domain's kernel (or bias, or tuned backbone) as it then stood; the
  /// backbone's when the domain had none yet.
  public var kernelLogit: Float
  /// Whether the kernel was serving at that moment.
  public var servesKernel: Bool
  /// The ticket that finds the frozen layers' output for this impression where its trainer
  /// kept it when scoring it (`Trainer.servingScore`), so that training need not run them again;
  /// 0 for none. Not part of the score: scores are equal whatever their tickets, and neither
  /// snapshots nor hand-overs keep it (a row not found is computed again, to the same bits).
  public var frozenRow: UInt64

  /// Creates a score.
  public init(
    backboneLogit: Float, kernelLogit: Float, servesKernel: Bool, frozenRow: UInt64 = 0
  ) {
    self.backboneLogit = backboneLogit
    self.kernelLogit = kernelLogit
    self.servesKernel = servesKernel
    self.frozenRow = frozenRow
  }

  /// Whether the two scores are the same, whatever their `frozenRow` tickets.
  public static func == (lhs: ServingScore, rhs: ServingScore) -> Bool {
    lhs.backboneLogit == rhs.backboneLogit && lhs.kernelLogit == rhs.kernelLogit
      && lhs.servesKernel == rhs.servesKernel
  }

  /// The logit that was served: the kernel's while it was serving, else the backbone's.
  public var servedLogit: Float { servesKernel ? kernelLogit : backboneLogit }
}
