/// Every drift detector of one domain, fed one `DriftObservation` per closed batch.
///
/// Kernel detectors (their positions are the kernel's optimiser steps) are evaluated once per
/// observation, and only once the kernel has taken `warmupSteps` steps:
/// - `inactive_bottleneck` (active units 0), `identity` (relative decoder norm below
///   `decoderNormThreshold`), `constant_z` (mu variance below `muVarianceThreshold`) and
///   `kl_runaway` (E[KL] above `klRunaway`) fire once their condition has held for
///   `collapseSteps` steps and clear once it has been false for `collapseClearSteps` steps;
/// - `collapse` fires while any of `collapseSignals` fires (its `cause` names which one).
///
/// Example detectors (their positions are the domain's examples) are evaluated per example:
/// - the serving guard (`ServingGuard`) compares the kernel and the backbone on the last
///   `harmWindow` examples' serving-time scores (paired: DeLong's AUC test and the log-loss
///   difference) and decides whether the kernel serves; `harm` fires when a comparison finds the
///   warm kernel significantly worse while it serves, turning it off (its value is the smaller
///   of the two z statistics, its threshold minus the guard's `offZ`; a shadowed kernel found
///   worse stays in shadow, and nothing fires), and clears once the guard lets the kernel serve
///   again: no harm on a window scored entirely after the harm, confirmed on the examples after
///   that pass (and `harmClearExamples` more examples without a harm verdict, default 0);
/// - `logloss_drift` (Page-Hinkley, increases of the kernel's logloss) and `ctr_drift`
///   (Page-Hinkley, both directions of the click indicator) fire on a detection and clear after
///   `dataDriftClearExamples` examples without another one.
///
/// When an observation's step is below the previous one the kernel was replaced (reset or rolled
/// back): the kernel detectors' runs, the harm window and the logloss test restart, and whatever
/// was firing stays firing until the new kernel's own evidence clears it (so a reset that did not
/// help does not trigger another reset). Invalid values are skipped and counted.
public struct DomainDriftMonitor: Sendable, Equatable {
  /// The domain.
  public let domain: String
  /// The thresholds and counts.
  public let settings: DriftSettings

  var inactiveBottleneck: DriftHysteresis
  var identity: DriftHysteresis
  var constantZ: DriftHysteresis
  var klRunaway: DriftHysteresis
  var harm: DriftHysteresis
  var loglossDrift: DriftHysteresis
  var ctrDrift: DriftHysteresis
  var loglossTest: PageHinkley
  var ctrTest: PageHinkley
  var relevance: DriftRelevanceWindow
  var servingGuard: ServingGuard
  /// Whether `collapse` fires.
  var isCollapsed = false

  /// The step of the last observation; nil before the first one and after a kernel restart.
  public internal(set) var lastStep: Int?
  /// Valid examples seen (the position of the example detectors).
  public internal(set) var examplesSeen = 0
  /// Examples skipped because a loss was not finite or negative or the label was outside [0, 1].
  public internal(set) var invalidExamples = 0
  /// Proxy values skipped because they were not finite or negative (an infinite E[KL] counts as
  /// a runaway instead).
  public internal(set) var invalidValues = 0

  /// Creates the detectors of `domain`, none firing.
  public init(domain: String, settings: DriftSettings) {
    self.domain = domain
    self.settings = settings
    let steps = max(0, settings.collapseSteps)
    let clearSteps = settings.collapseClearSteps ?? steps
    inactiveBottleneck = DriftHysteresis(fireAfter: steps, clearAfter: clearSteps)
    identity = inactiveBottleneck
    constantZ = inactiveBottleneck
    klRunaway = inactiveBottleneck
    relevance = DriftRelevanceWindow(capacity: settings.harmWindow)
    servingGuard = ServingGuard(settings: settings.guardSettings)
    harm = DriftHysteresis(fireAfter: 0, clearAfter: settings.harmClearExamples ?? 0)
    loglossDrift = DriftHysteresis(fireAfter: 0, clearAfter: settings.dataDriftClearExamples)
    ctrDrift = loglossDrift
    loglossTest = PageHinkley(
      delta: settings.pageHinkleyDelta, lambda: settings.pageHinkleyLambda,
      minExamples: settings.pageHinkleyMinExamples, direction: .increase)
    ctrTest = PageHinkley(
      delta: settings.pageHinkleyDelta, lambda: settings.pageHinkleyLambda,
      minExamples: settings.pageHinkleyMinExamples, direction: .both)
  }

  /// Whether `detector` is firing.
  public func isFiring(_ detector: DriftDetector) -> Bool {
    switch detector {
    case .collapse: isCollapsed
    case .inactiveBottleneck: inactiveBottleneck.isFiring
    case .identity: identity.isFiring
    case .constantZ: constantZ.isFiring
    case .harm: harm.isFiring
    case .klRunaway: klRunaway.isFiring
    case .loglossDrift: loglossDrift.isFiring
    case .ctrDrift: ctrDrift.isFiring
    }
  }

  /// The detectors firing now.
  public var firingDetectors: Set<DriftDetector> {
    Set(DriftDetector.allCases.filter(isFiring))
  }

  /// Whether the kernel counts as healthy: neither `collapse` nor `harm` fires. A version
  /// published while healthy is a candidate for `rollback`.
  public var isHealthy: Bool { !isCollapsed && !harm.isFiring }

  /// The sliding window of the relevance proxies (`H(Y) - CE`) of kernel and backbone.
  public var relevanceWindow: DriftRelevanceWindow { relevance }

  /// The serving guard: whether the kernel serves, and its last comparison.
  public var guardState: ServingGuard { servingGuard }

  /// Whether the kernel has shown, at serving time, that it is not worse than the backbone,
  /// confirmed on the examples after that (and has not been found worse since): it may serve.
  public var isServing: Bool { servingGuard.isServing }

  /// The Page-Hinkley test on the kernel's per-example logloss.
  public var loglossChangeTest: PageHinkley { loglossTest }

  /// The Page-Hinkley test on the click indicator.
  public var clickRateChangeTest: PageHinkley { ctrTest }

  /// Feeds one observation; returns the firings and clearings it caused, kernel detectors first
  /// (in `DriftDetector` order), then per example harm, logloss and click-rate drift.
  public mutating func observe(_ observation: DriftObservation) -> [DriftEvent] {
    if let lastStep, observation.step < lastStep { restartKernel() }
    lastStep = observation.step
    var events: [DriftEvent] = []
    if observation.step >= settings.warmupSteps {
      observeKernel(observation, into: &events)
    }
    for example in observation.examples {
      observe(example, in: observation, into: &events)
    }
    return events
  }

  /// Forgets the evidence about the current kernel (it was reset or rolled back): the kernel
  /// detectors' runs, the harm window and the logloss test. Firing detectors keep firing until
  /// the new kernel's evidence clears them; the click-rate test, which watches data, goes on.
  public mutating func restartKernel() {
    inactiveBottleneck.restartRuns()
    identity.restartRuns()
    constantZ.restartRuns()
    klRunaway.restartRuns()
    harm.restartRuns()
    relevance.removeAll()
    servingGuard.restart()
    loglossTest.restart()
    loglossDrift.restartRuns()
    lastStep = nil
  }

  private mutating func observeKernel(
    _ observation: DriftObservation, into events: inout [DriftEvent]
  ) {
    let step = observation.step
    var collapseCauses: [DriftEvent] = []
    func record(
      _ detector: DriftDetector, _ change: DriftHysteresis.Change?, value: Double,
      threshold: Double
    ) {
      guard let change else { return }
      let event = makeEvent(
        detector, change.transition, value: value, threshold: threshold,
        window: DriftWindow(length: change.length, unit: .steps), in: observation)
      events.append(event)
      if settings.collapseSignals.contains(detector) { collapseCauses.append(event) }
    }
    let activeUnits = observation.activeUnits
    if activeUnits >= 0 {
      let change = inactiveBottleneck.update(holds: activeUnits == 0, at: step)
      record(.inactiveBottleneck, change, value: Double(activeUnits), threshold: 0)
    } else {
      invalidValues += 1
    }
    let norm = observation.relativeDecoderNorm
    if isUsable(norm) {
      let change = identity.update(holds: norm < settings.decoderNormThreshold, at: step)
      record(.identity, change, value: norm, threshold: settings.decoderNormThreshold)
    }
    let variance = observation.muVariance
    if isUsable(variance) {
      let change = constantZ.update(holds: variance < settings.muVarianceThreshold, at: step)
      record(.constantZ, change, value: variance, threshold: settings.muVarianceThreshold)
    }
    let kl = observation.meanKL
    if kl.isNaN {
      invalidValues += 1
    } else {
      let change = klRunaway.update(holds: kl > settings.klRunaway, at: step)
      record(.klRunaway, change, value: kl, threshold: settings.klRunaway)
    }
    let collapsed = DriftDetector.allCases.contains {
      settings.collapseSignals.contains($0) && $0 != .collapse && isFiring($0)
    }
    guard collapsed != isCollapsed else { return }
    isCollapsed = collapsed
    let transition: DriftTransition = collapsed ? .fired : .cleared
    guard let cause = collapseCauses.last(where: { $0.transition == transition }) else {
      // Only after a restore with other `collapseSignals`: no signal changed just now.
      events.append(
        makeEvent(
          .collapse, transition, value: 0, threshold: 0,
          window: DriftWindow(length: 0, unit: .steps), in: observation))
      return
    }
    var event = cause
    event.detector = .collapse
    event.cause = cause.detector
    events.append(event)
  }

  private mutating func observe(
    _ example: DriftExample, in observation: DriftObservation, into events: inout [DriftEvent]
  ) {
    guard example.isValid else {
      invalidExamples += 1
      return
    }
    examplesSeen += 1
    relevance.append(example)
    let wasServing = servingGuard.isServing
    if let logits = example.logits,
      let verdict = servingGuard.append(
        kernelLogit: logits.kernel, backboneLogit: logits.backbone, isPositive: example.label >= 0.5
      ),
      observation.step >= settings.warmupSteps
    {
      // Harm is harm to what was served: it fires when a harm verdict turns a serving kernel
      // off (a shadowed one worse than the backbone harms no one: it stays in shadow), and
      // holds until the guard shows no harm again, confirmed (an undecided comparison, or a
      // first pass awaiting its confirmation, keeps it as it is), then clears after
      // `harmClearExamples` more (default 0).
      let holds =
        (verdict == .harm && (wasServing || harm.isFiring))
        || (harm.isFiring && verdict == .undecided)
      if let change = harm.update(holds: holds, at: examplesSeen) {
        let comparison = servingGuard.lastComparison
        let value = comparison.map(Self.worstZ) ?? 0
        events.append(
          makeEvent(
            .harm, change.transition, value: value, threshold: -settings.guardSettings.offZ,
            window: DriftWindow(length: servingGuard.count, unit: .examples), in: observation))
      }
    }
    let loglossDetection = loglossTest.add(example.kernelLoss)
    if let change = loglossDrift.update(holds: loglossDetection != nil, at: examplesSeen) {
      events.append(
        dataDriftEvent(.loglossDrift, change, loglossDetection, loglossTest, in: observation))
    }
    let ctrDetection = ctrTest.add(example.label)
    if let change = ctrDrift.update(holds: ctrDetection != nil, at: examplesSeen) {
      events.append(dataDriftEvent(.ctrDrift, change, ctrDetection, ctrTest, in: observation))
    }
  }

  /// The smaller z statistic of the kernel's AUC difference and log-loss gain (negative: worse).
  static func worstZ(_ comparison: PairedComparison) -> Double {
    func z(_ value: Double, _ error: Double) -> Double {
      error > 0 ? value / error : (value < 0 ? -.infinity : (value > 0 ? .infinity : 0))
    }
    let worst = min(
      z(comparison.aucDifference, comparison.aucStandardError),
      z(comparison.logLossGain, comparison.logLossStandardError))
    return worst.isFinite ? worst : (worst < 0 ? -1e9 : 1e9)
  }

  private func dataDriftEvent(
    _ detector: DriftDetector, _ change: DriftHysteresis.Change,
    _ detection: PageHinkley.Detection?, _ test: PageHinkley, in observation: DriftObservation
  ) -> DriftEvent {
    let length = detection?.examples ?? change.length
    return makeEvent(
      detector, change.transition, value: detection?.statistic ?? test.statistic,
      threshold: test.lambda, window: DriftWindow(length: length, unit: .examples),
      in: observation)
  }

  private func makeEvent(
    _ detector: DriftDetector, _ transition: DriftTransition, value: Double, threshold: Double,
    window: DriftWindow, in observation: DriftObservation
  ) -> DriftEvent {
    DriftEvent(
      detector: detector, domain: domain, transition: transition, value: value,
      threshold: threshold, window: window, kernelVersion: observation.kernelVersion,
      step: observation.step, examplesSeen: examplesSeen, eventTimeMs: observation.eventTimeMs)
  }

  /// Whether a proxy value can be compared (finite, not negative); counts it when not.
  private mutating func isUsable(_ value: Double) -> Bool {
    guard value.isFinite, value >= 0 else {
      invalidValues += 1
      return false
    }
    return true
  }
}
