import Base
import Checkpoint
import Foundation
import Learner
import Observability
import Stream
import Testing

@testable import Service

/// Issue 4: an invalid event read from Kafka (a consumer group on the in-process mock cluster,
/// through KafkaRecordSource and the Pipeline) lands on the dead-letter topic with its key,
/// value, own headers and the `iak-*` headers naming its origin and reason, and is counted.
@Suite struct KafkaDeadLetterPipelineTests {
  @Test func aBadEventFromKafkaLandsOnTheDeadLetterTopicWithItsOriginAndIsCounted() async throws {
    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("events", partitions: 2)
    try cluster.createTopic("dead", partitions: 1)
    let kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
      .setting("topic.metadata.refresh.interval.ms", "1000")
    let producer = try KafkaProducer.make(configuration: kafka)
    let good = (0..<6).map { index in
      OutgoingRecord(
        topic: "events", partition: Int32(index % 2), key: Array("east".utf8),
        value: Array(
          (#"{"type":"impression","id":"i\#(index)","ts":\#(883_000_000_000 + index * 1000),"#
            + #""region":"east","user":"u1","item":"m2","click":1}"#).utf8))
    }
    for record in good { _ = try await producer.send(record) }
    let badValue = Array(#"{"type":"impression","id":"x","ts":NaN,"region":"east"}"#.utf8)
    let bad = try await producer.send(
      OutgoingRecord(
        topic: "events", partition: 1, key: Array("east".utf8), value: badValue,
        headers: [Record.Header(name: "trace", text: "t-42")], timestampMs: 1_700_000_000_000))
    try producer.close()

    let metrics = MetricsRegistry()
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-dlq-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var configuration = try HostileInputTests.configuration()
    try configuration.apply(override: "kafka.bootstrap.servers=\(cluster.bootstrapServers)")
    let deadLetterProducer = try KafkaProducer.make(configuration: kafka)
    let writer = DeadLetterWriter(
      producer: deadLetterProducer, topic: "dead", logger: .disabled, metrics: metrics)
    let backbone = try Backbone(
      config: BackboneConfig(fields: ["user", "item"], buckets: 512, hiddenSizes: [16, 8]),
      seed: 3)
    let pipeline = try Pipeline(
      configuration: configuration, backbone: backbone, backboneSHA256: "bb",
      store: try SnapshotStore(directory: folder, keep: 2), publisher: nil, alertEmitter: nil,
      deadLetters: writer, logger: .disabled, metrics: metrics)
    let source = try KafkaRecordSource.subscribing(
      to: ["events"], groupID: "dlq-\(UUID().uuidString.prefix(8))",
      configuration: kafka.setting("session.timeout.ms", "6000")
        .setting("heartbeat.interval.ms", "200").setting("fetch.wait.max.ms", "50")
        .setting("auto.offset.reset", "earliest"), metrics: metrics)
    var read = 0
    let deadline = ContinuousClock.now + .seconds(30)
    while read < good.count + 1 && ContinuousClock.now < deadline {
      let records = try source.poll(maxRecords: 100, timeout: .milliseconds(100))
      read += records.count
      try pipeline.process(records)
    }
    source.close()
    #expect(read == good.count + 1)
    let manifest = try #require(try pipeline.checkpoint(createdAtMilliseconds: 1))
    try deadLetterProducer.close()

    // The snapshot covers the bad record, and its dead letter is on the topic.
    let origin = TopicPartition(topic: "events", partition: bad.topicPartition.partition)
    #expect(manifest.offsets[origin] == bad.offset + 1)
    #expect(pipeline.counts.rejected == 1)
    #expect(pipeline.counts.examples == good.count)
    let letters = try KafkaTopicReader.readAll("dead", configuration: kafka, timeout: .seconds(10))
    try #require(letters.count == 1)
    let letter = letters[0]
    func header(_ name: String) -> String? {
      letter.header(named: name).map { String(decoding: $0, as: UTF8.self) }
    }
    #expect(letter.value == badValue)
    #expect(letter.key == Array("east".utf8))
    #expect(letter.timestampMs == 1_700_000_000_000)
    #expect(header("trace") == "t-42")
    #expect(header("iak-source-topic") == "events")
    #expect(header("iak-source-partition") == "1")
    #expect(header("iak-source-offset") == String(bad.offset))
    #expect(header("iak-reason") == "non_finite_number")
    #expect(header("iak-truncated-from") == nil)
    let rendered = metrics.render()
    #expect(rendered.contains(#"iak_events_rejected_total{reason="non_finite_number"} 1"#))
    #expect(rendered.contains(#"iak_dead_letters_total{reason="non_finite_number"} 1"#))
    #expect(rendered.contains("iak_events_decoded_total \(good.count)"))
  }
}
