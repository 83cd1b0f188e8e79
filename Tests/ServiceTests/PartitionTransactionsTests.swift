import Base
import Checkpoint
import Foundation
import Learner
import Observability
import Stream
import Synchronization
import Testing

@testable import Service

/// A checkpoint's per-partition Kafka transactions through a mock cluster: what a committed
/// transaction wrote is on the topics, a refused commit (a newer owner fenced the producer)
/// leaves nothing visible to `read_committed` readers, counts an abort, and the next run opens a
/// new producer (after any abort).
///
/// librdkafka 2.0.2's mock cluster neither fences a producer when another registers the same
/// `transactional.id` nor hides aborted records from `read_committed` readers (checked with a
/// small C program against it), so the refusal is injected as the broker's PRODUCER_FENCED
/// answer, and that aborted records stay hidden cannot be checked here. A pipeline's
/// checkpoint puts each partition's kernels and state in that partition's transaction.
@Suite struct PartitionTransactionsTests {
  final class Fixture {
    let cluster: MockKafkaCluster
    let kafka: KafkaConfiguration
    let metrics = MetricsRegistry()
    let transactions: PartitionTransactions
    /// A folder of the test's own for a snapshot store, removed with the fixture.
    let folder =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-txn-\(UUID().uuidString)").path

    init() throws {
      cluster = try MockKafkaCluster.make()
      for topic in ["kernels", "alerts"] { try cluster.createTopic(topic, partitions: 1) }
      kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
      transactions = PartitionTransactions(
        configuration: kafka, group: "g", logger: .disabled, metrics: metrics,
        timeout: .seconds(10))
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    func values(of topic: String) throws -> [String] {
      try KafkaTopicReader.readAll(topic, configuration: kafka, timeout: .seconds(10)).map {
        String(decoding: $0.value, as: UTF8.self)
      }
    }

    func send(_ text: String, to topic: String, via producer: KafkaProducer) throws {
      try producer.send(OutgoingRecord(topic: topic, key: Array("k".utf8), value: Array(text.utf8)))
      { _ in }
    }
  }

  static let partition = TopicPartition(topic: "events", partition: 3)

  @Test func theTransactionalIDNamesTheGroupTopicAndPartition() throws {
    let fixture = try Fixture()
    #expect(fixture.transactions.transactionalID(of: Self.partition) == "iak-stream/g/events/3")
  }

  @Test func aTransactionsProducerSendsAtOnceUnlessTheConfigurationSetsALinger() throws {
    let fixture = try Fixture()
    defer { fixture.transactions.closeAll() }
    var linger: String?
    try fixture.transactions.run(Self.partition) { linger = $0.effectiveSetting("linger.ms") }
    #expect(linger == "0")
    for key in ["linger.ms", "queue.buffering.max.ms"] {
      let configured = PartitionTransactions(
        configuration: fixture.kafka.setting(key, "20"), group: "g", logger: .disabled,
        metrics: nil, timeout: .seconds(10))
      defer { configured.closeAll() }
      try configured.run(Self.partition) { linger = $0.effectiveSetting("linger.ms") }
      #expect(linger == "20", "\(key)")
    }
  }

  @Test func aCommittedTransactionsRecordsAreOnTheTopics() throws {
    let fixture = try Fixture()
    defer { fixture.transactions.closeAll() }
    try fixture.transactions.open(Self.partition)
    try fixture.transactions.run(Self.partition) { producer in
      try fixture.send("kernel 1", to: "kernels", via: producer)
      try fixture.send("alert 1", to: "alerts", via: producer)
    }
    try fixture.transactions.run(Self.partition) { producer in
      try fixture.send("kernel 2", to: "kernels", via: producer)
    }
    #expect(try fixture.values(of: "kernels") == ["kernel 1", "kernel 2"])
    #expect(try fixture.values(of: "alerts") == ["alert 1"])
    let rendered = fixture.metrics.render()
    #expect(rendered.contains("iak_transactions_committed_total 2\n"), "\(rendered)")
    #expect(rendered.contains("iak_transactions_aborted_total 0\n"), "\(rendered)")
  }

  @Test func aFencedCommitThrowsAndTheNextRunOpensANewProducer() throws {
    let fixture = try Fixture()
    defer { fixture.transactions.closeAll() }
    try fixture.transactions.open(Self.partition)
    try fixture.transactions.run(Self.partition) { producer in
      try fixture.send("before", to: "kernels", via: producer)
    }
    // The broker refuses the next commit as it would once a newer owner registered.
    fixture.cluster.pushRequestErrors(.endTxn, [.producerFenced])
    var thrown: Error?
    do {
      try fixture.transactions.run(Self.partition) { producer in
        try fixture.send("fenced", to: "kernels", via: producer)
      }
    } catch {
      thrown = error
    }
    let error = try #require(thrown)
    #expect("\(error)".contains("PRODUCER_FENCED") || "\(error)".contains("fenced"), "\(error)")
    #expect(fixture.metrics.render().contains("iak_transactions_aborted_total 1\n"))
    // A new producer (a new registration) writes again.
    try fixture.transactions.run(Self.partition) { producer in
      try fixture.send("after", to: "kernels", via: producer)
    }
    let values = try fixture.values(of: "kernels")
    #expect(values.first == "before" && values.last == "after", "\(values)")
  }

  @Test func aBodyThatThrowsAbortsTheTransaction() throws {
    let fixture = try Fixture()
    defer { fixture.transactions.closeAll() }
    struct Refused: Error {}
    var aborting: KafkaProducer?
    #expect(throws: Refused.self) {
      try fixture.transactions.run(Self.partition) { producer in
        aborting = producer
        try fixture.send("never", to: "alerts", via: producer)
        throw Refused()
      }
    }
    #expect(fixture.metrics.render().contains("iak_transactions_aborted_total 1\n"))
    // A new producer (a new epoch) goes on with the next transaction.
    try fixture.transactions.run(Self.partition) { producer in
      #expect(producer !== aborting)
      try fixture.send("next", to: "alerts", via: producer)
    }
    #expect(fixture.metrics.render().contains("iak_transactions_committed_total 1\n"))
  }

  @Test func aCheckpointWritesEachPartitionsKernelsAndStateInItsOwnTransaction() throws {
    let fixture = try Fixture()
    defer { fixture.transactions.closeAll() }
    try fixture.cluster.createTopic("iak-state", partitions: 1)
    let (pipeline, shared) = try Self.twoPartitionPipeline(
      fixture, store: try SnapshotStore(directory: fixture.folder, keep: 2))
    let stateTopic = try PartitionStateTopic(
      topic: "iak-state", group: "g", producer: shared, configuration: fixture.kafka,
      logger: .disabled, metrics: nil)
    var written: [Int32: [String]] = [:]
    var states: [Int32: Int64] = [:]
    let owned: Set<TopicPartition> = [
      TopicPartition(topic: "events", partition: 0), TopicPartition(topic: "events", partition: 1),
    ]
    let handOver = Pipeline.HandOver(
      partitions: owned,
      transactional: Pipeline.HandOver.Transactional(
        run: { partition, body in
          let before = try fixture.values(of: "kernels").count
          try fixture.transactions.run(partition, body)
          let keys = try KafkaTopicReader.readAll(
            "kernels", configuration: fixture.kafka, timeout: .seconds(10)
          ).dropFirst(before).map { String(decoding: $0.key ?? [], as: UTF8.self) }
          written[partition.partition] = keys
        },
        writeState: { state, producer in
          try stateTopic.write(encoded: [state], via: producer)
          states[state.partition.partition] = state.nextOffset
        })
    ) { _ in
      Issue.record("the shared producer wrote a partition state")
      return false
    }
    try pipeline.checkpoint(createdAtMilliseconds: 1, handOver: handOver)
    let east = try #require(pipeline.trainer.domains.first { $0.hasSuffix("/east") })
    let west = try #require(pipeline.trainer.domains.first { $0.hasSuffix("/west") })
    #expect(written[0] == [east], "\(written)")
    #expect(written[1] == [west], "\(written)")
    // Offsets 0-23, even ones (east) on partition 0 and odd ones on 1.
    #expect(states == [0: 23, 1: 24], "\(states)")
    #expect(fixture.metrics.render().contains("iak_transactions_committed_total 2\n"))
    #expect(pipeline.book.undelivered.isEmpty)
  }

  /// A pipeline publishing through the fixture's cluster, with 24 records trained: east's on
  /// partition 0, west's on partition 1. Returns it and its shared producer.
  static func twoPartitionPipeline(
    _ fixture: Fixture, store: SnapshotStore, settings: [String] = []
  ) throws -> (Pipeline, KafkaProducer) {
    var configuration = Configuration()
    for setting in DomainRetirementTests.settings + ["domain.max_domains=100"] + settings {
      try configuration.apply(override: setting)
    }
    let backbone = try Backbone(
      config: BackboneConfig(
        fields: ["user", "item"], buckets: 512, embeddingDim: 16, hiddenSizes: [16, 8]),
      seed: 3)
    let shared = try KafkaProducer.make(configuration: fixture.kafka)
    let pipeline = try Pipeline(
      configuration: configuration, backbone: backbone, backboneSHA256: "bb",
      store: store,
      publisher: KernelPublisher(
        producer: shared, topic: "kernels", folder: nil, backboneSHA256: "bb",
        kernelConfig: try configuration.kernelConfig(), logger: .disabled, metrics: nil),
      alertEmitter: nil, deadLetters: nil, logger: .disabled, metrics: nil)
    // East on partition 0, west on partition 1.
    let records = DomainRetirementTests.records(day: 0, firstOffset: 0).map { record in
      var moved = record
      let isWest = String(decoding: record.value, as: UTF8.self).contains("west")
      moved.partition = isWest ? 1 : 0
      return moved
    }
    try pipeline.process(records)
    return (pipeline, shared)
  }

  /// With or without `checkpoint.write_alongside` (the snapshot written on a thread of its own
  /// while the transactions' states are encoded): no transaction begins before the snapshot is
  /// on disk, each state carries the kernel versions that snapshot numbers, and a write that
  /// fails runs no transaction and numbers nothing (the next checkpoint numbers from where the
  /// book was).
  @Test(arguments: [false, true])
  func transactionsBeginOnceTheSnapshotIsOnDiskAndCarryTheVersionsItNumbers(alongside: Bool)
    throws
  {
    let fixture = try Fixture()
    defer { fixture.transactions.closeAll() }
    try fixture.cluster.createTopic("iak-state", partitions: 1)
    // The store's writes fail with ENOSPC while `full`, and note the threads that wrote.
    let full = Mutex(true)
    let writers = Mutex<Set<String>>([])
    let store = try SnapshotStore(
      directory: fixture.folder, keep: 2,
      faults: StorageFaults { stage, _ in
        guard stage == .write else { return nil }
        writers.withLock { _ = $0.insert(currentThreadName() ?? "unnamed") }
        return full.withLock { $0 } ? ENOSPC : nil
      })
    let (pipeline, shared) = try Self.twoPartitionPipeline(
      fixture, store: store, settings: ["checkpoint.write_alongside=\(alongside)"])
    #expect(pipeline.configuration.settings.checkpoint.writesAlongside == alongside)
    let stateTopic = try PartitionStateTopic(
      topic: "iak-state", group: "g", producer: shared, configuration: fixture.kafka,
      logger: .disabled, metrics: nil)
    let owned: Set<TopicPartition> = [
      TopicPartition(topic: "events", partition: 0), TopicPartition(topic: "events", partition: 1),
    ]
    // Each transaction notes the newest snapshot on disk as it begins (two run side by side).
    let begun = Mutex<[Int32: Int?]>([:])
    let handOver = Pipeline.HandOver(
      partitions: owned,
      transactional: Pipeline.HandOver.Transactional(
        run: { partition, body in
          let newest = try store.loadNewestValid(expectingBackbone: "bb").snapshot?.version
          begun.withLock { $0[partition.partition] = newest }
          try fixture.transactions.run(partition, body)
        },
        writeState: { state, producer in try stateTopic.write(encoded: [state], via: producer) },
        width: 2)
    ) { _ in
      Issue.record("the shared producer wrote a partition state")
      return false
    }
    let bookBefore = pipeline.book
    #expect(throws: SnapshotStoreError.self) {
      try pipeline.checkpoint(createdAtMilliseconds: 1, handOver: handOver)
    }
    #expect(begun.withLock { $0.isEmpty })
    #expect(pipeline.book == bookBefore)
    full.withLock { $0 = false }
    let manifest = try #require(
      try pipeline.checkpoint(createdAtMilliseconds: 2, handOver: handOver))
    // (The store numbered the failed write too: the versions of the snapshots go on from it.)
    #expect(begun.withLock { $0 } == [0: manifest.version, 1: manifest.version])
    let stored = try #require(try store.loadNewestValid(expectingBackbone: "bb").snapshot)
    let versions = SnapshotView.kernelVersions(in: stored.manifest)
    #expect(versions.count == 2 && versions.values.allSatisfy { $0 == 1 }, "\(versions)")
    for partition in owned {
      let state = try #require(try stateTopic.newestState(of: partition))
      let domains = pipeline.domains(of: partition)
      #expect(domains.count == 1)
      for domain in domains { #expect(state.book.kernelVersions[domain] == 1, "\(domain)") }
    }
    #expect(pipeline.book.kernelVersions == versions)
    #expect(pipeline.book.undelivered.isEmpty)
    // Alongside, the snapshot's files are written by the checkpoint's own thread.
    let caller = currentThreadName() ?? "unnamed"
    #expect(writers.withLock { $0 } == [alongside ? "iak-ckpt-write" : caller])
  }

  /// A partition's state whose domains' tensors are taken out of the snapshot's
  /// (`SnapshotTensors`, as a checkpoint's transactions do) is the state built from the
  /// pipeline, tensor for tensor and byte for byte, for each partition; its domains' tensors are
  /// then gone from the snapshot's.
  @Test func aPartitionsStateFromTheSnapshotsTensorsIsTheOneBuiltAgain() throws {
    let fixture = try Fixture()
    let (pipeline, _) = try Self.twoPartitionPipeline(
      fixture, store: try SnapshotStore(directory: fixture.folder, keep: 2))
    let snapshot = SnapshotTensors(
      pipeline.stateTensors(), domains: Set(pipeline.trainer.domains))
    for partition in [0, 1].map({ TopicPartition(topic: "events", partition: $0) }) {
      let built = try #require(pipeline.partitionState(of: partition, createdAtMilliseconds: 5))
      let taken = try #require(
        pipeline.partitionState(
          of: partition, createdAtMilliseconds: 5, withKept: true, taking: snapshot))
      // The domain's kernel, batches, meters and drift detectors, and the lane's own tensors.
      let domain = try #require(pipeline.domains(of: partition).first)
      #expect(built.tensors.keys.contains("\(domain)/drift.counters"))
      #expect(built.tensors.keys.contains("\(domain)/pending"))
      #expect(taken.tensors == built.tensors)
      #expect(EncodedPartitionState(taken).bytes == EncodedPartitionState(built).bytes)
      var again: [String: Tensor] = [:]
      snapshot.take([domain], into: &again)
      #expect(again.isEmpty)
    }
  }

  /// `SnapshotTensors` gives each domain the names under it, also when one domain's name is
  /// another's followed by a slash; names of no domain are never taken.
  @Test func snapshotTensorsTakeEachDomainsNamesOnce() {
    let tensor = Tensor(int64s: [1], shape: [1])
    let names = ["a/x", "a/b/x", "a/b/y.z", "a/b/y/w", "c/d/e", ".trainer/state", "z/x", "a/b"]
    let snapshot = SnapshotTensors(
      Dictionary(uniqueKeysWithValues: names.map { ($0, tensor) }), domains: ["a", "a/b", "c/d"])
    var taken: [String: Tensor] = [:]
    snapshot.take(["a/b"], into: &taken)
    #expect(Set(taken.keys) == ["a/b/x", "a/b/y.z", "a/b/y/w"])
    taken = [:]
    snapshot.take(["a", "c/d", "z"], into: &taken)
    #expect(Set(taken.keys) == ["a/x", "a/b", "c/d/e"])
    taken = [:]
    snapshot.take(["a", "a/b", "c/d", ".trainer", "z"], into: &taken)
    #expect(taken.isEmpty)
  }
}
