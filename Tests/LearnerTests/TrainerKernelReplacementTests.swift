import Checkpoint
import Testing

@testable import Learner

@Suite struct TrainerKernelReplacementTests {
  /// A trainer that has trained on `count` examples, stopped with open batches.
  static func trained(_ count: Int, mode: AdaptationMode = .kernel) throws -> Trainer {
    let trainer = try TrainerTests.makeTrainer(mode: mode)
    for example in TrainerTests.stream(count: count, seed: 5) { _ = trainer.process(example) }
    return trainer
  }

  @Test func resetStartsTheKernelFromZeroAndKeepsTheBatchAndHistory() throws {
    let trainer = try Self.trained(203)
    let pending = trainer.pendingExamples(for: "hot")
    let evaluation = trainer.evaluation(for: "hot")
    #expect(!pending.isEmpty)
    #expect(trainer.kernel(for: "hot")?.hasZeroDecoder == false)
    #expect(trainer.resetKernel(of: "hot"))
    let kernel = try #require(trainer.kernel(for: "hot"))
    #expect(kernel == IAKKernel(domain: "hot", layout: kernel.layout, seed: trainer.config.seed))
    #expect(kernel.hasZeroDecoder)
    #expect(kernel.stepCount == 0 && kernel.examplesSeen == 0 && !kernel.isActive)
    #expect(trainer.proxies(for: "hot")?.batches == 0)
    #expect(trainer.pendingExamples(for: "hot") == pending)
    #expect(trainer.evaluation(for: "hot") == evaluation)
    #expect(trainer.kernel(for: "cold")?.hasZeroDecoder == false, "other domains untouched")
    #expect(!trainer.resetKernel(of: "nowhere"))
  }

  @Test func aReplacedKernelKeepsItsLaneAndWhenItsOpenBatchOpened() throws {
    let trainer = try TrainerTests.makeTrainer()
    for (domain, lane) in [("reset", Int32(2)), ("rolled", Int32(3))] {
      for second in Int64(100)...102 {
        _ = trainer.process(
          Example(
            domain: domain, categorical: ["u", "i"], label: 0, eventTimeMs: second * 1000,
            lane: lane))
      }
    }
    let snapshot = trainer.stateTensors()
    #expect(trainer.resetKernel(of: "reset"))
    try trainer.rollBackKernel(of: "rolled", toStateIn: snapshot)
    // The partition owning each domain still does: its hand-over carries the domain.
    #expect(trainer.lane(of: "reset") == 2 && trainer.lane(of: "rolled") == 3)
    #expect(trainer.domains(ofLane: 2) == ["reset"] && trainer.domains(ofLane: 3) == ["rolled"])
    // Each open batch still closes batch_max_wait (30 s) after it opened, not at once.
    for (domain, lane) in [("reset", Int32(2)), ("rolled", Int32(3))] {
      #expect(trainer.advanceEventTime(to: 129_999, lane: lane).isEmpty, "\(domain)")
      let closed = trainer.advanceEventTime(to: 130_000, lane: lane)
      #expect(closed.map(\.domain) == [domain] && closed.map(\.size) == [3])
      #expect(closed.first?.reason == .waited)
    }
  }

  @Test func rollbackRestoresTheStoredKernelBitForBit() throws {
    let trainer = try Self.trained(400)
    let stored = try SafeTensors.decode(SafeTensors(tensors: trainer.stateTensors()).encoded())
    let old = try #require(trainer.kernel(for: "warm"))
    for example in TrainerTests.stream(count: 400, seed: 6) { _ = trainer.process(example) }
    #expect(trainer.kernel(for: "warm") != old)
    let pending = trainer.pendingExamples(for: "warm")
    try trainer.rollBackKernel(of: "warm", toStateIn: stored.tensors)
    #expect(trainer.kernel(for: "warm") == old)
    #expect(trainer.pendingExamples(for: "warm") == pending)
    #expect(trainer.proxies(for: "warm")?.batches == 0)

    // Training on from the restored kernel is the same as training on from the original.
    let original = try Self.trained(400)
    let more = TrainerTests.stream(count: 64, seed: 9).map {
      Example(
        domain: "warm", categorical: $0.categorical, label: $0.label,
        eventTimeMs: 10_000_000 + $0.eventTimeMs)
    }
    try original.rollBackKernel(of: "warm", toStateIn: stored.tensors)
    let fresh = try TrainerTests.makeTrainer()
    try fresh.install(old, pending: original.pendingExamples(for: "warm"))
    for example in more {
      _ = fresh.process(example)
      _ = original.process(example)
    }
    _ = fresh.flush()
    _ = original.flush()
    #expect(original.kernel(for: "warm")?.weightTensors() != old.weightTensors())
    let same =
      original.kernel(for: "warm")?.weightTensors() == fresh.kernel(for: "warm")?.weightTensors()
    #expect(same, "the restored kernel trains on like the original")
  }

  @Test func rollbackRefusesAMissingOrMisshapenKernelAndChangesNothing() throws {
    let trainer = try Self.trained(100)
    let before = trainer.kernel(for: "hot")
    #expect(throws: LearnerError.self) {
      try trainer.rollBackKernel(of: "hot", toStateIn: [:])
    }
    var other = try #require(before).stateTensors(prefix: "hot/")
    other["hot/layout"] = Tensor(int64s: [3, 0, 1], shape: [3])
    #expect(throws: LearnerError.self) {
      try trainer.rollBackKernel(of: "hot", toStateIn: other)
    }
    #expect(throws: LearnerError.self) {
      try trainer.rollBackKernel(of: "nowhere", toStateIn: [:])
    }
    #expect(trainer.kernel(for: "hot") == before)
  }

  @Test func outputBiasModeResetsAndRollsBackTheBias() throws {
    let trainer = try Self.trained(200, mode: .outputBias)
    let stored = trainer.stateTensors()
    let bias = try #require(trainer.outputBias(for: "hot"))
    #expect(bias.value != 0)
    #expect(trainer.resetKernel(of: "hot"))
    #expect(trainer.outputBias(for: "hot") == OutputBias())
    try trainer.rollBackKernel(of: "hot", toStateIn: stored)
    #expect(trainer.outputBias(for: "hot") == bias)
  }
}
