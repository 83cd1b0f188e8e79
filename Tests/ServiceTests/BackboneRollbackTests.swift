import Base
import Checkpoint
import Foundation
import Learner
import Stream
import Testing

@testable import Service

/// A rollback (`upgrade --rollback`, `checkpoint.keep_previous_backbone`): a switch keeps the
/// state it leaves, in snapshots and partition states; a switch back resumes it, caught up on
/// each partition's records since, so the kernels end as those of a run that never switched.
@Suite struct BackboneRollbackTests {
  let old = try! Backbone(config: BackboneSwitchTests.config, seed: 3)
  let new = try! Backbone(config: BackboneSwitchTests.config, seed: 4)

  /// Region-keyed records with a switch to the new backbone (each partition's window from its
  /// offset 10 * (partition + 1)) after input position 100, and a rollback to the old one after
  /// position 250.
  func records(switchAfter: [Int] = [100, 101, 102], rollbackAfter: [Int] = [250, 251, 252])
    -> [Record]
  {
    let (oldSHA, newSHA) = (old.weightsSHA256, new.weightsSHA256)
    let placeholder = ControlRecord(switchingTo: newSHA, directory: "/placeholder")
    func with(_ records: [Record], after: [Int], _ make: (Int32) -> ControlRecord) -> [Record] {
      BackboneSwitchTests.withSwitch(records, after: after, to: placeholder).map { record in
        guard record.value == Array(placeholder.jsonLine.utf8) else { return record }
        var copy = record
        copy.value = Array(make(record.partition).jsonLine.utf8)
        return copy
      }
    }
    let switched = with(BackboneSwitchTests.regionKeyedRecords(), after: switchAfter) {
      ControlRecord(
        switchingTo: newSHA, directory: "/shared/new", rebaseFrom: 10 * Int64($0 + 1))
    }
    return with(switched, after: rollbackAfter) { _ in
      ControlRecord(switchingTo: oldSHA, directory: "/shared/old", isRollback: true)
    }
  }

  /// A pipeline that starts on `backbone`, switches between the two, reads `records` again for
  /// re-bases and catch-ups, keeps the state a switch leaves when `keeping`, and writes
  /// snapshots to `folder` when given.
  func pipeline(
    on backbone: Backbone, _ records: [Record], keeping: Bool, folder: String? = nil
  ) throws -> Pipeline {
    var configuration = try HostileInputTests.configuration()
    try configuration.apply(override: "checkpoint.keep_previous_backbone=\(keeping)")
    let pipeline = try Pipeline(
      configuration: configuration, backbone: backbone, backboneSHA256: backbone.weightsSHA256,
      store: try folder.map { try SnapshotStore(directory: $0, keep: 10) }, publisher: nil,
      alertEmitter: nil, deadLetters: nil, logger: .disabled, metrics: nil)
    let (old, new) = (old, new)
    pipeline.backboneDirectory = backbone == old ? "/shared/old" : "/shared/new"
    pipeline.backboneLoader = { $0.backboneSHA256 == new.weightsSHA256 ? new : old }
    pipeline.history = { partition, from, until in
      records.filter { $0.topicPartition == partition && $0.offset >= from && $0.offset < until }
    }
    let read = (0..<3).map { TopicPartition(topic: "events", partition: Int32($0)) }
    pipeline.inputPartitions = { read }
    return pipeline
  }

  /// A pipeline on the old backbone that read the records without the control records.
  func neverSwitched(_ records: [Record]) throws -> Pipeline {
    let plain = try pipeline(on: old, records, keeping: false)
    try plain.process(records.filter { !ControlRecord.isControl($0.value) })
    return plain
  }

  func differences(_ a: Pipeline, _ b: Pipeline) -> [String] {
    (0..<3).flatMap { partition in
      BackboneSwitchTests.partitionDifferences(a, b, Int32(partition)).map { "\(partition): \($0)" }
    }
  }

  @Test func aRollbackEndsAsARunThatNeverSwitched() throws {
    let records = records()
    let rolled = try pipeline(on: old, records, keeping: true)
    let firstRollback = records.firstIndex {
      (try? ControlRecord(parsing: $0.value))?.isRollback == true
    }!
    try rolled.process(Array(records[..<firstRollback]))
    #expect(rolled.backboneSHA256 == new.weightsSHA256)
    #expect(rolled.keptBackbone?.sha256 == old.weightsSHA256)
    #expect(rolled.keptBackbone?.partitions.count == 3)
    try rolled.process(Array(records[firstRollback...]))
    #expect(rolled.backboneSHA256 == old.weightsSHA256)
    #expect(rolled.keptBackbone?.sha256 == new.weightsSHA256, "it keeps the one it left")
    #expect(rolled.counts.records == records.count)
    let plain = try neverSwitched(records)
    #expect(differences(rolled, plain) == [])
    #expect(!rolled.trainer.kernels.isEmpty)
    #expect(rolled.trainer.kernels == plain.trainer.kernels)

    // Without keeping, the kernels start again at the rollback: not those of a run that never
    // switched.
    let restarted = try pipeline(on: old, records, keeping: false)
    try restarted.process(records)
    #expect(restarted.backboneSHA256 == old.weightsSHA256)
    #expect(restarted.keptBackbone == nil)
    #expect(restarted.trainer.kernels != plain.trainer.kernels)
  }

  @Test func theKeptStateGoesThroughASnapshotAndAHandOver() throws {
    let records = records()
    let firstRollback = records.firstIndex {
      (try? ControlRecord(parsing: $0.value))?.isRollback == true
    }!
    let whole = try pipeline(on: old, records, keeping: true)
    try whole.process(records)

    // Stopped between the switch and the rollback, started again from its snapshot.
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-rollback-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let manifest = try {
      let first = try pipeline(on: old, records, keeping: true, folder: folder)
      try first.process(Array(records[..<firstRollback]))
      return try #require(try first.checkpoint(createdAtMilliseconds: 1_000))
    }()
    #expect(manifest.backboneSHA256 == new.weightsSHA256)
    let second = try pipeline(on: new, records, keeping: true, folder: folder)
    let loaded = try #require(
      try second.store!.loadNewestValid(expectingBackbone: new.weightsSHA256).snapshot)
    #expect(
      loaded.payload.tensors.keys.filter { $0.hasPrefix(KeptBackbone.tensorPrefix) }.sorted()
        == (0..<3).map { ".previous/events/\($0)" })
    try second.restore(loaded)
    #expect(second.keptBackbone?.sha256 == old.weightsSHA256)
    try second.process(Array(records[firstRollback...]))
    #expect(
      SafeTensors(tensors: second.stateTensors()).encoded()
        == SafeTensors(tensors: whole.stateTensors()).encoded())

    // A partition state carries its partition's kept state to the member that takes it over.
    let switched = try pipeline(on: old, records, keeping: true)
    try switched.process(Array(records[..<firstRollback]))
    let moving = TopicPartition(topic: "events", partition: 1)
    let state = try #require(switched.partitionState(of: moving, createdAtMilliseconds: 0))
    let kept = try #require(state.tensors[KeptBackbone.partitionTensor])
    #expect(try kept.uint8s() == switched.keptBackbone?.partitions[moving])
    let taker = try pipeline(on: new, records, keeping: true)
    try taker.adopt(try PartitionState(bytes: state.encoded()))
    #expect(taker.keptBackbone?.sha256 == old.weightsSHA256)
    #expect(taker.keptBackbone?.partitions[moving] == switched.keptBackbone?.partitions[moving])
    switched.release(moving)
    #expect(switched.keptBackbone?.partitions[moving] == nil)
  }

  @Test func serveRollsBackAcrossARestartToTheKernelsOfARunThatNeverSwitched() throws {
    let serve = try InProcessServe()
    let oldFolder = serve.folder + "/bb"
    let newFolder = serve.folder + "/bb-new"
    try TestBackbone.pretrain(
      events: serve.folder + "/pretrain.jsonl", out: newFolder,
      arguments: (HostileInputTests.settings + ["backbone.until=", "backbone.seed=2"]).flatMap {
        ["--set", $0]
      })
    let (oldSHA, newSHA) = (
      try Backbone.load(from: oldFolder).weightsSHA256,
      try Backbone.load(from: newFolder).weightsSHA256
    )
    let (cut, back) = (serve.lines.count / 3, 2 * serve.lines.count / 3)
    let lines =
      Array(serve.lines[..<cut])
      + [ControlRecord(switchingTo: newSHA, directory: newFolder, rebaseFrom: 0).jsonLine]
      + Array(serve.lines[cut..<back])
      + [ControlRecord(switchingTo: oldSHA, directory: oldFolder, isRollback: true).jsonLine]
      + Array(serve.lines[back...])
    func write(upTo count: Int) throws {
      try (lines[..<count].joined(separator: "\n") + "\n").write(
        toFile: serve.input, atomically: true, encoding: .utf8)
    }
    let keeping = ["checkpoint.keep_previous_backbone=true"]
    // Stopped between the switch and the rollback: its snapshot keeps the old state.
    try write(upTo: (cut + back) / 2)
    let first = try serve.run(settings: keeping)
    #expect(first.status == 0, "\(first.log.suffix(5))")
    #expect(first.lines(containing: "switched the backbone").count == 1)
    // Started again on the new backbone, it meets the rollback.
    try write(upTo: lines.count)
    let second = try serve.run(settings: keeping)
    #expect(second.status == 0, "\(second.log.suffix(5))")
    #expect(second.lines(containing: "its kept kernels were caught up").count == 1)

    // A replay of the input without the control records, on the old backbone all along.
    let plain = serve.folder + "/plain.jsonl"
    try (serve.lines.joined(separator: "\n") + "\n").write(
      toFile: plain, atomically: true, encoding: .utf8)
    let captured = CommandLineToolTests.Captured()
    let status = CommandLineTool.main(
      arguments: [
        "iak-stream", "replay", "--input", plain, "--backbone", oldFolder,
        "--checkpoint-dir", serve.folder + "/replayed",
      ] + HostileInputTests.settings.flatMap { ["--set", $0] },
      output: { captured.write($0) }, errorOutput: { captured.writeError($0) })
    try #require(status == 0, "\(captured.errors)")
    func newest(_ folder: String) throws -> Snapshot {
      try #require(
        try SnapshotStore(directory: folder, keep: 100, createIfMissing: false).loadNewestValid(
          expectingBackbone: nil
        ).snapshot)
    }
    let served = try newest(serve.store)
    let replayed = try newest(serve.folder + "/replayed")
    #expect(served.manifest.backboneSHA256 == oldSHA)
    // Kernels, batches, evaluation and drift (the counts and offsets differ by the two control
    // records; the snapshot also keeps the new backbone's state, for a rollback of the
    // rollback).
    func learned(_ snapshot: Snapshot) -> [String: Tensor] {
      snapshot.payload.tensors.filter { !$0.key.hasPrefix(".") }
    }
    #expect(!learned(served).isEmpty)
    #expect(learned(served).keys.sorted() == learned(replayed).keys.sorted())
    #expect(
      SafeTensors(tensors: learned(served)).encoded()
        == SafeTensors(tensors: learned(replayed)).encoded())
    #expect(
      served.payload.tensors.keys.contains { $0.hasPrefix(KeptBackbone.tensorPrefix) },
      "it keeps the new backbone's state in turn")
  }

  /// A partition handed over from a member still on the old backbone to one that switched
  /// (it goes on on the old backbone up to its switch record, then keeps that state), and
  /// rolled back later: it ends as in one process.
  @Test func aPartitionTakenOverLateRollsBackAsInOneProcess() throws {
    let records = records(switchAfter: [150, 181, 20], rollbackAfter: [300, 301, 302])
    let whole = try pipeline(on: old, records, keeping: true)
    try whole.process(records)
    #expect(whole.backboneSHA256 == old.weightsSHA256)
    let first = try pipeline(on: old, records, keeping: true)
    let second = try pipeline(on: old, records, keeping: true)
    first.inputPartitions = { [0, 1].map { TopicPartition(topic: "events", partition: $0) } }
    second.inputPartitions = { [TopicPartition(topic: "events", partition: 2)] }
    let moving = TopicPartition(topic: "events", partition: 1)
    var owner: [Int32: Pipeline] = [0: first, 1: first, 2: second]
    for (index, record) in records.enumerated() {
      if index == 155 {
        #expect(first.backboneSHA256 == old.weightsSHA256)
        #expect(second.backboneSHA256 == new.weightsSHA256)
        let state = try #require(first.partitionState(of: moving, createdAtMilliseconds: 0))
        first.release(moving)
        first.inputPartitions = { [TopicPartition(topic: "events", partition: 0)] }
        second.inputPartitions = { [1, 2].map { TopicPartition(topic: "events", partition: $0) } }
        try second.adopt(state)
        owner[1] = second
      }
      try owner[record.partition]!.process([record])
    }
    #expect(second.backboneSHA256 == old.weightsSHA256)
    #expect(second.keptBackbone?.partitions[moving] != nil)
    #expect(BackboneSwitchTests.partitionDifferences(second, whole, 1) == [])
    #expect(BackboneSwitchTests.partitionDifferences(second, whole, 2) == [])
    #expect(BackboneSwitchTests.partitionDifferences(first, whole, 0) == [])
  }
}
