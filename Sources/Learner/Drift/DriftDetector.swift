/// One of a domain's drift detectors; the raw value is the stable snake_case name used as the
/// Prometheus `detector` label, in alert events and in snapshots.
///
/// Three collapse signals are reported separately because they mean different things (DESIGN.md,
/// "the model"): `inactiveBottleneck` (no information passes through z; common and often
/// harmless: the gain can flow through the decoder's bias), `constantZ` (every example maps to the
/// same z: the kernel acts as a per-domain shift of `h`, also often harmless) and `identity` (the
/// decoder's output is ~0: the kernel has no effect at all). `collapse` is the actionable summary
/// that triggers `drift.on_collapse`: it is firing while any signal of
/// `DriftSettings.collapseSignals` is firing, by default only `identity`, since the other two
/// leave a kernel that can still help.
public enum DriftDetector: String, Sendable, CaseIterable {
  /// Actionable kernel collapse (see the type's documentation); triggers `drift.on_collapse`.
  case collapse
  /// Active units fell to 0: no information passes through z. Informational.
  case inactiveBottleneck = "inactive_bottleneck"
  /// The decoder's output norm relative to `h` fell below `drift.decoder_norm_threshold`: the
  /// kernel is the identity and has no effect.
  case identity
  /// The batch variance of mu fell below `drift.mu_variance_threshold`: every example maps to the
  /// same z. Informational.
  case constantZ = "constant_z"
  /// At serving time, over the last `drift.harm_window` examples, the kernel ranks (DeLong's
  /// paired AUC test) or predicts (paired log-loss difference) significantly worse than the
  /// backbone at `drift.guard_off_z`: the kernel hurts, and stops serving. Triggers
  /// `drift.on_harm`.
  case harm
  /// `E[KL]` exceeds `drift.kl_runaway` nats: the bottleneck memorises. A warning only; if it
  /// makes predictions worse, `harm` fires and decides.
  case klRunaway = "kl_runaway"
  /// Page-Hinkley found an increase of the kernel's per-example logloss. Data drift: informational.
  case loglossDrift = "logloss_drift"
  /// Page-Hinkley found a change (up or down) of the click rate. Data drift: informational.
  case ctrDrift = "ctr_drift"

  /// How urgent a firing of this detector is (the `severity` label of the shipped rules).
  public var severity: DriftSeverity {
    switch self {
    case .harm: .critical
    case .collapse, .klRunaway: .warning
    case .inactiveBottleneck, .identity, .constantZ, .loglossDrift, .ctrDrift: .info
    }
  }
}
