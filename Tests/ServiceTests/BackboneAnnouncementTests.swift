import Base
import Checkpoint
import Foundation
import Learner
import Stream
import Testing

@testable import Service

/// The kernels topic around a backbone switch (docs/FORMAT.md, "During a backbone upgrade"):
/// while a switch is announced, every checkpoint publishes the re-based kernels that changed
/// under `<domain>@<sha12>`; the first checkpoint after the switch announces it (`.backbone`),
/// and a snapshot keeps an announcement not yet made.
@Suite struct BackboneAnnouncementTests {
  let old = try! Backbone(config: BackboneSwitchTests.config, seed: 3)
  let new = try! Backbone(config: BackboneSwitchTests.config, seed: 4)

  @Test func anAnnouncementReadsBackFromItsLine() throws {
    let announcement = BackboneAnnouncement(
      backboneSHA256: String(repeating: "ab", count: 32), backboneDirectory: "/shared/new",
      previousBackboneSHA256: String(repeating: "cd", count: 32),
      switchedAt: [
        TopicPartition(topic: "events", partition: 1): 1187,
        TopicPartition(topic: "events", partition: 0): 1200,
      ], snapshotVersion: 42, createdAtMilliseconds: 1_700_000_000_000)
    #expect(
      announcement.jsonLine
        == #"{"format":"iak-backbone/1","backbone_sha256":"\#(announcement.backboneSHA256)","#
        + #""backbone_dir":"/shared/new","previous_backbone_sha256":"#
        + #""\#(announcement.previousBackboneSHA256)","switched_at":{"events/0":1200,"#
        + #""events/1":1187},"snapshot_version":42,"created_at_ms":1700000000000}"#)
    #expect(BackboneAnnouncement(parsing: Array(announcement.jsonLine.utf8)) == announcement)
    #expect(BackboneAnnouncement(parsing: Array(#"{"format":"iak-backbone/2"}"#.utf8)) == nil)
  }

  /// Region-keyed records, announced after input position 60 and switched after 300, each
  /// partition's window from its offset 10 * (partition + 1).
  func records() -> [Record] {
    let sha = new.weightsSHA256
    func with(_ records: [Record], after: [Int], _ action: ControlRecord.Action) -> [Record] {
      BackboneSwitchTests.withSwitch(
        records, after: after, to: ControlRecord(switchingTo: sha, directory: "/shared/new")
      ).map { record in
        guard ControlRecord.isControl(record.value),
          (try? ControlRecord(parsing: record.value))?.rebaseFrom == nil
        else { return record }
        var copy = record
        copy.value = Array(
          ControlRecord(
            switchingTo: sha, directory: "/shared/new",
            rebaseFrom: 10 * Int64(record.partition + 1), action: action
          ).jsonLine.utf8)
        return copy
      }
    }
    let announced = with(
      BackboneSwitchTests.regionKeyedRecords(), after: [60, 61, 62], .backbonePrepare)
    return with(announced, after: [300, 301, 302], .backboneSwitch)
  }

  /// A pipeline on the old backbone ("old") that re-bases in the background, with a snapshot
  /// store in `folder` and, when `kafka` is given, a publisher to its `kernels` topic.
  func pipeline(_ records: [Record], folder: String, kafka: KafkaConfiguration?) throws
    -> Pipeline
  {
    let configuration = try HostileInputTests.configuration()
    let publisher = try kafka.map {
      KernelPublisher(
        producer: try KafkaProducer.make(configuration: $0), topic: "kernels", folder: nil,
        backboneSHA256: "old", kernelConfig: try configuration.kernelConfig(),
        logger: .disabled, metrics: nil)
    }
    let pipeline = try Pipeline(
      configuration: configuration, backbone: old, backboneSHA256: "old",
      store: try SnapshotStore(directory: folder, keep: 10), publisher: publisher,
      alertEmitter: nil, deadLetters: nil, logger: .disabled, metrics: nil)
    let new = new
    pipeline.backboneLoader = { _ in new }
    pipeline.history = { partition, from, until in
      records.filter { $0.topicPartition == partition && $0.offset >= from && $0.offset < until }
    }
    let read = (0..<3).map { TopicPartition(topic: "events", partition: Int32($0)) }
    pipeline.inputPartitions = { read }
    pipeline.rebasesInBackground = true
    return pipeline
  }

  static func folder() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent(
      "iak-announce-\(UUID().uuidString)"
    ).path
  }

  static func waitUntilCaughtUp(_ pipeline: Pipeline) async throws {
    let rebase = try #require(pipeline.backgroundRebase)
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline && !rebase.isCaughtUp {
      try await Task.sleep(for: .milliseconds(20))
    }
    try #require(rebase.isCaughtUp)
  }

  @Test func reBasedKernelsGoOutAheadAndTheSwitchIsAnnouncedOnce() async throws {
    let records = records()
    let firstSwitch = records.firstIndex {
      (try? ControlRecord(parsing: $0.value))?.action == .backboneSwitch
    }!
    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("kernels", partitions: 2)
    let kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
    let folder = Self.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let pipeline = try pipeline(records, folder: folder, kafka: kafka)
    let prepareRecord = try #require(
      records.firstIndex { (try? ControlRecord(parsing: $0.value))?.action == .backbonePrepare })
    let before = Array(records[..<firstSwitch])
    // Up to a little after the announcement first: then the rest before the switch records.
    let early = prepareRecord + 30
    try pipeline.process(Array(before[..<early]))
    try await Self.waitUntilCaughtUp(pipeline)
    let rebaseID = try #require(pipeline.backgroundRebase?.id)
    try pipeline.checkpoint(createdAtMilliseconds: 500)
    let firstAhead = try KafkaTopicReader.readAll("kernels", configuration: kafka)
      .filter { String(decoding: $0.key ?? [], as: UTF8.self).contains("@") }
    #expect(!firstAhead.isEmpty)
    #expect(firstAhead.allSatisfy { $0.header(named: "iak-version") == Array("1".utf8) })
    try pipeline.process(Array(before[early...]))
    try await Self.waitUntilCaughtUp(pipeline)
    try pipeline.checkpoint(createdAtMilliseconds: 1_000)

    // What went out ahead is what a pipeline on the new backbone holds after reading each
    // partition's window up to the live position, each domain's first in this re-base.
    let reference = try BackboneSwitchTests.pipeline(new, sha: new.weightsSHA256)
    for partition in Int32(0)..<3 {
      try reference.process(
        before.filter {
          $0.partition == partition && $0.offset >= 10 * Int64(partition + 1)
            && !ControlRecord.isControl($0.value)
        })
    }
    let expected = reference.trainer.kernels.filter { $0.value.stepCount > 0 }
    try #require(!expected.isEmpty)
    func isAhead(_ record: Record) -> Bool {
      String(decoding: record.key ?? [], as: UTF8.self).contains("@")
    }
    var topic = try KafkaTopicReader.readAll("kernels", configuration: kafka)
    // The old backbone's live kernels under their domains, the re-based ones beside them.
    #expect(
      topic.filter { !isAhead($0) }.allSatisfy {
        (try? SafeTensors.decode($0.value))?.metadata["backbone_sha256"] == "old"
      })
    let newest = KafkaTopicReader.latestByKey(topic.filter(isAhead))
    #expect(newest.count == expected.count)
    var published = 0
    for (domain, kernel) in expected {
      let key = KernelPublisher.aheadKey(domain, backboneSHA256: new.weightsSHA256)
      #expect(key == domain + "@" + new.weightsSHA256.prefix(12))
      let record = try #require(newest[Array(key.utf8)], "\(key)")
      let file = try SafeTensors.decode(record.value)
      #expect(file.tensors == kernel.weightTensors())
      #expect(file.metadata["backbone_sha256"] == new.weightsSHA256)
      // Numbered on within the re-base: 2 when it changed since the first checkpoint.
      let first = firstAhead.first { $0.key == Array(key.utf8) }
      let unchanged = try first.map { try SafeTensors.decode($0.value).tensors } == file.tensors
      let version = unchanged ? "1" : first == nil ? "1" : "2"
      if !unchanged && first != nil { published += 1 }
      #expect(file.metadata["kernel_version"] == version)
      #expect(record.header(named: "iak-version") == Array(version.utf8))
      #expect(record.header(named: "iak-rebase") == Array(rebaseID.utf8))
      #expect(file.metadata["active"] == (reference.isServing(domain) ? "true" : "false"))
    }
    #expect(published > 0, "some kernel changed between the two checkpoints")
    // Nothing changed since: the next checkpoint sends nothing ahead again.
    try pipeline.checkpoint(createdAtMilliseconds: 1_500)
    #expect(try KafkaTopicReader.readAll("kernels", configuration: kafka).count == topic.count)

    try pipeline.process(Array(records[firstSwitch...]))
    try await BackboneSwitchTests.waitForTheSwitch(pipeline, to: new.weightsSHA256)
    let manifest = try #require(try pipeline.checkpoint(createdAtMilliseconds: 2_000))
    try pipeline.checkpoint(createdAtMilliseconds: 3_000)
    topic = try KafkaTopicReader.readAll("kernels", configuration: kafka)
    let announced = topic.filter { $0.key == Array(KernelPublisher.announcementKey.utf8) }
    #expect(announced.count == 1, "announced once")
    let announcement = try #require(
      announced.first.flatMap { BackboneAnnouncement(parsing: $0.value) })
    let switchRecords = records.filter {
      (try? ControlRecord(parsing: $0.value))?.action == .backboneSwitch
    }
    #expect(
      announcement
        == BackboneAnnouncement(
          backboneSHA256: new.weightsSHA256, backboneDirectory: "/shared/new",
          previousBackboneSHA256: "old",
          switchedAt: Dictionary(
            uniqueKeysWithValues: switchRecords.map { ($0.topicPartition, $0.offset) }),
          snapshotVersion: manifest.version, createdAtMilliseconds: 2_000))
    // After the switch, plain keys carry the new backbone's kernels.
    let plain = topic.filter {
      let key = String(decoding: $0.key ?? [], as: UTF8.self)
      return !key.contains("@") && !key.hasPrefix(".") && $0.timestampMs ?? 0 >= 2_000
    }
    #expect(!plain.isEmpty)
    for record in plain {
      #expect(try SafeTensors.decode(record.value).metadata["backbone_sha256"] == new.weightsSHA256)
    }
  }

  @Test func aSnapshotKeepsAnAnnouncementNotYetMade() throws {
    let records = records()
    let folder = Self.folder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    // No topic: the switch cannot be announced, and the snapshot keeps it.
    let manifest = try {
      let first = try pipeline(records, folder: folder, kafka: nil)
      first.rebasesInBackground = false
      try first.process(records)
      return try #require(try first.checkpoint(createdAtMilliseconds: 2_000))
    }()
    let switchRecords = records.filter {
      (try? ControlRecord(parsing: $0.value))?.action == .backboneSwitch
    }
    #expect(
      Pipeline.decodeSwitchedAt(manifest.extras[Pipeline.unannouncedSwitchKey] ?? "")
        == Dictionary(
          uniqueKeysWithValues: switchRecords.map { ($0.topicPartition, $0.offset) }))

    // A start from that snapshot with a topic announces it at its first checkpoint.
    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("kernels", partitions: 1)
    let kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
    let second = try Pipeline(
      configuration: try HostileInputTests.configuration(), backbone: new,
      backboneSHA256: new.weightsSHA256,
      store: try SnapshotStore(directory: folder, keep: 10),
      publisher: KernelPublisher(
        producer: try KafkaProducer.make(configuration: kafka), topic: "kernels", folder: nil,
        backboneSHA256: new.weightsSHA256,
        kernelConfig: try HostileInputTests.configuration().kernelConfig(), logger: .disabled,
        metrics: nil),
      alertEmitter: nil, deadLetters: nil, logger: .disabled, metrics: nil)
    let loaded = try #require(
      try second.store!.loadNewestValid(expectingBackbone: new.weightsSHA256).snapshot)
    try second.restore(loaded)
    try second.checkpoint(createdAtMilliseconds: 3_000)
    let topic = try KafkaTopicReader.readAll("kernels", configuration: kafka)
    let announcement = try #require(
      topic.first { $0.key == Array(KernelPublisher.announcementKey.utf8) }
        .flatMap { BackboneAnnouncement(parsing: $0.value) })
    #expect(announcement.previousBackboneSHA256 == "old")
    #expect(announcement.switchedAt.count == 3)
    // Delivered: the snapshot after it keeps none.
    let after = try #require(try second.checkpoint(createdAtMilliseconds: 4_000))
    #expect(after.extras[Pipeline.unannouncedSwitchKey] == nil)
  }
}
