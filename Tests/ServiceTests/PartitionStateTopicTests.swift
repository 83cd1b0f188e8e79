import Base
import Checkpoint
import Foundation
import Stream
import Testing

@testable import Service

/// The state topic through a mock cluster: states larger than a record go in chunks and read
/// back byte for byte, a new write deletes the chunks of the one before it (also those another
/// process wrote), and a head whose chunks are gone is refused with the reason.
@Suite struct PartitionStateTopicTests {
  /// A cluster with a 2-partition state topic and a producer on it.
  final class Fixture {
    let cluster: MockKafkaCluster
    let kafka: KafkaConfiguration
    let producer: KafkaProducer

    init() throws {
      cluster = try MockKafkaCluster.make()
      try cluster.createTopic("iak-state", partitions: 2)
      kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
      producer = try KafkaProducer.make(configuration: kafka)
    }

    /// A state topic as one process sees it, with chunks of at most 4096 bytes.
    func stateTopic() throws -> PartitionStateTopic {
      try PartitionStateTopic(
        topic: "iak-state", group: "g", producer: producer, configuration: kafka,
        logger: .disabled, metrics: nil, chunkBytes: 4096)
    }

    /// Every record on the state topic, in order.
    func records() throws -> [Record] {
      try KafkaTopicReader.readAll("iak-state", configuration: kafka, timeout: .seconds(10))
    }
  }

  /// A state of partition `number` of `events` whose one tensor has `values` seeded floats.
  static func state(partition number: Int32, offset: Int64, values: Int, seed: UInt64)
    -> PartitionState
  {
    var random = SplitMix64(seed: seed)
    let floats = (0..<values).map { _ in Float(random.next() % 1_000_000) / 1e6 }
    return PartitionState(
      partition: TopicPartition(topic: "events", partition: number), nextOffset: offset,
      tensors: ["d/lane": Tensor(floats: floats, shape: [values])],
      book: Self.book, backboneSHA256: "bb", trainingDigest: "digest", createdAtMilliseconds: offset
    )
  }

  /// A book with one domain at version 3 of step 40.
  static var book: DomainBook {
    var book = DomainBook()
    book.kernelVersions = ["d": 3]
    book.publishedSteps = ["d": 40]
    return book
  }

  /// The chunk keys of `partition` whose newest record is not a tombstone.
  static func liveChunkKeys(of partition: Int32, in records: [Record]) -> Set<String> {
    Set(
      KafkaTopicReader.latestByKey(records).keys.map { String(decoding: $0, as: UTF8.self) }
        .filter { $0.hasPrefix("g/events/\(partition)#") })
  }

  @Test func aLargeStateGoesInChunksAndReadsBackByteForByte() throws {
    let fixture = try Fixture()
    let topic = try fixture.stateTopic()
    let large = Self.state(partition: 0, offset: 10, values: 10_000, seed: 1)
    let small = Self.state(partition: 1, offset: 5, values: 100, seed: 2)
    try topic.write([large, small])

    let largeBack = try #require(try topic.newestState(of: large.partition))
    let smallBack = try #require(try topic.newestState(of: small.partition))
    #expect(largeBack.encoded() == large.encoded())
    #expect(smallBack.encoded() == small.encoded())
    #expect(largeBack.nextOffset == 10 && largeBack.book.kernelVersions == ["d": 3])

    // 40,000 bytes of floats and a header: ten chunks of at most 4096 bytes, then the head.
    let records = try fixture.records()
    let chunks = records.filter { $0.header(named: "iak-chunk") != nil }
    let encodedBytes = large.encoded().count
    #expect(chunks.count == (encodedBytes + 4095) / 4096)
    #expect(chunks.allSatisfy { $0.value.count <= 4096 && $0.partition == 0 })
    #expect(chunks.map(\.value).reduce([], +) == large.encoded())
    let head = try #require(records.last { $0.key == Array("g/events/0".utf8) })
    #expect(head.offset > chunks.map(\.offset).max()!)
    #expect(String(decoding: head.value, as: UTF8.self).hasPrefix(PartitionStateChunks.magic))
    // The small state is one record, as it always was.
    let smallRecords = records.filter { $0.partition == 1 }
    #expect(smallRecords.count == 1 && smallRecords[0].value == small.encoded())
  }

  @Test func aNewWriteDeletesTheChunksOfTheOneBefore() throws {
    let fixture = try Fixture()
    let first = try fixture.stateTopic()
    try first.write([Self.state(partition: 0, offset: 10, values: 5_000, seed: 1)])
    let firstKeys = Self.liveChunkKeys(of: 0, in: try fixture.records())
    #expect(firstKeys.count == 5)

    let newer = Self.state(partition: 0, offset: 20, values: 6_000, seed: 3)
    try first.write([newer])
    var records = try fixture.records()
    let secondKeys = Self.liveChunkKeys(of: 0, in: records)
    #expect(secondKeys.count == 6 && secondKeys.isDisjoint(with: firstKeys))
    let tombstones = records.filter { $0.value.isEmpty }.compactMap(\.key)
    #expect(Set(tombstones.map { String(decoding: $0, as: UTF8.self) }) == firstKeys)

    // Another process learns the chunks when it reads the partition, and deletes them when it
    // writes the partition next; a smaller state then goes whole.
    let second = try fixture.stateTopic()
    #expect(try second.newestState(of: newer.partition)?.encoded() == newer.encoded())
    let whole = Self.state(partition: 0, offset: 30, values: 50, seed: 4)
    try second.write([whole])
    records = try fixture.records()
    #expect(Self.liveChunkKeys(of: 0, in: records).isEmpty)
    #expect(try second.newestState(of: whole.partition)?.encoded() == whole.encoded())
  }

  @Test func aWriteThatTimesOutFailsOnlyThePartitionsNotConfirmed() throws {
    let cluster = try MockKafkaCluster.make(brokers: 2)
    try cluster.createTopic("iak-state", partitions: 2)
    try cluster.setLeader(topic: "iak-state", partition: 0, broker: 1)
    try cluster.setLeader(topic: "iak-state", partition: 1, broker: 2)
    let kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
    let producer = try KafkaProducer.make(configuration: kafka)
    let topic = try PartitionStateTopic(
      topic: "iak-state", group: "g", producer: producer, configuration: kafka,
      logger: .disabled, metrics: nil, chunkBytes: 4096)
    // Broker 2 answers its first Produce after 4 s (a retriable error: delivered on retry).
    try cluster.pushRequestErrors(.produce, [.requestTimedOut], broker: 2, delay: .seconds(4))
    let prompt = Self.state(partition: 0, offset: 10, values: 100, seed: 1)
    let slow = Self.state(partition: 1, offset: 20, values: 100, seed: 2)
    let failure = #expect(throws: PartitionStateTopic.WriteFailure.self) {
      try topic.write([prompt, slow], timeout: .seconds(2))
    }
    #expect(failure?.failed.keys.sorted() == [slow.partition])
    #expect(failure?.failed[slow.partition] == "delivery not confirmed in time")
    #expect(try topic.newestState(of: prompt.partition)?.encoded() == prompt.encoded())
    try producer.flush(timeout: .seconds(10))
    #expect(try topic.newestState(of: slow.partition)?.encoded() == slow.encoded())
  }

  @Test func aChunkTheBrokerRefusesFailsItsPartitionAloneAndItsHeadDoesNotGo() throws {
    let fixture = try Fixture()
    let topic = try fixture.stateTopic()
    // The first Produce (chunks of the large state only: heads go after every chunk) is refused
    // for good.
    fixture.cluster.pushRequestErrors(.produce, [.messageSizeTooLarge])
    let large = Self.state(partition: 0, offset: 10, values: 10_000, seed: 1)
    let small = Self.state(partition: 1, offset: 5, values: 100, seed: 2)
    let failure = #expect(throws: PartitionStateTopic.WriteFailure.self) {
      try topic.write([large, small])
    }
    #expect(failure?.failed.keys.sorted() == [large.partition])
    let reason = failure?.failed[large.partition] ?? ""
    #expect(reason.contains(" bytes; kafka.message.max.bytes sets the chunk size"), "\(reason)")
    #expect(try topic.newestState(of: large.partition) == nil)
    #expect(try topic.newestState(of: small.partition)?.encoded() == small.encoded())
  }

  @Test func aHeadWhoseChunkIsGoneIsRefusedWithTheReason() throws {
    let fixture = try Fixture()
    let topic = try fixture.stateTopic()
    try topic.write([Self.state(partition: 0, offset: 10, values: 3_000, seed: 1)])
    let victim = try #require(Self.liveChunkKeys(of: 0, in: try fixture.records()).sorted().last)
    try fixture.producer.send(
      OutgoingRecord(topic: "iak-state", partition: 0, key: Array(victim.utf8), value: []))
    try fixture.producer.flush(timeout: .seconds(10))
    let error = #expect(throws: ServiceError.self) {
      try topic.newestState(of: TopicPartition(topic: "events", partition: 0))
    }
    #expect(error?.code == .stateUnreadable)
    #expect(error?.description.contains("is missing from the state topic") == true)
  }

  @Test func aChunkedHeadIsParsedBackAndAGarbledOneRefused() throws {
    let bytes = Array((0..<10_000).map { UInt8($0 % 251) })
    let chunks = PartitionStateChunks(of: bytes, chunkBytes: 3000, generation: "7-1")
    #expect(chunks.count == 4 && chunks.bytes == 10_000)
    #expect((0..<4).map { chunks.chunk($0, of: bytes) }.reduce([], +) == bytes)
    #expect(try PartitionStateChunks(head: chunks.head) == chunks)
    #expect(try PartitionStateChunks(head: Array("not a head".utf8)) == nil)
    #expect(throws: ServiceError.self) {
      try PartitionStateChunks(head: Array((PartitionStateChunks.magic + "\nchunks=x\n").utf8))
    }
  }

  @Test func serveGoesOnFromItsOwnStateWhenTheTopicsStateIsUnreadable() async throws {
    let fixture = try await ServeFixture(impressions: 600)
    try fixture.produce(upTo: fixture.lines.count)
    // Partition 0's state on the topic: a head naming chunks that were never written.
    let producer = try KafkaProducer.make(
      configuration: KafkaConfiguration(bootstrapServers: fixture.bootstrapServers))
    let bytes = [UInt8](repeating: 7, count: 100)
    let head = PartitionStateChunks(of: bytes, chunkBytes: 40, generation: "1-1").head
    _ = try await producer.send(
      OutgoingRecord(
        topic: "iak-state", partition: 0, key: Array("g/\(fixture.topic)/0".utf8), value: head))

    #expect(try fixture.serveUntilIdle(group: "g", store: "s") == 0)
    let log = fixture.log("s")
    #expect(log.contains("the partition's state on the state topic is unreadable"), "\(log)")
    #expect(log.contains("is missing from the state topic"))
    #expect(!log.contains("stopping:"))
    let snapshot = try fixture.newestSnapshot("s")
    #expect(try ServeFixture.counts(snapshot)[0] == Int64(fixture.lines.count))
  }
}
