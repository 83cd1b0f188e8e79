import Testing

@testable import Learner

@Suite struct DriftPolicyTests {
  func event(_ detector: DriftDetector, _ transition: DriftTransition) -> DriftEvent {
    DriftEvent(
      detector: detector, domain: "d", transition: transition, value: 0, threshold: 0,
      window: DriftWindow(length: 1, unit: .steps), kernelVersion: 1, step: 1, examplesSeen: 0,
      eventTimeMs: 0)
  }

  @Test(arguments: DriftAction.allCases.filter { $0 != .reactivate })
  func firingsMapToTheConfiguredActions(configured: DriftAction) {
    let collapse = DriftPolicy(onCollapse: configured, onHarm: .alert)
    let harm = DriftPolicy(onCollapse: .alert, onHarm: configured)
    #expect(collapse.action(for: event(.collapse, .fired), firing: [.collapse]) == configured)
    #expect(harm.action(for: event(.harm, .fired), firing: [.harm]) == configured)
    #expect(collapse.action(for: event(.harm, .fired), firing: [.harm]) == .alert)
    #expect(harm.action(for: event(.collapse, .fired), firing: [.collapse]) == .alert)
  }

  @Test func informationalFiringsOnlyAlert() {
    let policy = DriftPolicy(onCollapse: .reset, onHarm: .rollback)
    for detector in DriftDetector.allCases where detector != .collapse && detector != .harm {
      #expect(policy.action(for: event(detector, .fired), firing: [detector]) == .alert)
    }
  }

  @Test func clearingADeactivationReactivatesUnlessAnotherStillDeactivates() {
    let policy = DriftPolicy(onCollapse: .deactivate, onHarm: .deactivate)
    #expect(policy.action(for: event(.harm, .cleared), firing: [.ctrDrift]) == .reactivate)
    #expect(policy.action(for: event(.harm, .cleared), firing: [.collapse]) == .alert)
    let resetting = DriftPolicy(onCollapse: .reset, onHarm: .deactivate)
    #expect(resetting.action(for: event(.harm, .cleared), firing: [.collapse]) == .reactivate)
    #expect(resetting.action(for: event(.collapse, .cleared), firing: []) == .alert)
  }

  @Test func strongestActionWinsAmongSimultaneousEvents() {
    let policy = DriftPolicy(onCollapse: .reset, onHarm: .deactivate)
    let events = [event(.ctrDrift, .fired), event(.harm, .fired), event(.collapse, .fired)]
    #expect(policy.action(for: events, firing: [.ctrDrift, .harm, .collapse]) == .reset)
    #expect(policy.action(for: Array(events.prefix(2)), firing: [.ctrDrift, .harm]) == .deactivate)
    #expect(policy.action(for: [], firing: []) == nil)
    #expect(DriftAction.allCases.map(\.strength) == [0, 1, 2, 3, 4])
  }

  @Test func defaultsMatchPipelineConf() {
    #expect(DriftPolicy() == DriftPolicy(onCollapse: .alert, onHarm: .deactivate))
    #expect(DriftAction(rawValue: "rollback") == .rollback)
  }

  @Test func detectorNamesAreStableSnakeCase() {
    #expect(
      DriftDetector.allCases.map(\.rawValue) == [
        "collapse", "inactive_bottleneck", "identity", "constant_z", "harm", "kl_runaway",
        "logloss_drift", "ctr_drift",
      ])
    #expect(DriftDetector.harm.severity == .critical)
    #expect(DriftDetector.collapse.severity == .warning)
    #expect(DriftDetector.ctrDrift.severity == .info)
  }
}
