import Base
import Checkpoint
import Foundation
import Learner
import Stream
import Testing

@testable import Service

/// Moving one partition's state between pipelines (what two `serve` processes do through the
/// state topic), checked against one pipeline that reads everything: with region-keyed input
/// the moved partition's domains end bit-identical and nothing is counted twice or lost.
@Suite struct PartitionHandoverTests {
  static let topic = "events"

  /// A backbone and configuration shared by every pipeline of a test.
  final class Fixture {
    let folder: String
    let backbone: Backbone
    var configuration = Configuration()
    /// The events of `ServeFixture`, as records keyed by region onto 3 partitions.
    let records: [Record]

    /// A fixture whose pipelines also run under `extra` settings (pretraining does not).
    init(_ extra: [String] = []) throws {
      folder = try TemporaryFolder.make("iak-handover")
      let lines = ServeFixture.events(impressions: 1200)
      let settings = [
        "backbone.fields=user,item", "backbone.buckets=512", "backbone.hidden=16,8",
        "backbone.until=", "domain.window=every 1d", "train.batch_max=8", "label.wait=1m",
      ]
      for setting in settings { try configuration.apply(override: setting) }
      backbone = try TestBackbone.pretrain(lines: lines, settings: settings, in: folder)
      for setting in extra { try configuration.apply(override: setting) }
      var nextOffset: [Int32: Int64] = [:]
      records = lines.map { line in
        // r0 and r1 on partition 0, r2 and r3 on 1, r4 on 2; the bad lines on 0.
        let digit = line.split(separator: "\"region\":\"r").dropFirst().first?.first
        let partition = Int32(digit.flatMap { Int(String($0)) }.map { min($0 / 2, 2) } ?? 0)
        let offset = nextOffset[partition, default: 0]
        nextOffset[partition] = offset + 1
        return Record(
          topic: PartitionHandoverTests.topic, partition: partition, offset: offset,
          value: Array(line.utf8))
      }
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    func makePipeline(backboneSHA256: String? = nil) throws -> Pipeline {
      try Pipeline(
        configuration: configuration, backbone: backbone,
        backboneSHA256: backboneSHA256 ?? backbone.weightsSHA256, store: nil, publisher: nil,
        alertEmitter: nil, deadLetters: nil, logger: .disabled, metrics: nil)
    }

    func records(of partition: Int32) -> [Record] { records.filter { $0.partition == partition } }
  }

  static func partition(_ number: Int32) -> TopicPartition {
    TopicPartition(topic: topic, partition: number)
  }

  /// The sha256 of every tensor of one lane but the trainer-wide header (whose newest event time
  /// spans every lane a pipeline read), and of the lane's drift state.
  static func laneState(_ pipeline: Pipeline, lane: Int32) -> [String: String] {
    var tensors = pipeline.trainer.stateTensors(ofLane: lane)
    tensors[Trainer.StateTensor.trainer] = nil
    tensors.merge(pipeline.drift.stateTensors(ofDomains: pipeline.trainer.domains(ofLane: lane))) {
      first, _ in first
    }
    return tensors.mapValues { SHA256.hexDigest(of: $0.bytes) }
  }

  /// With each `label.mode`: the delayed-feedback ones move provisional impressions, open
  /// batches holding serving-time records, and click counts.
  @Test(arguments: ["wait", "fake_negative", "es_dfm"])
  func aPartitionMovedMidStreamEndsAsIfOnePipelineReadEverything(mode: String) throws {
    let fixture = try Fixture(["label.mode=\(mode)", "label.window=10s"])
    let whole = try fixture.makePipeline()
    try whole.process(fixture.records)

    let first = try fixture.makePipeline()
    let second = try fixture.makePipeline()
    let moving = fixture.records(of: 1)
    let half = moving.count / 2
    try first.process(fixture.records.filter { $0.partition == 0 } + moving[..<half])
    try second.process(fixture.records(of: 2))
    let movedDomains = first.trainer.domains(ofLane: 1)
    #expect(!movedDomains.isEmpty)

    let state = try #require(
      first.partitionState(of: Self.partition(1), createdAtMilliseconds: 1))
    let received = try PartitionState(bytes: state.encoded())
    #expect(received.nextOffset == moving[half - 1].offset + 1)
    #expect(received.tensors.mapValues(\.bytes) == state.tensors.mapValues(\.bytes))
    try second.adopt(received)
    first.release(Self.partition(1))
    try second.process(Array(moving[half...]))

    #expect(first.trainer.domains(ofLane: 1).isEmpty)
    #expect(first.heldPartitions == [Self.partition(0)])
    #expect(second.heldPartitions == [Self.partition(1), Self.partition(2)])
    for domain in movedDomains { #expect(first.drift.monitor(of: domain) == nil) }
    for lane: Int32 in [0, 1, 2] {
      let owner = lane == 0 ? first : second
      #expect(!whole.trainer.domains(ofLane: lane).isEmpty)
      #expect(owner.trainer.domains(ofLane: lane) == whole.trainer.domains(ofLane: lane))
      #expect(Self.laneState(owner, lane: lane) == Self.laneState(whole, lane: lane))
    }
    #expect(first.counts.records + second.counts.records == whole.counts.records)
    #expect(first.counts.examples + second.counts.examples == whole.counts.examples)
    #expect(first.counts.positives + second.counts.positives == whole.counts.positives)
    #expect(first.counts.rejected + second.counts.rejected == 2)
    #expect(whole.counts.records == fixture.records.count)
    for lane: Int32 in [0, 1, 2] {
      #expect(whole.offsets[Self.partition(lane)] == Int64(fixture.records(of: lane).count))
    }
    #expect(second.offsets[Self.partition(1)] == Int64(moving.count))
  }

  @Test func partitionsOfOneNumberInTwoTopicsMoveApart() throws {
    let fixture = try Fixture()
    try fixture.configuration.apply(override: "input.topics=events,clicks")
    // Partition 1's records go to partition 0 of a second topic: two partitions numbered 0.
    let clicks = TopicPartition(topic: "clicks", partition: 0)
    let records = fixture.records.map { record in
      record.partition != 1
        ? record
        : Record(topic: clicks.topic, partition: 0, offset: record.offset, value: record.value)
    }
    let lanes = try InputLanes(topics: ["events", "clicks"])
    let events = Self.partition(0)
    #expect(lanes.lane(of: clicks) != lanes.lane(of: events))
    let whole = try fixture.makePipeline()
    try whole.process(records)

    let first = try fixture.makePipeline()
    let second = try fixture.makePipeline()
    let moving = records.filter { $0.topicPartition == clicks }
    let half = moving.count / 2
    try first.process(records.filter { $0.topicPartition == events } + moving[..<half])
    try second.process(records.filter { $0.partition == 2 })
    let state = try #require(first.partitionState(of: clicks, createdAtMilliseconds: 1))
    try second.adopt(try PartitionState(bytes: state.encoded()))
    first.release(clicks)
    try second.process(Array(moving[half...]))

    #expect(first.heldPartitions == [events])
    #expect(second.heldPartitions == [clicks, Self.partition(2)])
    for partition in [events, clicks, Self.partition(2)] {
      let lane = lanes.lane(of: partition)
      let owner = partition == events ? first : second
      #expect(!whole.trainer.domains(ofLane: lane).isEmpty)
      #expect(owner.trainer.domains(ofLane: lane) == whole.trainer.domains(ofLane: lane))
      #expect(Self.laneState(owner, lane: lane) == Self.laneState(whole, lane: lane))
    }
    #expect(first.counts.examples + second.counts.examples == whole.counts.examples)
    #expect(second.offsets[clicks] == Int64(moving.count))
  }

  @Test func onlyPartitionsThatMovedOnAreHandedOverAgain() throws {
    let fixture = try Fixture()
    let pipeline = try fixture.makePipeline()
    try pipeline.process(Array(fixture.records.prefix(600)))
    let changed = pipeline.changedPartitions()
    #expect(changed == pipeline.heldPartitions)
    #expect(changed.count == 3)
    // Only the partitions asked for (those owned) are named.
    let owned: Set = [Self.partition(0), Self.partition(2)]
    #expect(pipeline.changedPartitions(of: owned) == [Self.partition(0), Self.partition(2)])
    for partition in changed {
      pipeline.markHandedOver(
        try #require(pipeline.partitionState(of: partition, createdAtMilliseconds: 5)))
    }
    #expect(pipeline.changedPartitions().isEmpty)
    try pipeline.process(fixture.records.dropFirst(600).filter { $0.partition == 2 })
    #expect(pipeline.changedPartitions() == [Self.partition(2)])
  }

  @Test func stateFromAnotherBackboneOrConfigurationIsRefusedAndChangesNothing() throws {
    let fixture = try Fixture()
    let source = try fixture.makePipeline(backboneSHA256: String(repeating: "0", count: 64))
    try source.process(fixture.records(of: 1))
    let state = try #require(
      source.partitionState(of: Self.partition(1), createdAtMilliseconds: 1))
    let target = try fixture.makePipeline()
    let backboneRefusal = #expect(throws: ServiceError.self) { try target.adopt(state) }
    #expect(backboneRefusal?.code == .stateMismatch)
    #expect(target.heldPartitions.isEmpty)
    #expect(target.trainer.domains.isEmpty)

    var otherConfiguration = fixture.configuration
    try otherConfiguration.apply(override: "train.learning_rate=0.5")
    let other = try Pipeline(
      configuration: otherConfiguration, backbone: fixture.backbone,
      backboneSHA256: fixture.backbone.weightsSHA256, store: nil, publisher: nil,
      alertEmitter: nil, deadLetters: nil, logger: .disabled, metrics: nil)
    try other.process(fixture.records(of: 1))
    let foreign = try #require(
      other.partitionState(of: Self.partition(1), createdAtMilliseconds: 1))
    let settingsRefusal = #expect(throws: ServiceError.self) { try target.adopt(foreign) }
    #expect(settingsRefusal?.code == .stateMismatch)
    #expect(target.trainer.domains.isEmpty)
  }

  @Test func bytesThatAreNotAPartitionStateAreRefusedWithTheReason() throws {
    let notSafeTensors = #expect(throws: ServiceError.self) {
      try PartitionState(bytes: Array("nope".utf8))
    }
    #expect(notSafeTensors?.code == .stateUnreadable)
    let wrongFormat = SafeTensors(metadata: ["format": "something-else"]).encoded()
    let error = try #require(throws: ServiceError.self) {
      try PartitionState(bytes: wrongFormat)
    }
    #expect(error.code == .stateUnreadable)
    #expect(error.description.contains("something-else"))
  }
}
