import Testing

@testable import Learner

/// `Trainer.retireDomains(keepingAtMost:where:)`: the least recently seen domains go first, never
/// one with an open batch or one the caller keeps.
@Suite struct TrainerRetirementTests {
  /// A trainer holding domains "d0"..."d5", each seen last at its index in minutes, every batch
  /// closed (full at 8 examples), except "d2" which has one example waiting.
  static func trainerWithSixDomains() throws -> Trainer {
    let trainer = try TrainerTests.makeTrainer()
    for domain in 0..<6 {
      for index in 0..<8 {
        let time = Int64(domain) * 60_000 + Int64(index) * 1_000
        _ = trainer.process(
          Example(
            domain: "d\(domain)", categorical: ["u\(index)", "i\(domain)"],
            label: Float(index % 2), eventTimeMs: time))
      }
    }
    // A late example for d2 (its event time is old), which opens a batch.
    _ = trainer.process(
      Example(domain: "d2", categorical: ["u9", "i2"], label: 1, eventTimeMs: 2 * 60_000 + 9_000))
    return trainer
  }

  @Test func theLeastRecentlySeenDomainsWithoutOpenBatchesGoFirst() throws {
    let trainer = try Self.trainerWithSixDomains()
    #expect(trainer.domainCount == 6)
    #expect(trainer.lastSeenMs(of: "d0") == 7_000)
    #expect(trainer.lastSeenMs(of: "d2") == 129_000)
    #expect(trainer.lastSeenMs(of: "d5") == 307_000)
    #expect(trainer.retireDomains(keepingAtMost: 6).isEmpty)
    #expect(trainer.retireDomains(keepingAtMost: 10).isEmpty)

    // Three must go: d0, d1 and (skipping d2, whose batch is open) d3.
    let kept = try #require(trainer.kernel(for: "d4"))
    #expect(trainer.retireDomains(keepingAtMost: 3) == ["d0", "d1", "d3"])
    #expect(trainer.domains == ["d2", "d4", "d5"])
    #expect(trainer.kernel(for: "d0") == nil && trainer.evaluation(for: "d1") == nil)
    #expect(trainer.kernel(for: "d4") == kept)
    #expect(trainer.pendingExamples(for: "d2").count == 1)
    let state = trainer.stateTensors()
    #expect(state.keys.allSatisfy { !$0.hasPrefix("d0/") && !$0.hasPrefix("d3/") })

    // d2 is the least recently seen, but its batch is open: d4 goes instead; once the batch
    // has closed, d2 goes first.
    #expect(trainer.retireDomains(keepingAtMost: 2) == ["d4"])
    #expect(trainer.domains == ["d2", "d5"])
    _ = trainer.flush()
    #expect(trainer.retireDomains(keepingAtMost: 1) == ["d2"])
    #expect(trainer.domains == ["d5"])

    // A retired domain that gets an example again starts anew, from a zero kernel.
    _ = trainer.process(Example(domain: "d0", categorical: ["u1", "i0"], label: 1, eventTimeMs: 0))
    #expect(trainer.evaluation(for: "d0")?.adapted.count == 0)
    #expect(trainer.kernel(for: "d0")?.stepCount == 0)
  }

  @Test func theCallerDecidesWhichDomainsMayGo() throws {
    let trainer = try Self.trainerWithSixDomains()
    var asked: [String] = []
    let retired = trainer.retireDomains(keepingAtMost: 4) { domain in
      asked.append(domain)
      return domain != "d0"
    }
    #expect(retired == ["d1", "d3"])
    // Asked about the domains without an open batch, least recently seen first, until two
    // could go: not about d2 (open batch), nor about d4 and d5 (not needed).
    #expect(asked == ["d0", "d1", "d3"])
    #expect(trainer.domains == ["d0", "d2", "d4", "d5"])
    // Nothing may go: the limit is exceeded rather than a kept domain dropped.
    #expect(trainer.retireDomains(keepingAtMost: 1) { _ in false }.isEmpty)
    #expect(trainer.domainCount == 4)
  }

  @Test func aResetOrRolledBackKernelKeepsItsDomainsLastSeenTime() throws {
    let trainer = try Self.trainerWithSixDomains()
    let snapshot = trainer.stateTensors()
    #expect(trainer.resetKernel(of: "d0"))
    try trainer.rollBackKernel(of: "d1", toStateIn: snapshot)
    #expect(trainer.lastSeenMs(of: "d0") == 7_000)
    #expect(trainer.lastSeenMs(of: "d1") == 67_000)
    #expect(trainer.retireDomains(keepingAtMost: 4) == ["d0", "d1"])
  }

  @Test func theLastSeenTimeSurvivesASnapshotSoRetirementOrderDoesToo() throws {
    let trainer = try Self.trainerWithSixDomains()
    let restored = try TrainerTests.makeTrainer()
    try restored.restore(stateTensors: trainer.stateTensors())
    for domain in trainer.domains {
      #expect(restored.lastSeenMs(of: domain) == trainer.lastSeenMs(of: domain))
    }
    #expect(restored.retireDomains(keepingAtMost: 2) == trainer.retireDomains(keepingAtMost: 2))
  }
}
