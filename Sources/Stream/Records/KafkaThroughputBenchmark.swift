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
  ///
  /// The mock broker keeps only about 5 MB per partition and drops the oldest records beyond
  /// that, so a run checks the partitions' watermarks before it starts the clock.
  /// - Throws: `KafkaError` if the input cannot be read, the cluster fails, the broker kept
  ///   fewer records than were produced (`.invalidInput`, saying how to fit), or the records
  ///   do not all arrive within `timeout` (`.timedOut`).
  public static func run(
    input: URL, partitions: Int = 4, batchSize: Int = 1000, limit: Int = .max,
    key: EventProducer.KeyExtractor? = nil, stages: String = "consume",
    stage: ([Record]) -> Void = { _ in }, timeout: Duration = .seconds(300),
    logger: Logger = .disabled
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
    defer { consumer.close() }
    var assignment: [TopicPartition: Int64] = [:]
    for partition in 0..<partitions {
      assignment[TopicPartition(topic: topic, partition: Int32(partition))] = 0
    }
    try checkKept(lines.count, of: assignment.keys, by: consumer, keyed: key != nil)
    try consumer.assign(assignment)
    var records = 0
    var bytes = 0
    let consumeStart = clock.now
    let deadline = consumeStart + timeout
    while records < lines.count {
      guard clock.now < deadline else {
        throw KafkaError(
          code: .timedOut,
          message:
            "bench kafka: consumed \(records) of \(lines.count) records in \(timeout); the "
            + "mock cluster stopped delivering")
      }
      let batch = try consumer.poll(maxRecords: batchSize, timeout: .milliseconds(100))
      records += batch.count
      for record in batch { bytes += record.value.count }
      stage(batch)
    }
    let consumeSeconds = (clock.now - consumeStart).inSeconds
    var figures = Figures(
      records: records, bytes: bytes, produceSeconds: produceSeconds,
      consumeSeconds: consumeSeconds)
    figures.stages = stages
    return figures
  }

  /// Checks that `partitions` hold all `produced` records from offset 0 on (`keyed`: placed by
  /// record key, which the error's advice takes into account).
  private static func checkKept(
    _ produced: Int, of partitions: some Collection<TopicPartition>, by consumer: KafkaConsumer,
    keyed: Bool
  ) throws(KafkaError) {
    var kept = 0
    var trimmed = 0
    for partition in partitions {
      let (low, high) = try consumer.watermarks(of: partition, timeout: .seconds(10))
      kept += Int(high - low)
      if low > 0 { trimmed += 1 }
    }
    guard kept < produced || trimmed > 0 else { return }
    throw KafkaError(
      code: .invalidInput,
      message:
        "bench kafka: the mock broker kept \(kept) of \(produced) records (it keeps about 5 MB "
        + "per partition and dropped the oldest from \(trimmed) of \(partitions.count) "
        + "partitions): give more --partitions or a shorter --input"
        + (keyed ? " (keyed records of one key all go to one partition)" : ""))
  }
}
