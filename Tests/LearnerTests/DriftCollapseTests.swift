import Testing

@testable import Learner

@Suite struct DriftCollapseTests {
  /// An observation at `step` with the given proxies and no examples.
  func observation(
    step: Int, activeUnits: Int = 3, norm: Double = 0.05, muVariance: Double = 0.01,
    meanKL: Double = 2
  ) -> DriftObservation {
    DriftObservation(
      step: step, eventTimeMs: Int64(step), kernelVersion: 7, activeUnits: activeUnits,
      relativeDecoderNorm: norm, muVariance: muVariance, meanKL: meanKL, examples: [])
  }

  @Test func identityFiresExactlyCollapseStepsAfterWarmUp() {
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    var events: [DriftEvent] = []
    for step in 0...1000 {
      events += monitor.observe(observation(step: step, norm: 0))
    }
    // Evaluated from step 200 (warm-up), held for 100 steps: fires at step 300, never before.
    #expect(events.map(\.detector) == [.identity, .collapse])
    let identity = events[0]
    #expect(identity.transition == .fired)
    #expect(identity.step == 300)
    #expect(identity.window == DriftWindow(length: 100, unit: .steps))
    #expect(identity.value == 0)
    #expect(identity.threshold == 1e-4)
    #expect(identity.kernelVersion == 7)
    #expect(identity.eventTimeMs == 300)
    #expect(events[1].cause == .identity)
    #expect(events[1].step == 300)
    #expect(monitor.firingDetectors == [.identity, .collapse])
    #expect(!monitor.isHealthy)
  }

  @Test func collapseLaterInTrainingFiresCollapseStepsAfterItStarts() {
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    var fired: [Int] = []
    // One observation per batch of 16 steps; the decoder dies at step 800.
    for step in stride(from: 16, through: 2000, by: 16) {
      for event in monitor.observe(observation(step: step, norm: step >= 800 ? 0 : 0.05))
      where event.detector == .collapse {
        fired.append(event.step)
      }
    }
    #expect(fired == [800 + 112])
  }

  @Test func sparseObservationsCountStepsNotObservations() {
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    var fired: [DriftEvent] = []
    for step in stride(from: 16, through: 1000, by: 16) {
      fired += monitor.observe(observation(step: step, norm: 0))
    }
    // First evaluated at 208; fires at the first step at least 100 later: 320.
    #expect(fired.first?.step == 320)
    #expect(fired.first?.window.length == 112)
  }

  @Test func informationalSignalsAreReportedSeparatelyWithoutCollapse() {
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    var events: [DriftEvent] = []
    for step in 0...400 {
      events += monitor.observe(observation(step: step, activeUnits: 0, muVariance: 0))
    }
    #expect(Set(events.map(\.detector)) == [.inactiveBottleneck, .constantZ])
    #expect(events.allSatisfy { $0.step == 300 && $0.transition == .fired })
    #expect(monitor.isHealthy)
    #expect(!monitor.isFiring(.collapse))
  }

  @Test func collapseSignalsAreConfigurable() {
    let settings = DriftSettings(collapseSignals: [.identity, .inactiveBottleneck])
    var monitor = DomainDriftMonitor(domain: "d", settings: settings)
    var collapse: [DriftEvent] = []
    for step in 0...400 {
      collapse += monitor.observe(observation(step: step, activeUnits: 0)).filter {
        $0.detector == .collapse
      }
    }
    #expect(collapse.count == 1)
    #expect(collapse.first?.cause == .inactiveBottleneck)
    #expect(collapse.first?.step == 300)
  }

  @Test func collapseClearsAfterTheDecoderRecoversForClearSteps() {
    var monitor = DomainDriftMonitor(
      domain: "d", settings: DriftSettings(collapseClearSteps: 50))
    var events: [DriftEvent] = []
    for step in 0...1000 {
      events += monitor.observe(observation(step: step, norm: step < 400 ? 0 : 0.02))
    }
    let collapse = events.filter { $0.detector == .collapse }
    #expect(collapse.map(\.transition) == [.fired, .cleared])
    #expect(collapse.map(\.step) == [300, 450])
    #expect(collapse.last?.value == 0.02)
    #expect(collapse.last?.window == DriftWindow(length: 50, unit: .steps))
  }

  @Test func klRunawayFiresAboveTheThresholdAndInfinityCounts() {
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    var events: [DriftEvent] = []
    for step in 0...600 {
      events += monitor.observe(observation(step: step, meanKL: step < 400 ? 3 : .infinity))
    }
    #expect(events.map(\.detector) == [.klRunaway])
    #expect(events.first?.step == 500)
    #expect(events.first?.threshold == 10)
    #expect(monitor.invalidValues == 0)
  }

  @Test func flappingDecoderNormAlertsOncePerClear() {
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    var events: [DriftEvent] = []
    // Dead for 150 steps, alive for 50, over and over: fires once and never clears (the
    // alive runs are shorter than the 100 clear steps); then alive for good: one clearing.
    for step in 0..<3000 {
      events += monitor.observe(observation(step: step, norm: step % 200 < 150 ? 0 : 0.05))
    }
    for step in 3000..<3300 {
      events += monitor.observe(observation(step: step))
    }
    let identity = events.filter { $0.detector == .identity }
    #expect(identity.map(\.transition) == [.fired, .cleared])
    #expect(identity.last?.step == 3050, "alive since step 2950")
  }

  @Test func replacedKernelKeepsTheFiringUntilItProvesHealthy() {
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    var events: [DriftEvent] = []
    for step in 0...400 { events += monitor.observe(observation(step: step, norm: 0)) }
    #expect(events.count == 2)
    // Reset: the new kernel starts at step 0 and is the identity during its warm-up.
    for step in 0...299 { events += monitor.observe(observation(step: step, norm: 0)) }
    #expect(events.count == 2, "no refiring, no clearing while the new kernel warms up")
    #expect(monitor.isFiring(.collapse))
    for step in 300...500 { events += monitor.observe(observation(step: step, norm: 0.03)) }
    let collapse = events.filter { $0.detector == .collapse }
    #expect(collapse.map(\.transition) == [.fired, .cleared])
    #expect(collapse.last?.step == 400)
  }

  @Test func invalidProxyValuesAreSkippedAndCounted() {
    var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
    var events: [DriftEvent] = []
    for step in 0...600 {
      events += monitor.observe(
        observation(step: step, activeUnits: -1, norm: .nan, muVariance: -1, meanKL: .nan))
    }
    #expect(events.isEmpty)
    #expect(monitor.invalidValues == 4 * 401)
  }
}
