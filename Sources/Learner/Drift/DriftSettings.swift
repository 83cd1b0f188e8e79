/// The thresholds and counts of every drift detector, one field per `drift.*` configuration key
/// plus a few that have no key yet (their defaults are documented and measured).
///
/// Units: steps are the kernel's optimiser steps (`DriftObservation.step`); examples are the
/// scored examples of one domain, in arrival order.
public struct DriftSettings: Sendable, Equatable {
  /// `drift.warmup_steps`: optimiser steps before the collapse, harm and KL detectors may fire.
  public var warmupSteps: Int
  /// `drift.collapse_steps`: steps a collapse signal (and KL runaway) must hold before it fires.
  public var collapseSteps: Int
  /// Steps a fired collapse signal (or KL runaway) must be false before it clears; the default
  /// `nil` means `collapseSteps`, a symmetric hysteresis.
  public var collapseClearSteps: Int?
  /// `drift.decoder_norm_threshold`: `||delta|| / ||h||` below which the kernel is the identity.
  public var decoderNormThreshold: Double
  /// `drift.mu_variance_threshold`: batch variance of mu below which every example maps to the
  /// same z.
  public var muVarianceThreshold: Double
  /// `drift.harm_window`: examples in the sliding windows comparing kernel and backbone (the
  /// serving guard's and the relevance proxies').
  public var harmWindow: Int
  /// The serving guard's window, thresholds and test levels (`drift.guard_*`); its window is
  /// `harmWindow`.
  public var guardSettings: ServingGuard.Settings
  /// Examples without a harm verdict, after the serving guard has shown no harm again, before a
  /// fired harm clears; `nil` means 0: harm clears when the guard lets the kernel serve again
  /// (its no-harm bound at `drift.guard_on_z`, confirmed at `drift.guard_confirm_z` on the
  /// examples after it, is the evidence that the kernel no longer hurts).
  public var harmClearExamples: Int?
  /// `drift.kl_runaway`: `E[KL]` in nats above which the bottleneck is memorising.
  public var klRunaway: Double
  /// `drift.ph_delta`: Page-Hinkley tolerance, in standard deviations of the monitored signal.
  public var pageHinkleyDelta: Double
  /// `drift.ph_lambda`: Page-Hinkley threshold on the cumulative standardised deviation.
  public var pageHinkleyLambda: Double
  /// Examples a Page-Hinkley test sees after (re)starting before it may signal.
  public var pageHinkleyMinExamples: Int
  /// Examples without a new Page-Hinkley detection before a fired data-drift alert clears.
  public var dataDriftClearExamples: Int
  /// The collapse signals any one of which, once fired, makes the `collapse` detector fire (and
  /// so triggers `drift.on_collapse`). By default only `identity`: see `DriftDetector.collapse`.
  public var collapseSignals: Set<DriftDetector>

  /// Creates settings; every default is the documented one (see the properties).
  ///
  /// The Page-Hinkley defaults (delta 0.1 standard deviations, lambda 80, 100 examples) were
  /// measured with `DriftCalibrationTests`: no false alarm over 3 x 200k calibrated examples at
  /// click rates 0.01 to 0.55, and a click-rate step 0.1 -> 0.5 found within 65 to 103 examples.
  /// The configuration's older defaults (0.005, 50) alarm about every 2000 examples when read
  /// in standard deviations and every 10k to 50k examples in raw units (see `PageHinkley`).
  public init(
    warmupSteps: Int = 200,
    collapseSteps: Int = 100,
    collapseClearSteps: Int? = nil,
    decoderNormThreshold: Double = 1e-4,
    muVarianceThreshold: Double = 1e-6,
    harmWindow: Int = 2000,
    guardSettings: ServingGuard.Settings = ServingGuard.Settings(),
    harmClearExamples: Int? = nil,
    klRunaway: Double = 10,
    pageHinkleyDelta: Double = 0.1,
    pageHinkleyLambda: Double = 80,
    pageHinkleyMinExamples: Int = 100,
    dataDriftClearExamples: Int = 2000,
    collapseSignals: Set<DriftDetector> = [.identity]
  ) {
    self.warmupSteps = warmupSteps
    self.collapseSteps = collapseSteps
    self.collapseClearSteps = collapseClearSteps
    self.decoderNormThreshold = decoderNormThreshold
    self.muVarianceThreshold = muVarianceThreshold
    self.harmWindow = harmWindow
    var guardSettings = guardSettings
    guardSettings.window = max(1, harmWindow)
    self.guardSettings = guardSettings
    self.harmClearExamples = harmClearExamples
    self.klRunaway = klRunaway
    self.pageHinkleyDelta = pageHinkleyDelta
    self.pageHinkleyLambda = pageHinkleyLambda
    self.pageHinkleyMinExamples = pageHinkleyMinExamples
    self.dataDriftClearExamples = dataDriftClearExamples
    self.collapseSignals = collapseSignals
  }
}
