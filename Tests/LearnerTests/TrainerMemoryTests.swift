import Testing

@testable import Learner

/// `Trainer.domainMemory`: what the domains hold, by part, from the buffers themselves.
@Suite struct TrainerMemoryTests {
  @Test func domainMemoryCountsKernelsAndWindowsNoLargerThanTheWindow() throws {
    let backbone = try Backbone(config: TrainerTests.backboneConfig, seed: 4)
    let window = 20
    let trainer = try Trainer(
      backbone: backbone,
      kernelConfig: KernelConfig(insertAt: .hidden(1), bottleneck: 3, encoderHidden: 5),
      config: TrainConfig(
        batchMax: 8, batchMaxWaitMs: 30_000, learningRate: 3e-3, stepsPerBatch: 1,
        evaluationWindow: window))
    #expect(trainer.domainMemory == DomainMemory())
    // "hot" gets half the 400 examples, "cold" and "warm" a quarter each: every window fills.
    for example in TrainerTests.stream(count: 400, seed: 3) { _ = trainer.process(example) }
    let memory = trainer.domainMemory
    #expect(memory.domains == 3)
    let parameters = try #require(trainer.kernel(for: "hot")).parameterCount
    // Parameters and two Adam moments of four bytes each, per domain (allocator rounding
    // aside: at most 32 bytes per buffer).
    #expect(memory.kernelBytes >= 3 * 3 * parameters * 4)
    #expect(memory.kernelBytes <= 3 * 3 * (parameters * 4 + 32))
    // The two training-time meters of each domain hold a full window of a Float and a Bool per
    // example (the stream has no serving scores, so the three serving-time meters hold none),
    // in buffers grown no further than the window: doubling would have left them at 32.
    #expect(memory.windowBytes >= 3 * 2 * window * 5)
    #expect(memory.windowBytes <= 3 * 2 * (window * 5 + 32))
    #expect(memory.histogramBytes > 0 && memory.proxyBytes >= 3 * 3 * 8)
    #expect(memory.pendingCapacityBytes >= 3 * MemoryLayout<Example>.stride)
    #expect(memory.totalBytes == memory.parts.reduce(0) { $0 + $1.bytes })
  }
}
