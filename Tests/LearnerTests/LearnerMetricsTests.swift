import Observability
import Testing

@testable import Learner

@Suite struct LearnerMetricsTests {
  @Test func publishedMetricsCarryCountsAndProxies() throws {
    let trainer = try TrainerTests.makeTrainer()
    for example in TrainerTests.stream(count: 400, seed: 13) { _ = trainer.process(example) }
    let registry = MetricsRegistry()
    let metrics = LearnerMetrics(registry: registry)
    trainer.publish(to: metrics)
    trainer.publish(to: metrics)  // idempotent: counters do not double
    let hot = try #require(trainer.evaluation(for: "hot"))
    #expect(metrics.examples.with("hot").value == Double(hot.adapted.count))
    #expect(metrics.batches.with("hot").value == Double(hot.batches))
    let proxies = try #require(trainer.proxies(for: "hot"))
    #expect(metrics.kl.with("hot").value == proxies.meanKL)
    #expect(registry.render().contains("iak_learner_window_auc{domain=\"hot\",model=\"backbone\"}"))
  }
}
