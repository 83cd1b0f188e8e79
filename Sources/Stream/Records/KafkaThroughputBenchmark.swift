import Base
import Foundation
import Observability

/// Measures records per second from the mock broker through `KafkaConsumer` (poll and copy out),
/// optionally with the decode, join and route stages run on every polled batch.
public enum KafkaThroughputBenchmark {
  /// What a run measured.
  public struct Figures: Sendable, CustomStringConvertible {
    /// Records consumed.
    public var records: Int
    /// Value bytes consumed.
    public var bytes: Int
    /// Seconds spent producing the input into the mock cluster.
    public var produceSeconds: Double
    /// Seconds from the first poll to the last record.
    public var consumeSeconds: Double
    /// Records consumed per second.
    public var recordsPerSecond: Double {
      consumeSeconds > 0 ? Double(records) / consumeSeconds : 0
    }
    /// Megabytes (10^6) of values consumed per second.
    public var megabytesPerSecond: Double {
      consumeSeconds > 0 ? Double(bytes) / 1e6 / consumeSeconds : 0
    }

    /// What ran on the records besides consuming them.
    public var stages = "consume"

    /// One line of figures.
    public var description: String {
      String(
        format: "kafka \(stages): %d records, %.1f MB in %.3f s = %.0f records/s, %.1f MB/s "
          + "(produce %.3f s)", records, Double(bytes) / 1e6, consumeSeconds, recordsPerSecond,
        megabytesPerSecond, produceSeconds)
    }
  }

  /// Produces every line of `input` (up to `limit`) into a fresh mock topic of `partitions`
  /// partitions (by `key`, as `produce` does, or round robin without one), then consumes it all
  /// with batches of `batchSize`, handing each batch to `stage` (named `stages` in the figures),
  /// and times that.
  /// - Throws: `KafkaError` if the input cannot be read or the cluster fails.
  public static func run(
    input: URL, partitions: Int = 4, batchSize: Int = 1000, limit: Int = .max,
    key: EventProducer.KeyExtractor? = nil, stages: String = "consume",
    stage: ([Record]) -> Void = { _ in }, logger: Logger = .disabled
  ) throws(KafkaError) -> Figures {
    let source = try FileRecordSource(url: input)
    let lines = try source.poll(maxRecords: limit, timeout: .zero)
    let cluster = try MockKafkaCluster.make(brokers: 1, logger: logger)
    let topic = "bench"
    try cluster.createTopic(topic, partitions: partitions)
    let configuration = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
    let clock = ContinuousClock()

    let produceStart = clock.now
    let producer = try KafkaProducer.make(
      configuration: configuration.setting("linger.ms", "5").setting(
        "queue.buffering.max.messages", "1000000"), logger: logger)
    for (index, line) in lines.enumerated() {
      if let key {
        try producer.send(
          OutgoingRecord(
            topic: topic, key: key(line.value).map { Array($0.utf8) }, value: line.value))
      } else {
        try producer.send(
          OutgoingRecord(topic: topic, partition: Int32(index % partitions), value: line.value))
      }
    }
    try producer.close(timeout: .seconds(120))
    let produceSeconds = (clock.now - produceStart).inSeconds

    let consumer = try KafkaConsumer.make(configuration: configuration, logger: logger)
    var assignment: [TopicPartition: Int64] = [:]
    for partition in 0..<partitions {
      assignment[TopicPartition(topic: topic, partition: Int32(partition))] = 0
    }
    try consumer.assign(assignment)
    var records = 0
    var bytes = 0
    let consumeStart = clock.now
    let deadline = consumeStart + .seconds(300)
    while records < lines.count && clock.now < deadline {
      let batch = try consumer.poll(maxRecords: batchSize, timeout: .milliseconds(100))
      records += batch.count
      for record in batch { bytes += record.value.count }
      stage(batch)
    }
    let consumeSeconds = (clock.now - consumeStart).inSeconds
    consumer.close()
    var figures = Figures(
      records: records, bytes: bytes, produceSeconds: produceSeconds,
      consumeSeconds: consumeSeconds)
    figures.stages = stages
    return figures
  }
}
