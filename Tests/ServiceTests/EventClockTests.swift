import Checkpoint
import Foundation
import Learner
import Observability
import Stream
import Testing

@testable import Service

/// Issue 14, item 2: one far-future event must not poison a partition's event-time clock, and a
/// burst of valid events inventing windows and regions must not retire live domains. Both run
/// the synthetic stream of `HostileInputTests` (clicks split from their impressions, daily
/// domains) through the Pipeline with a dead-letter topic on the mock cluster, against the same
/// stream without the bad events.
@Suite struct EventClockTests {
  /// The last millisecond of year 9999, the latest time the decoder accepts.
  static let year9999 = EventTime.latestMilliseconds

  struct Run {
    let pipeline: Pipeline
    let metrics: MetricsRegistry
    let letters: [Record]
  }

  /// Runs `lines` through a pipeline (decoded ahead as serve does, or raw as replay does), with
  /// a checkpoint every 500 records (kernels are published, so they may be retired) and at the
  /// end; returns it with the dead letters it wrote.
  static func run(
    _ lines: [[UInt8]], settings: [String] = [], decodedAhead: Bool = false,
    backbone: Backbone
  ) throws -> Run {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-clock-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var configuration = try HostileInputTests.configuration()
    for setting in settings { try configuration.apply(override: setting) }
    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("dead", partitions: 1)
    let kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
    let producer = try KafkaProducer.make(configuration: kafka)
    let metrics = MetricsRegistry()
    let pipeline = try Pipeline(
      configuration: configuration, backbone: backbone, backboneSHA256: "bb",
      store: try SnapshotStore(directory: folder + "/store", keep: 2),
      publisher: KernelPublisher(
        producer: nil, topic: "", folder: folder + "/publish", backboneSHA256: "bb",
        kernelConfig: try configuration.kernelConfig(), logger: .disabled, metrics: metrics),
      alertEmitter: nil,
      deadLetters: DeadLetterWriter(producer: producer, topic: "dead", metrics: metrics),
      logger: .disabled, metrics: metrics)
    let source = try FileRecordSource(bytes: lines.flatMap { $0 + [0x0A] }, topic: "events")
    var checkpoints: Int64 = 0
    while !source.isEndOfInput {
      let records = try source.poll(maxRecords: 500, timeout: .zero)
      if decodedAhead {
        try pipeline.process(records.map(pipeline.decoder.decodeAhead))
      } else {
        try pipeline.process(records)
      }
      checkpoints += 1
      try pipeline.checkpoint(createdAtMilliseconds: checkpoints)
    }
    pipeline.flush()
    try pipeline.checkpoint(createdAtMilliseconds: checkpoints + 1)
    try producer.close()
    let letters = try KafkaTopicReader.readAll("dead", configuration: kafka, timeout: .seconds(30))
    return Run(pipeline: pipeline, metrics: metrics, letters: letters)
  }

  static func backbone() throws -> Backbone {
    try Backbone(
      config: BackboneConfig(fields: ["user", "item"], buckets: 512, hiddenSizes: [16, 8]),
      seed: 3)
  }

  static func encoded(_ kernel: IAKKernel?) -> [UInt8]? {
    kernel.map { SafeTensors(tensors: $0.stateTensors()).encoded() }
  }

  static func reason(_ letter: Record) -> String {
    String(decoding: letter.header(named: "iak-reason") ?? [], as: UTF8.self)
  }

  static func rejected(_ run: Run) -> [String: Int] {
    HostileInputTests.counter(run.metrics.render(), "iak_events_rejected_total")
      .filter { $0.value > 0 }
  }

  @Test(arguments: [false, true])
  func oneEventInYear9999ChangesNoLabelAndGoesToTheDeadLetterTopic(decodedAhead: Bool) throws {
    let backbone = try Self.backbone()
    let good = HostileInputTests.goodLines(count: 2400)
    let clean = try Self.run(good, decodedAhead: decodedAhead, backbone: backbone)
    // A click and an impression stamped in year 9999, a third of the way in.
    let outliers = [
      #"{"type":"click","id":"i800","ts":\#(Self.year9999)}"#,
      #"{"type":"impression","id":"far","ts":\#(Self.year9999),"region":"east","#
        + #""user":"u1","item":"m1"}"#,
    ].map { Array($0.utf8) }
    let at = good.count / 3
    let poisoned = try Self.run(
      Array(good[..<at]) + outliers + Array(good[at...]), decodedAhead: decodedAhead,
      backbone: backbone)

    let report = ScenarioReport("far-future event (\(decodedAhead ? "serve" : "replay") path)")
    let counts = poisoned.pipeline.counts
    let reference = clean.pipeline.counts
    report.check(reference.positives > 500, "the clean stream has \(reference.positives) clicks")
    report.check(
      counts.positives == reference.positives,
      "positives \(counts.positives), \(reference.positives) without the outliers")
    report.check(
      counts.examples == reference.examples,
      "examples \(counts.examples), \(reference.examples) without the outliers")
    report.check(counts.rejected == 2, "rejected \(counts.rejected)")
    report.check(counts.records == reference.records + 2, "records \(counts.records)")
    for (domain, kernel) in clean.pipeline.trainer.kernels {
      report.check(
        Self.encoded(poisoned.pipeline.trainer.kernel(for: domain)) == Self.encoded(kernel),
        "kernel \(domain) differs")
    }
    report.check(
      poisoned.pipeline.trainer.domains == clean.pipeline.trainer.domains,
      "domains \(poisoned.pipeline.trainer.domains)")
    report.check(
      Self.rejected(poisoned) == ["too_far_future": 2], "rejected \(Self.rejected(poisoned))")
    report.check(poisoned.letters.count == 2, "\(poisoned.letters.count) dead letters")
    for (letter, outlier) in zip(poisoned.letters, outliers) {
      report.check(Self.reason(letter) == "too_far_future", "reason \(Self.reason(letter))")
      let offset = String(decoding: letter.header(named: "iak-source-offset") ?? [], as: UTF8.self)
      report.check(Int(offset).map { $0 >= at && $0 < at + 2 } == true, "offset \(offset)")
      let decoder = EventDecoder(metrics: MetricsRegistry())
      report.check(
        try decoder.decode(letter.value) == decoder.decode(outlier),
        "the dead letter does not hold the event")
    }
    report.finish(
      did:
        "inserted a click and an impression stamped 9999-12-31 into \(good.count) good lines "
        + "(clicks \(reference.positives))",
      checked: "labels, kernels and domains as without them, both dead-lettered too_far_future",
      figures:
        "positives \(counts.positives) (clean \(reference.positives)), examples "
        + "\(counts.examples), \(poisoned.letters.count) dead letters")
  }

  @Test func aFloodOfInventedWindowsAndRegionsRetiresNoLiveDomain() throws {
    let backbone = try Self.backbone()
    let good = HostileInputTests.goodLines(count: 2400)
    let settings = ["domain.max_domains=400"]
    let clean = try Self.run(good, settings: settings, backbone: backbone)
    // 2,100 valid impressions in a row, each of its own region, stamped 0 to 89 days before the
    // stream's start: a third within event.max_past, each starting a domain of its own.
    let start: Int64 = 883_000_000_000
    let flood = (0..<2_100).map { index in
      Array(
        (#"{"type":"impression","id":"flood-\#(index)","ts":"#
          + #"\#(start - Int64(index % 90) * 86_400_000),"region":"flood-\#(index)","#
          + #""user":"u\#(index % 50)","item":"m\#(index % 20)"}"#).utf8)
    }
    // One burst, in the middle of the stream.
    let at = good.count / 2
    let lines = Array(good[..<at]) + flood + Array(good[at...])
    let flooded = try Self.run(lines, settings: settings, backbone: backbone)

    let report = ScenarioReport("domain flood")
    let cleanDomains = clean.pipeline.trainer.domains
    let floodDomains = Set(flooded.pipeline.trainer.domains).subtracting(cleanDomains)
    report.check(cleanDomains.count >= 4, "\(cleanDomains.count) real domains")
    for (domain, kernel) in clean.pipeline.trainer.kernels {
      report.check(
        Self.encoded(flooded.pipeline.trainer.kernel(for: domain)) == Self.encoded(kernel),
        "real domain \(domain) retired or changed")
    }
    let retired = flooded.metrics.render().split(separator: "\n")
      .first { $0.hasPrefix("iak_domains_retired_total ") }
    report.check(retired == nil, "\(retired ?? "")")
    // One burst within a day of the partition's clock: one day's budget, which the day's
    // real new domains share.
    report.check(
      floodDomains.count <= 100 && floodDomains.count >= 100 - cleanDomains.count,
      "\(floodDomains.count) flood domains")
    let rejected = Self.rejected(flooded)
    let past = rejected["too_far_past"] ?? 0
    let budget = rejected["new_domain_budget"] ?? 0
    report.check(past >= 1_200, "\(past) too_far_past")
    report.check(budget > 0, "\(budget) new_domain_budget")
    report.check(
      past + budget + floodDomains.count == flood.count && rejected.count == 2,
      "rejected \(rejected), \(floodDomains.count) admitted")
    report.check(flooded.letters.count == past + budget, "\(flooded.letters.count) dead letters")
    report.check(
      flooded.pipeline.counts.positives == clean.pipeline.counts.positives,
      "positives \(flooded.pipeline.counts.positives)")
    report.finish(
      did:
        "put a burst of \(flood.count) valid impressions, each of a new region, 0-89 days in "
        + "the past, into \(good.count) good lines (domain.max_domains=400)",
      checked: "no domain retired, real kernels bit-identical, the rest dead-lettered by reason",
      figures:
        "\(floodDomains.count) flood domains admitted, \(past) too_far_past, \(budget) "
        + "new_domain_budget, \(cleanDomains.count) real domains kept")
  }

  /// Runs `lines` through a pipeline without dead letters, restarting it from its snapshot
  /// before line `cut` when given; returns the final state as bytes.
  static func finalState(
    _ lines: [[UInt8]], cut: Int?, backbone: Backbone, folder: String
  ) throws -> (state: [UInt8], counts: Pipeline.Counts) {
    let configuration = try HostileInputTests.configuration()
    func make(_ store: SnapshotStore) throws -> Pipeline {
      try Pipeline(
        configuration: configuration, backbone: backbone, backboneSHA256: "bb", store: store,
        publisher: nil, alertEmitter: nil, deadLetters: nil, logger: .disabled, metrics: nil)
    }
    let store = try SnapshotStore(directory: folder, keep: 2)
    var pipeline = try make(store)
    let records = lines.enumerated().map {
      Record(topic: "events", partition: 0, offset: Int64($0.offset), value: $0.element)
    }
    if let cut {
      try pipeline.process(Array(records[..<cut]))
      try pipeline.checkpoint(createdAtMilliseconds: 1)
      pipeline = try make(store)
      try pipeline.restore(
        try #require(try store.loadNewestValid(expectingBackbone: "bb").snapshot))
      try pipeline.process(Array(records[cut...]))
    } else {
      try pipeline.process(records)
    }
    pipeline.flush()
    return (SafeTensors(tensors: pipeline.stateTensors()).encoded(), pipeline.counts)
  }

  @Test func aRunRestartedWhileTheClockDecidesEndsAsOneThatNeverStopped() throws {
    let backbone = try Self.backbone()
    let folder = try TemporaryFolder.make("iak-clock-resume")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    // The good stream, a lone outlier inside it, then the same stream again ten days later
    // (ids renamed): its first two events are refused, the third moves the clock.
    let decoder = EventDecoder(metrics: MetricsRegistry())
    let good = HostileInputTests.goodLines(count: 600)
    let later = try good.map { line -> [UInt8] in
      var event = try decoder.decode(line)
      event.id = "later-" + event.id
      event.timeMilliseconds += 10 * 86_400_000
      return Array(event.jsonLine().utf8)
    }
    let outlier = Array(#"{"type":"click","id":"i10","ts":\#(Self.year9999)}"#.utf8)
    let lines = Array(good[..<300]) + [outlier] + Array(good[300...]) + later
    let whole = try Self.finalState(
      lines, cut: nil, backbone: backbone, folder: folder + "/whole")
    #expect(whole.counts.rejected == 3)
    for cut in [good.count + 2, 300 + 1] {
      let resumed = try Self.finalState(
        lines, cut: cut, backbone: backbone, folder: folder + "/cut-\(cut)")
      #expect(resumed.counts == whole.counts, "cut at \(cut)")
      #expect(resumed.state == whole.state, "cut at \(cut)")
    }
  }

  @Test func withAWallClockAPartitionsFirstEventFromTheFutureIsRefusedToo() throws {
    let configuration = try HostileInputTests.configuration()
    let pipeline = try Pipeline(
      configuration: configuration, backbone: try Self.backbone(), backboneSHA256: "bb",
      store: nil, publisher: nil, alertEmitter: nil, deadLetters: nil, logger: .disabled,
      metrics: nil)
    // Live input as serve reads it: the wall clock stands at the stream's start.
    let start: Int64 = 883_000_000_000
    pipeline.wallClock = { start }
    let good = HostileInputTests.goodLines(count: 50)
    let lines = [Array(#"{"type":"click","id":"i1","ts":\#(Self.year9999)}"#.utf8)] + good
    try pipeline.process(
      lines.enumerated().map {
        Record(topic: "events", partition: 0, offset: Int64($0.offset), value: $0.element)
      })
    pipeline.flush()
    #expect(pipeline.counts.rejected == 1)
    #expect(pipeline.counts.examples == 50)
    #expect(pipeline.counts.positives > 10)
    // Without it (a replay) the same first event sets the clock and the next two are refused
    // before the partition's data moves it back.
    let replay = try Pipeline(
      configuration: configuration, backbone: try Self.backbone(), backboneSHA256: "bb",
      store: nil, publisher: nil, alertEmitter: nil, deadLetters: nil, logger: .disabled,
      metrics: nil)
    try replay.process(
      lines.enumerated().map {
        Record(topic: "events", partition: 0, offset: Int64($0.offset), value: $0.element)
      })
    #expect(replay.counts.rejected == 2)
  }
}
