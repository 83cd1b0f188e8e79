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
  /// The ticket to the frozen layers' output its trainer kept when scoring it
  /// (`Trainer.servingScore`), which the joiner hands to the impression's training copies. Not
  /// part of the score (`FrozenRowTicket` never tells two apart); neither snapshots nor
  /// hand-overs keep it, and a row not found is computed again, to the same bits.
  public var frozenRow: FrozenRowTicket

  /// Creates a score.
  public init(
    backboneLogit: Float, kernelLogit: Float, servesKernel: Bool,
    frozenRow: FrozenRowTicket = .none
  ) {
    self.backboneLogit = backboneLogit
    self.kernelLogit = kernelLogit
    self.servesKernel = servesKernel
    self.frozenRow = frozenRow
  }

  /// The logit that was served: the kernel's while it was serving, else the backbone's.
  public var servedLogit: Float { servesKernel ? kernelLogit : backboneLogit }
}
