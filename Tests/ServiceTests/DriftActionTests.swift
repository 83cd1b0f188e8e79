import Base
import Checkpoint
import Foundation
import Learner
import Observability
import Stream
import Testing

@testable import Service

/// The drift actions `reset` and `rollback`, provoked for real: a kernel trained on a stretch of
/// inverted labels hurts once the labels are right again, `harm` fires, and the action is
/// verified through the kernels the pipeline publishes to a folder and the alerts topic.
@Suite struct DriftActionTests {
  static let domain = "1998-01/east"

  /// A backbone pretrained on the right labels, and a pipeline over one domain whose labels
  /// are inverted for the first `invertedCount` events.
  final class Fixture {
    let folder: String
    let backbone: Backbone
    var configuration = Configuration()

    init() throws {
      folder = try TemporaryFolder.make("iak-drift-actions")
      let settings = [
        "backbone.fields=user,item", "backbone.buckets=512", "backbone.hidden=16,8",
        "backbone.until=", "backbone.epochs=4", "domain.window=month", "domain.min_examples=50",
        "train.batch_max=8", "train.learning_rate=0.01", "drift.warmup_steps=40",
        "drift.harm_window=200", "checkpoint.keep=100",
      ]
      for setting in settings { try configuration.apply(override: setting) }
      backbone = try TestBackbone.pretrain(
        lines: Fixture.lines(count: 3000, invertedCount: 0, seed: 7), settings: settings,
        in: folder)
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    /// Impressions with pre-joined labels: a click when the item is a multiple of 3, flipped
    /// for one example in ten, and inverted for the first `invertedCount`.
    static func lines(count: Int, invertedCount: Int, seed: UInt64) -> [String] {
      var state = seed
      func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 33
      }
      return (0..<count).map { index in
        let user = next() % 50
        let item = next() % 20
        let clicked = ((item % 3 == 0) != (next() % 10 == 0)) != (index < invertedCount)
        let time = 883_612_800_000 + Int64(index) * 60_000
        return
          "{\"type\":\"impression\",\"id\":\"i\(index)\",\"ts\":\(time),\"region\":\"east\","
          + "\"user\":\"u\(user)\",\"item\":\"m\(item)\",\"click\":\(clicked ? 1 : 0)}"
      }
    }

    func makePipeline(alertEmitter: AlertEmitter?) throws -> Pipeline {
      try Pipeline(
        configuration: configuration, backbone: backbone,
        backboneSHA256: backbone.weightsSHA256,
        store: try SnapshotStore(directory: folder + "/store", keep: 100),
        publisher: KernelPublisher(
          producer: nil, topic: "", folder: folder + "/published",
          backboneSHA256: backbone.weightsSHA256, kernelConfig: try configuration.kernelConfig(),
          logger: .disabled, metrics: nil),
        alertEmitter: alertEmitter, deadLetters: nil, logger: .disabled, metrics: nil)
    }

    /// The serving file the publisher last wrote for the domain.
    func published() throws -> SafeTensors {
      try SafeTensors.read(from: folder + "/published/" + DriftActionTests.domain + ".safetensors")
    }
  }

  /// What a run until the first harm firing saw.
  struct Run {
    /// Weights published per kernel version before harm fired.
    var weightsByVersion: [Int: [String: Tensor]] = [:]
    /// The harm firing.
    var harm: DriftEvent?
    /// What was done about it.
    var outcome: DriftActionOutcome?
  }

  /// Feeds `records` one at a time, checkpointing every 100 records, until `harm` fires; then
  /// checkpoints at once, so the next published kernel is the one the action left.
  static func runUntilHarm(_ pipeline: Pipeline, fixture: Fixture, records: [Record]) throws
    -> Run
  {
    var run = Run()
    for record in records {
      try pipeline.process([record])
      if let index = pipeline.alerts.firstIndex(where: {
        $0.detector == .harm && $0.transition == .fired
      }) {
        run.harm = pipeline.alerts[index]
        run.outcome = pipeline.alertOutcomes[index]
        try pipeline.checkpoint(createdAtMilliseconds: 1)
        return run
      }
      if (record.offset + 1) % 100 == 0 {
        try pipeline.checkpoint(createdAtMilliseconds: 1)
        let file = try fixture.published()
        let version = try #require(Int(file.metadata["kernel_version"] ?? ""))
        run.weightsByVersion[version] = file.tensors
      }
    }
    return run
  }

  static func records(invertedCount: Int) -> [Record] {
    Fixture.lines(count: 3000, invertedCount: invertedCount, seed: 11).enumerated().map {
      Record(topic: "events", partition: 0, offset: Int64($0.offset), value: Array($0.element.utf8))
    }
  }

  @Test func rollbackRepublishesTheNewestHealthyVersionsExactWeights() throws {
    let fixture = try Fixture()
    try fixture.configuration.apply(override: "drift.on_harm=rollback")
    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("iak-alerts", partitions: 1)
    let kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
    let producer = try KafkaProducer.make(configuration: kafka)
    let registry = MetricsRegistry()
    let pipeline = try fixture.makePipeline(
      alertEmitter: AlertEmitter(
        producer: producer, topic: "iak-alerts", logger: .disabled, metrics: registry))
    let run = try Self.runUntilHarm(
      pipeline, fixture: fixture, records: Self.records(invertedCount: 1500))

    let harm = try #require(run.harm, "harm never fired")
    #expect(
      harm.eventTimeMs >= 883_612_800_000 + 1500 * 60_000,
      "harm fired before the labels turned right")
    // Harm never fired before, so every version published so far was healthy: the newest is
    // the one to restore.
    let newest = try #require(run.weightsByVersion.keys.max())
    let outcome = try #require(run.outcome)
    #expect(outcome.taken == .rollback)
    #expect(outcome.restoredKernelVersion == newest)
    let republished = try fixture.published()
    #expect(republished.metadata["kernel_version"] == String(newest + 1))
    #expect(republished.tensors == run.weightsByVersion[newest])
    #expect(republished.tensors != run.weightsByVersion[newest - 1])
    #expect(
      pipeline.trainer.kernel(for: Self.domain)?.weightTensors() == run.weightsByVersion[newest])

    // Logged, counted and on the alerts topic.
    #expect(
      registry.render().contains(
        #"iak_drift_actions_total{domain="1998-01/east",action="rollback"} 1"#))
    try producer.flush(timeout: .seconds(10))
    let documents = try KafkaTopicReader.readAll(
      "iak-alerts", configuration: kafka, timeout: .seconds(10)
    ).compactMap { try JSONSerialization.jsonObject(with: Data($0.value)) as? [String: Any] }
    let alert = try #require(documents.first { $0["detector"] as? String == "harm" })
    #expect(alert["action"] as? String == "rollback")
    #expect(
      (alert["action_detail"] as? String)?.hasPrefix("kernel version \(newest) restored") == true)

    // The snapshot records the health the next rollback reads.
    let store = try SnapshotStore(directory: fixture.folder + "/store", keep: 100)
    let latest = try #require(try store.loadNewestValid(expectingBackbone: nil).snapshot)
    #expect(SnapshotView.isHealthy(Self.domain, in: latest.manifest) == false)
    #expect(SnapshotView.alerts(in: latest.manifest).contains { $0.action == "rollback" })
  }

  @Test func aVersionItsGuardFoundWorseIsNotHealthyForARollback() {
    func manifest(_ extras: [String: String]) -> SnapshotManifest {
      SnapshotManifest(
        version: 1, createdAtMilliseconds: 0, backboneSHA256: "b", configurationDigest: "c",
        offsets: [:], files: [:], extras: extras)
    }
    let firing = SnapshotView.encodeMap([
      "a": JSONValue.array([]), "b": .array([]), "c": .array([.string("harm")]),
    ])
    // b was in shadow and found worse than the backbone: no harm fired, and not healthy.
    let recorded = manifest([
      SnapshotView.driftFiringKey: firing,
      SnapshotView.judgedWorseKey: SnapshotView.encodeList([.string("b")]),
    ])
    #expect(SnapshotView.isHealthy("a", in: recorded) == true)
    #expect(SnapshotView.isHealthy("b", in: recorded) == false)
    #expect(SnapshotView.isHealthy("c", in: recorded) == false)
    #expect(SnapshotView.isHealthy("d", in: recorded) == nil)
    // A snapshot written before the list existed reads by its firing detectors alone.
    let older = manifest([SnapshotView.driftFiringKey: firing])
    #expect(SnapshotView.isHealthy("b", in: older) == true)
  }

  @Test func serveKeepsOnlyTheAlertsNoSnapshotHasRecorded() throws {
    for keepsHistory in [true, false] {
      let fixture = try Fixture()
      try fixture.configuration.apply(override: "drift.on_harm=rollback")
      let pipeline = try fixture.makePipeline(
        alertEmitter: AlertEmitter(producer: nil, topic: "", logger: .disabled, metrics: nil))
      pipeline.keepsAlertHistory = keepsHistory
      var raised = 0
      var recorded: [RecordedAlert] = []
      let store = try SnapshotStore(directory: fixture.folder + "/store", keep: 1000)
      for (index, record) in Self.records(invertedCount: 1500).enumerated() {
        try pipeline.process([record])
        guard (index + 1) % 100 == 0 else { continue }
        raised += keepsHistory ? 0 : pipeline.alerts.count
        try pipeline.checkpoint(createdAtMilliseconds: 1)
        let latest = try #require(try store.loadNewestValid(expectingBackbone: nil).snapshot)
        recorded += SnapshotView.alerts(in: latest.manifest)
        if !keepsHistory { #expect(pipeline.alerts.isEmpty && pipeline.alertOutcomes.isEmpty) }
      }
      if keepsHistory { raised = pipeline.alerts.count }
      // Each alert is in exactly one snapshot's manifest, whether or not memory keeps it.
      #expect(raised > 0 && recorded.count == raised)
      #expect(recorded.contains { $0.detector == "harm" && $0.action == "rollback" })
      #expect(pipeline.alertOutcomes.count == pipeline.alerts.count)
    }
  }

  @Test func alertsRaisedAgainAfterARestartRepeatTheFirstOnesExactly() throws {
    // serve restarted from its newest snapshot trains again what came after it, and raises
    // again the alerts of those records: the same events, with the same outcomes (the README
    // says a consumer can drop repeats by domain, detector, status and step).
    let fixture = try Fixture()
    try fixture.configuration.apply(override: "drift.on_harm=rollback")
    let records = Self.records(invertedCount: 1500)
    let first = try fixture.makePipeline(alertEmitter: nil)
    try first.process(Array(records[..<1000]))
    try first.checkpoint(createdAtMilliseconds: 1)
    let beforeCrash = first.alerts.count
    for record in records[1000...] { try first.process([record]) }

    let restarted = try fixture.makePipeline(alertEmitter: nil)
    let store = try SnapshotStore(directory: fixture.folder + "/store", keep: 100)
    try restarted.restore(try #require(try store.loadNewestValid(expectingBackbone: nil).snapshot))
    for record in records[1000...] { try restarted.process([record]) }

    let again = Array(first.alerts[beforeCrash...])
    #expect(again.contains { $0.detector == .harm && $0.transition == .fired })
    #expect(restarted.alerts == again)
    #expect(restarted.alertOutcomes == Array(first.alertOutcomes[beforeCrash...]))
  }

  @Test func resetPublishesAFreshZeroKernelAsANewVersion() throws {
    let fixture = try Fixture()
    try fixture.configuration.apply(override: "drift.on_harm=reset")
    let registry = MetricsRegistry()
    let pipeline = try fixture.makePipeline(
      alertEmitter: AlertEmitter(producer: nil, topic: "", logger: .disabled, metrics: registry))
    let run = try Self.runUntilHarm(
      pipeline, fixture: fixture, records: Self.records(invertedCount: 1500))

    _ = try #require(run.harm, "harm never fired")
    #expect(run.outcome?.taken == .reset)
    let newest = try #require(run.weightsByVersion.keys.max())
    let published = try fixture.published()
    #expect(published.metadata["kernel_version"] == String(newest + 1))
    #expect(published.metadata["active"] == "false")
    #expect(published.metadata["examples_seen"] == "0")
    let fresh = IAKKernel(
      domain: Self.domain, backbone: fixture.backbone.config,
      config: try fixture.configuration.kernelConfig(),
      seed: UInt64(fixture.configuration.settings.train.seed))
    #expect(published.tensors == fresh.weightTensors())
    for name in ["decoder.weight", "decoder.bias"] {
      let values = try #require(try published.tensors[name]?.floats())
      #expect(!values.isEmpty && values.allSatisfy { $0 == 0 }, "\(name) is not zero")
    }
    #expect(
      registry.render().contains(
        #"iak_drift_actions_total{domain="1998-01/east",action="reset"} 1"#))
  }

  /// Issue 15: a kernel drift deactivated for harm was exported with `active=true`, and `kernels
  /// list/show` called it active; a serving system loading the export ran a harmful kernel.
  @Test func aKernelDeactivatedForHarmIsExportedListedAndScoredAsNotServing() throws {
    let fixture = try Fixture()
    try fixture.configuration.apply(override: "drift.on_harm=deactivate")
    let pipeline = try fixture.makePipeline(alertEmitter: nil)
    let harmRun = try Self.runUntilHarm(
      pipeline, fixture: fixture, records: Self.records(invertedCount: 1500))
    _ = try #require(harmRun.harm, "harm never fired")
    #expect(harmRun.outcome?.taken == .deactivate)
    // The kernel itself is past domain.min_examples: only the service's state says it is off.
    #expect(pipeline.trainer.kernel(for: Self.domain)?.isActive == true)
    #expect(!pipeline.isServing(Self.domain))
    #expect(try fixture.published().metadata["active"] == "false")

    func run(_ words: [String]) -> (Int32, String) {
      let captured = CommandLineToolTests.Captured()
      let status = CommandLineTool.main(
        arguments: ["iak-stream"] + words, output: { captured.write($0) },
        errorOutput: { captured.writeError($0) })
      return (status, captured.output + captured.errors)
    }
    let store = ["--checkpoint-dir", fixture.folder + "/store"]
    let (exported, exportOutput) = run(
      ["kernels", "export", "--out", fixture.folder + "/export"] + store)
    #expect(exported == 0, "\(exportOutput)")
    let file = try SafeTensors.read(
      from: fixture.folder + "/export/" + Self.domain + ".safetensors")
    #expect(file.metadata["active"] == "false")
    #expect(file.tensors == pipeline.trainer.kernel(for: Self.domain)?.weightTensors())
    let index = try KernelIndex.read(from: fixture.folder + "/export")
    #expect(index.entries.map(\.domain) == [Self.domain])
    #expect(index.entries.first?.isActive == false)
    #expect(index.entries.first?.file == Self.domain + ".safetensors")
    #expect(index.entries.first?.backboneSHA256 == fixture.backbone.weightsSHA256)
    #expect(index.backboneSHA256 == fixture.backbone.weightsSHA256)

    let (_, list) = run(["kernels", "list"] + store)
    let row = try #require(list.split(separator: "\n").first { $0.hasPrefix(Self.domain) })
    #expect(row.split(separator: " ").dropLast(1).last == "no", "\(row)")
    let (_, show) = run(["kernels", "show", Self.domain] + store)
    #expect(show.contains("deactivated by a drift action: true"), "\(show)")
    #expect(show.contains("serving (published active"))
    #expect(show.contains("guard passed): false"))

    // score applies it neither from the export nor from the snapshot itself.
    let events = fixture.folder + "/score.jsonl"
    try (Fixture.lines(count: 200, invertedCount: 0, seed: 5).joined(separator: "\n") + "\n")
      .write(toFile: events, atomically: true, encoding: .utf8)
    let settings = [
      "backbone.fields=user,item", "backbone.buckets=512", "backbone.hidden=16,8",
      "domain.window=month",
    ].flatMap { ["--set", $0] }
    let snapshot = try #require(
      try SnapshotStore(directory: fixture.folder + "/store", keep: 100, createIfMissing: false)
        .loadNewestValid(expectingBackbone: nil).snapshot)
    for kernels in [
      fixture.folder + "/export", fixture.folder + "/store/\(snapshot.manifest.version)",
    ] {
      let (status, output) = run(
        [
          "score", "--backbone", fixture.folder + "/bb", "--kernels", kernels, "--input", events,
          "--out", fixture.folder + "/scores.jsonl",
        ] + settings)
      #expect(status == 0, "\(output)")
      #expect(
        output.contains("scored 200 impressions (0 through a kernel, 1 kernels loaded, 0 serving)"),
        "\(output)")
    }
  }

  @Test func rollbackWithNoHealthyVersionRetainedResets() throws {
    let fixture = try Fixture()
    try fixture.configuration.apply(override: "drift.on_harm=rollback")
    // No store: nothing to roll back to.
    let pipeline = try Pipeline(
      configuration: fixture.configuration, backbone: fixture.backbone,
      backboneSHA256: fixture.backbone.weightsSHA256, store: nil, publisher: nil,
      alertEmitter: nil, deadLetters: nil, logger: .disabled, metrics: nil)
    let records = Self.records(invertedCount: 1500)
    try pipeline.process(records)
    let index = try #require(
      pipeline.alerts.firstIndex { $0.detector == .harm && $0.transition == .fired })
    let outcome = pipeline.alertOutcomes[index]
    #expect(outcome.requested == .rollback)
    #expect(outcome.taken == .reset)
    #expect(outcome.detail?.contains("no healthy earlier kernel version") == true)
  }

  /// Rewrites what snapshot `version`'s manifest says was firing for the domain.
  static func markFiring(_ detectors: [String], snapshot version: Int, in folder: String) throws {
    let path = "\(folder)/store/\(version)/manifest.json"
    var manifest = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        as? [String: Any])
    var extras = try #require(manifest["extras"] as? [String: String])
    extras[SnapshotView.driftFiringKey] = SnapshotView.encodeMap(
      [domain: JSONValue.array(detectors.map { .string($0) })])
    manifest["extras"] = extras
    try rewrite(manifest, at: path)
  }

  /// Writes a manifest edited by hand, and its checksum to match (as a tool would).
  static func rewrite(_ manifest: [String: Any], at path: String) throws {
    let bytes = try JSONSerialization.data(withJSONObject: manifest)
    try bytes.write(to: URL(fileURLWithPath: path))
    let checksum = (path as NSString).deletingLastPathComponent + "/manifest.sha256"
    try Data(SnapshotManifest.checksumLine(of: [UInt8](bytes))).write(
      to: URL(fileURLWithPath: checksum))
  }

  @Test func rollbackPassesOverUnhealthyAndUnreadableVersions() throws {
    let fixture = try Fixture()
    // Actions are called by hand here; the health of each version is written by hand below.
    try fixture.configuration.apply(override: "drift.on_harm=alert")
    let pipeline = try fixture.makePipeline(alertEmitter: nil)
    let records = Self.records(invertedCount: 0)
    var weights: [Int: [String: Tensor]] = [:]
    for chunk in 0..<3 {
      try pipeline.process(Array(records[(chunk * 100)..<((chunk + 1) * 100)]))
      try pipeline.checkpoint(createdAtMilliseconds: 1)
      weights[chunk + 1] = try fixture.published().tensors
    }
    try pipeline.process(Array(records[300..<340]))
    // Snapshot 3 says harm was firing: version 3 is not a candidate; version 2 is.
    try Self.markFiring([], snapshot: 1, in: fixture.folder)
    try Self.markFiring(["ctr_drift"], snapshot: 2, in: fixture.folder)
    try Self.markFiring(["harm", "logloss_drift"], snapshot: 3, in: fixture.folder)
    var outcome = pipeline.apply(.rollback, to: Self.domain, after: [])
    #expect(outcome.taken == .rollback)
    #expect(outcome.restoredKernelVersion == 2)
    #expect(pipeline.trainer.kernel(for: Self.domain)?.weightTensors() == weights[2])

    // Version 2's snapshot fails its checksum: version 1 is next.
    try pipeline.process(Array(records[340..<380]))
    let payload = fixture.folder + "/store/2/" + SnapshotStore.payloadFileName
    var bytes = try Data(contentsOf: URL(fileURLWithPath: payload))
    bytes[bytes.count - 1] ^= 0xff
    try bytes.write(to: URL(fileURLWithPath: payload))
    outcome = pipeline.apply(.rollback, to: Self.domain, after: [])
    #expect(outcome.restoredKernelVersion == 1)
    #expect(outcome.restoredFromSnapshot == 1)
    #expect(pipeline.trainer.kernel(for: Self.domain)?.weightTensors() == weights[1])

    // A snapshot without the record (older than it) does not count as healthy.
    try pipeline.process(Array(records[380..<420]))
    let path = "\(fixture.folder)/store/1/manifest.json"
    var manifest = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        as? [String: Any])
    var extras = try #require(manifest["extras"] as? [String: String])
    extras[SnapshotView.driftFiringKey] = nil
    manifest["extras"] = extras
    try Self.rewrite(manifest, at: path)
    outcome = pipeline.apply(.rollback, to: Self.domain, after: [])
    #expect(outcome.taken == .reset)
    #expect(pipeline.trainer.kernel(for: Self.domain)?.hasZeroDecoder == true)
  }
}
