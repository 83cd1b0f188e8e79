import Base
import Foundation
import Observability
import Stream
import Synchronization
import Testing

@Suite struct KafkaCommandTests {
  private static let events = [
    #"{"ts":1000,"region":"west","item":1}"#,
    #"{"ts":1100,"region":"east","item":2}"#,
    "",
    #"{"ts":1200,"region":"west","item":3}"#,
    #"{"ts":1300,"item":4}"#,
    #"{"ts":1400,"region":"north","item":5}"#,
    #"{"ts":1500,"region":"east","item":6}"#,
  ]

  private static func writeEvents() throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-produce-\(UUID().uuidString).jsonl")
    try Data((events.joined(separator: "\n") + "\n").utf8).write(to: url)
    return url
  }

  private static func eventTime(_ line: [UInt8]) -> Int64? {
    JSONLineField.value(named: "ts", in: line).flatMap { Int64($0) }
  }

  @Test func produceKeysEventsByRegionAndCountsDeliveries() async throws {
    let cluster = try MockBroker.start(
      .init(brokers: 2, topics: [try TopicSpecification(parsing: "events:3")]), logger: .disabled)
    let input = try Self.writeEvents()
    defer { try? FileManager.default.removeItem(at: input) }
    let reports = Mutex<[EventProducer.Progress]>([])
    let before = Int64(Date().timeIntervalSince1970 * 1000)
    let summary = try EventProducer.run(
      .init(
        input: input, topic: "events", pace: .rate(1000),
        configuration: MockClusterFixture.configuration(cluster), progressEvery: 2),
      key: EventProducer.key(byField: "region"), eventTimeMs: Self.eventTime,
      progress: { progress in reports.withLock { $0.append(progress) } })
    let after = Int64(Date().timeIntervalSince1970 * 1000)
    #expect(summary == .init(total: 6, sent: 6, delivered: 6, failed: 0))
    #expect(summary.isComplete)
    #expect(reports.withLock { $0.map(\.sent) } == [0, 2, 4, 6, 6])
    #expect(reports.withLock { $0.map(\.total) } == [6, 6, 6, 6, 6])

    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster))
    try consumer.assign(try consumer.resolve(.earliest, topic: "events", timeout: .seconds(5)))
    let records = try MockClusterFixture.poll(consumer, count: 6)
    consumer.close()
    #expect(records.count == 6)
    let keys = records.map { $0.key.map { String(decoding: $0, as: UTF8.self) } }
    #expect(keys.filter { $0 == "west" }.count == 2)
    #expect(keys.filter { $0 == nil }.count == 1)
    // Same key, same partition, in file order.
    let west = records.filter { $0.key == Array("west".utf8) }
    #expect(Set(west.map(\.partition)).count == 1)
    #expect(west.map { Self.eventTime($0.value) } == [1000, 1200])
    // By default a record is stamped with its send time: time-based retention counts from now.
    let stamps = records.compactMap(\.timestampMs)
    #expect(stamps.count == 6)
    #expect(stamps.allSatisfy { (before - 1_000)...(after + 1_000) ~= $0 }, "\(stamps)")
  }

  @Test func produceStampsRecordsWithTheirEventTimeWhenAsked() throws {
    let cluster = try MockBroker.start(
      .init(topics: [try TopicSpecification(parsing: "events:1")]), logger: .disabled)
    let input = try Self.writeEvents()
    defer { try? FileManager.default.removeItem(at: input) }
    let summary = try EventProducer.run(
      .init(
        input: input, topic: "events", timestamp: .event,
        configuration: MockClusterFixture.configuration(cluster)),
      key: EventProducer.key(byField: "region"), eventTimeMs: Self.eventTime)
    #expect(summary.isComplete && summary.notRetained.isEmpty)
    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster))
    try consumer.assign(try consumer.resolve(.earliest, topic: "events", timeout: .seconds(5)))
    let records = try MockClusterFixture.poll(consumer, count: 6)
    consumer.close()
    #expect(records.compactMap(\.timestampMs) == [1000, 1100, 1200, 1300, 1400, 1500])
  }

  @Test func produceCountsTheRecordsTheDevelopmentBrokerDroppedBeyondItsRetention() throws {
    // The mock broker keeps about 5 MB per partition: 8 MB into one partition loses the oldest.
    let cluster = try MockBroker.start(
      .init(topics: [try TopicSpecification(parsing: "events:1")]), logger: .disabled)
    let input = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-produce-big-\(UUID().uuidString).jsonl")
    defer { try? FileManager.default.removeItem(at: input) }
    let padding = String(repeating: "x", count: 1_000)
    let lines = (0..<8_000).map { #"{"ts":\#($0),"region":"west","pad":"\#(padding)"}"# }
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: input)
    let summary = try EventProducer.run(
      .init(
        input: input, topic: "events", configuration: MockClusterFixture.configuration(cluster)),
      key: EventProducer.key(byField: "region"))
    #expect(summary.isComplete)
    let partition = TopicPartition(topic: "events", partition: 0)
    let consumer = try KafkaConsumer.make(
      configuration: MockClusterFixture.consumerConfiguration(cluster))
    defer { consumer.close() }
    let (low, high) = try consumer.watermarks(of: partition, timeout: .seconds(5))
    #expect(high == 8_000)
    #expect(low > 0, "the mock kept all 8 MB: the test no longer shows its retention")
    #expect(summary.notRetained == [partition: Int(low)])
  }

  @Test func produceReportsUndeliveredEvents() throws {
    let cluster = try MockKafkaCluster.make(brokers: 1)
    try cluster.createTopic("events", partitions: 1)
    try cluster.setBrokerDown(1)
    let input = try Self.writeEvents()
    defer { try? FileManager.default.removeItem(at: input) }
    let summary = try EventProducer.run(
      .init(
        input: input, topic: "events",
        configuration: MockClusterFixture.configuration(cluster)
          .setting("message.timeout.ms", "300"), flushTimeout: .seconds(2)),
      key: EventProducer.key(byField: "region"))
    #expect(summary == .init(total: 6, sent: 6, delivered: 0, failed: 6))
    #expect(!summary.isComplete)
    let missing = input.appendingPathExtension("missing")
    #expect(throws: KafkaError.self) {
      try EventProducer.run(
        .init(input: missing, topic: "events", configuration: .init()), key: { _ in nil })
    }
    #expect(throws: KafkaError.self) {
      try EventProducer.run(
        .init(input: input, topic: "events", pace: .speedup(10), configuration: .init()),
        key: { _ in nil })
    }
  }

  @Test func brokerCommandAnnouncesBootstrapServersAndServesUntilStopped() async throws {
    let announced = Mutex<String?>(nil)
    try MockBroker.run(
      .init(brokers: 3, topics: [.init(name: "a", partitions: 2)]), logger: .disabled,
      announce: { line in
        // The first line is bootstrap.servers; `#` lines after it state capacities.
        if !line.hasPrefix("#") { announced.withLock { $0 = line } }
      },
      waitForStop: {
        // While serving, a real client can use the cluster through the announced line.
        let line = announced.withLock { $0 } ?? ""
        let servers = String(line.dropFirst("bootstrap.servers=".count))
        let consumer = try? KafkaConsumer.make(
          configuration: KafkaConfiguration(bootstrapServers: servers))
        let count = try? consumer?.partitionCount(of: "a", timeout: .seconds(5))
        consumer?.close()
        announced.withLock {
          $0 = (count == 2) ? line : "partition count \(String(describing: count))"
        }
      })
    let line = try #require(announced.withLock { $0 })
    #expect(line.hasPrefix("bootstrap.servers="))
    #expect(line.split(separator: ",").count == 3)
  }

  @Test func kcatReadsWhatProduceWrote() throws {
    let kcat = ["/usr/bin/kcat", "/usr/local/bin/kcat", "/usr/bin/kafkacat"]
      .first { FileManager.default.isExecutableFile(atPath: $0) }
    guard let kcat else {
      print("skipping kcatReadsWhatProduceWrote: kcat is not installed (apt install kcat)")
      return
    }
    let cluster = try MockKafkaCluster.make(brokers: 1)
    try cluster.createTopic("events", partitions: 1)
    let input = try Self.writeEvents()
    defer { try? FileManager.default.removeItem(at: input) }
    let summary = try EventProducer.run(
      .init(
        input: input, topic: "events", configuration: MockClusterFixture.configuration(cluster)),
      key: EventProducer.key(byField: "region"))
    #expect(summary.isComplete)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: kcat)
    process.arguments = [
      "-b", cluster.bootstrapServers, "-C", "-t", "events", "-o", "beginning", "-e", "-q",
      "-f", "%k %s\\n",
    ]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.killIfRunning(after: .seconds(30))
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    let expected = Self.events.filter { !$0.isEmpty }.map { line in
      (JSONLineField.value(named: "region", in: Array(line.utf8)) ?? "") + " " + line
    }
    #expect(lines == expected)
  }
}
