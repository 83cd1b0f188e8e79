import Observability
import Testing

@testable import Learner

@Suite struct LearnerMetricsTests {
  @Test func publishedMetricsCarryCountsAndProxies() throws {
    let trainer = try TrainerTests.makeTrainer()
    for (index, var example) in TrainerTests.stream(count: 400, seed: 13).enumerated() {
      example.servingScore = ServingScore(
        backboneLogit: Float(index % 9) - 4, kernelLogit: Float(index % 7) - 3,
        servesKernel: index > 200)
      _ = trainer.process(example)
    }
    let registry = MetricsRegistry()
    let metrics = LearnerMetrics(registry: registry)
    trainer.publish(to: metrics, isServing: { $0 == "hot" })
    trainer.publish(to: metrics, isServing: { $0 == "hot" })  // idempotent: counters do not double
    let hot = try #require(trainer.evaluation(for: "hot"))
    #expect(metrics.examples.with("hot").value == Double(hot.adapted.count))
    #expect(metrics.batches.with("hot").value == Double(hot.batches))
    let proxies = try #require(trainer.proxies(for: "hot"))
    #expect(metrics.kl.with("hot").value == proxies.meanKL)
    let text = registry.render()
    for model in ["kernel", "backbone", "served", "training_kernel", "training_backbone"] {
      #expect(text.contains("iak_learner_window_auc{domain=\"hot\",model=\"\(model)\"}"))
    }
    // Serving time is the headline: the kernel's series is the serving-time meter's.
    #expect(
      metrics.cumulativeAUC.with("hot", "kernel").value
        == (try #require(hot.servingKernel.cumulativeAUC)))
    #expect(metrics.active.with("hot").value == 1)
    #expect(metrics.active.with("cold").value == 0)
  }
}
