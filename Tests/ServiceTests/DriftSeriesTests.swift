import Base
import Checkpoint
import Foundation
import Learner
import Observability
import Stream
import Testing

@testable import Service

/// `iak_drift_active` through the pipeline: daily domains whose kernels all collapse (the
/// identity signal at a decoder norm threshold of 1); a day that had no example for
/// `metrics.silent_after` of event time loses its drift series, so its alert resolves, while the
/// days still seen keep theirs.
@Suite struct DriftSeriesTests {
  static let settings =
    DomainRetirementTests.settings.filter { !$0.hasPrefix("domain.max_domains") } + [
      "metrics.silent_after=25h", "drift.decoder_norm_threshold=1", "drift.warmup_steps=0",
      "drift.collapse_steps=1", "drift.on_collapse=alert",
    ]

  /// The `domain` values of the `iak_drift_active{detector="collapse"} 1` lines of `text`.
  static func collapsed(_ text: String) -> Set<String> {
    Set(
      text.split(separator: "\n").filter {
        $0.hasPrefix("iak_drift_active{") && $0.hasSuffix("detector=\"collapse\"} 1")
      }.compactMap { $0.split(separator: "\"").dropFirst().first.map(String.init) })
  }

  @Test func aDomainSilentForSilentAfterLosesItsDriftSeries() throws {
    let folder =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-drift-series-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var configuration = Configuration()
    for setting in Self.settings { try configuration.apply(override: setting) }
    let backbone = try Backbone(
      config: BackboneConfig(
        fields: ["user", "item"], buckets: 512, embeddingDim: 16, hiddenSizes: [16, 8]),
      seed: 3)
    let metrics = MetricsRegistry()
    let pipeline = try Pipeline(
      configuration: configuration, backbone: backbone, backboneSHA256: "bb",
      store: try SnapshotStore(directory: folder + "/store", keep: 2), publisher: nil,
      alertEmitter: AlertEmitter(
        producer: nil, topic: "", logger: .disabled, metrics: metrics),
      deadLetters: nil, logger: .disabled, metrics: metrics)

    // Each day's 24 impressions run from its midnight to 00:23: day 0's domains are silent for a
    // day and a minute or two when day 1 ends (kept), for two days when day 2 ends (removed).
    var days: [[String]] = []
    for day in 0..<3 {
      let before = Set(pipeline.trainer.domains)
      try DomainRetirementTests.feed(
        DomainRetirementTests.records(day: day, firstOffset: Int64(day) * 24), to: pipeline,
        decodedAhead: true)
      days.append(Set(pipeline.trainer.domains).subtracting(before).sorted())
      try pipeline.checkpoint(createdAtMilliseconds: Int64(day))
      let firing = Set(
        pipeline.trainer.domains.filter {
          pipeline.drift.firingDetectors(of: $0).contains(.collapse)
        })
      try #require(Set(days[day]).isSubset(of: firing), "day \(day) did not collapse: \(firing)")
      let expected = Set(days.suffix(2).joined())
      #expect(Self.collapsed(metrics.render()) == expected, "day \(day): \(metrics.render())")
    }
    // Day 0's detectors still fire in the monitor; only its series went, no other series of it.
    let rendered = metrics.render()
    for domain in days[0] {
      #expect(pipeline.drift.firingDetectors(of: domain).contains(.collapse))
      #expect(!rendered.contains("iak_drift_active{domain=\"\(domain)\""), "\(rendered)")
      #expect(rendered.contains("iak_alerts_total{domain=\"\(domain)\",detector=\"collapse\"} 1"))
    }

    // The partition moves to another process: none of its domains' series stay here.
    pipeline.release(TopicPartition(topic: "events", partition: 0))
    #expect(pipeline.trainer.domains.isEmpty)
    let released = metrics.render()
    for domain in days.joined() {
      #expect(!released.contains("domain=\"\(domain)\""), "\(released)")
    }
  }
}
