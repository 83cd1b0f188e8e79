import Base
import Foundation
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
    // In nats, as the KL (promtool's lint refuses a bits unit).
    let relevance = metrics.relevance.with("hot", "training_kernel").value
    #expect(abs(relevance - proxies.kernelRelevanceBits * log(2.0)) < 1e-12)
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

  /// The stream of `TrainerTests.stream` ends with warm (399 s), cold (398 s), then hot (397 s):
  /// with one labelled domain, warm has its own series and the other two are aggregated.
  @Test func domainsBeyondTheBoundAreAggregatedUnderOther() throws {
    let trainer = try TrainerTests.makeTrainer()
    let registry = MetricsRegistry()
    let metrics = LearnerMetrics(registry: registry, maxDomains: 1)
    trainer.stepDuration = metrics.stepDuration.with()
    for (index, var example) in TrainerTests.stream(count: 400, seed: 13).enumerated() {
      example.servingScore = ServingScore(
        backboneLogit: Float(index % 9) - 4, kernelLogit: Float(index % 7) - 3,
        servesKernel: index > 200)
      _ = trainer.process(example)
    }
    let versions = ["hot": 4, "cold": 2, "warm": 7]
    trainer.publish(to: metrics, isServing: { $0 == "hot" }, kernelVersion: { versions[$0] })
    let text = registry.render()
    let domainLabels = Set(
      text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        .compactMap { $0.split(separator: "domain=\"").dropFirst().first?.prefix { $0 != "\"" } }
        .map(String.init))
    #expect(domainLabels == ["warm", "_other"], "\(text)")
    #expect(text.contains("iak_metrics_other_domains 2\n"))

    let hot = try #require(trainer.evaluation(for: "hot"))
    let cold = try #require(trainer.evaluation(for: "cold"))
    let warm = try #require(trainer.evaluation(for: "warm"))
    // A new `_other` starts at its members' totals; one of the two aggregated kernels serves.
    #expect(
      metrics.examples.with("_other").value == Double(hot.adapted.count + cold.adapted.count))
    #expect(metrics.batches.with("_other").value == Double(hot.batches + cold.batches))
    #expect(metrics.active.with("_other").value == 1)
    #expect(metrics.active.with("warm").value == 0)
    let examplesSeen = try ["hot", "cold"].map {
      try #require(trainer.kernel(for: $0)).examplesSeen
    }
    #expect(metrics.kernelExamples.with("_other").value == Double(examplesSeen.reduce(0, +)))
    #expect(metrics.kernelExamples.with("warm").value == Double(warm.adapted.count))
    #expect(metrics.version.with("warm").value == 7)
    #expect(!text.contains("iak_kernel_version{domain=\"_other\"}"))
    // Quality of the pooled scores: log loss weighted by window size, AUC of the pooled window
    // (binned as LogitHistogram bins it, within its error bound of the exact pooled AUC).
    for (model, meters) in [
      ("served", [hot.served, cold.served]), ("kernel", [hot.servingKernel, cold.servingKernel]),
    ] {
      let sizes = meters.map { Double($0.window.logits.count) }
      let losses = try meters.map { try #require($0.windowLogLoss) }
      let loss = zip(losses, sizes).map(*).reduce(0, +) / sizes.reduce(0, +)
      #expect(abs(metrics.windowLogLoss.with("_other", model).value - loss) < 1e-12)
      var histogram = LogitHistogram()
      var logits: [Float] = []
      var labels: [Float] = []
      for meter in meters {
        let window = meter.window
        for (logit, label) in zip(window.logits, window.labels) {
          histogram.record(logit: logit, isPositive: label)
          logits.append(logit)
          labels.append(label ? 1 : 0)
        }
      }
      let pooled = metrics.windowAUC.with("_other", model).value
      #expect(pooled == (try #require(histogram.auc)))
      let exact = try #require(AreaUnderCurve.exact(scores: logits, labels: labels))
      #expect(abs(pooled - exact) <= (try #require(histogram.errorBound)) + 1e-12)
      #expect(pooled != (try #require(hot.served.windowAUC)))
    }
    // Every closed batch's training was timed.
    let batches = hot.batches + cold.batches + warm.batches
    #expect(metrics.stepDuration.with().count == UInt64(batches))
    #expect(metrics.stepDuration.with().value > 0)

    // hot comes back: it takes warm's place, warm joins cold under _other.
    var late = TrainerTests.stream(count: 1, seed: 5)[0]
    late.domain = "hot"
    late.eventTimeMs = 500_000
    _ = trainer.process(late)
    trainer.publish(to: metrics, isServing: { $0 == "hot" }, domains: ["hot"])
    let after = registry.render()
    #expect(after.contains("iak_kernel_active{domain=\"hot\"} 1\n"), "\(after)")
    #expect(!after.contains("domain=\"warm\""), "\(after)")
    #expect(!after.contains("domain=\"cold\""), "\(after)")
    #expect(metrics.active.with("_other").value == 0)
    // The late example's time closed warm's and cold's waiting batches: their counts now.
    let counts = try ["warm", "cold"].map {
      try #require(trainer.evaluation(for: $0)).adapted.count
    }
    #expect(counts[0] + counts[1] > warm.adapted.count + cold.adapted.count)
    // `_other` is a counter: it keeps what hot and cold trained while aggregated, adds what cold
    // trained since, and nothing of warm's past (warm's own series counted that).
    #expect(
      metrics.examples.with("_other").value
        == Double(hot.adapted.count + counts[1]))
    #expect(metrics.examples.with("_other").value >= Double(hot.adapted.count + cold.adapted.count))
  }
}
