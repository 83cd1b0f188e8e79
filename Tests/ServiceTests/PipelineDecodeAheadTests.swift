import Base
import Checkpoint
import Datasets
import Foundation
import Learner
import Observability
import Stream
import Testing

@testable import Service

/// `serve` decodes on its consumer thread (and computes each impression's frozen-backbone part of
/// its serving score there) and hands `DecodedRecord`s to
/// `Pipeline.process(_: [DecodedRecord])`. On a mix of good and hostile records over three
/// partitions that gives byte for byte the state of `process(_: [Record])`, the same counts,
/// offsets and metrics, and the same dead letters, in record order, with their reasons.
@Suite struct PipelineDecodeAheadTests {
  /// Good events with split clicks and hostile ones mixed in, spread over three partitions in
  /// input order.
  static func records() -> [Record] {
    let good = HostileInputTests.goodLines(count: 500)
    let mix = HostileEvents(seed: 23, largestValueBytes: 100_000, largestValueEvery: 40)
      .mixed(into: good, count: 250)
    var next: [Int64] = [0, 0, 0]
    return mix.lines.enumerated().map { index, line in
      let partition = index % 3
      defer { next[partition] += 1 }
      return Record(
        topic: "events", partition: Int32(partition), offset: next[partition],
        key: Array("east".utf8), value: line,
        headers: [Record.Header(name: "line", text: String(index))])
    }
  }

  struct Run {
    let pipeline: Pipeline
    let metrics: MetricsRegistry
  }

  static func pipeline(
    deadLetterTopic: String, producer: KafkaProducer, backbone: Backbone,
    overrides: [String] = []
  ) throws -> Run {
    let metrics = MetricsRegistry()
    var configuration = try HostileInputTests.configuration()
    for setting in overrides { try configuration.apply(override: setting) }
    let pipeline = try Pipeline(
      configuration: configuration, backbone: backbone,
      backboneSHA256: "bb", store: nil, publisher: nil, alertEmitter: nil,
      deadLetters: DeadLetterWriter(
        producer: producer, topic: deadLetterTopic, logger: .disabled, metrics: metrics),
      logger: .disabled, metrics: metrics)
    return Run(pipeline: pipeline, metrics: metrics)
  }

  /// `chunk` decoded, and its impressions' serving inputs prepared, on another thread, as serve's
  /// consumer thread does it.
  static func decodedAhead(
    _ chunk: [Record], decoder: EventDecoder,
    prepare: @escaping @Sendable (inout [DecodedRecord]) -> Void
  ) -> [DecodedRecord] {
    DispatchQueue.global().sync {
      var decoded = chunk.map { decoder.decodeAhead($0) }
      prepare(&decoded)
      return decoded
    }
  }

  /// (source partition, source offset, reason, value) of each dead letter, in topic order.
  static func deadLetters(
    _ topic: String, configuration: KafkaConfiguration
  ) throws -> [(partition: String, offset: String, reason: String, value: [UInt8])] {
    try KafkaTopicReader.readAll(topic, configuration: configuration, timeout: .seconds(30)).map {
      letter in
      func header(_ name: String) -> String {
        String(decoding: letter.header(named: name) ?? [], as: UTF8.self)
      }
      return (
        header("iak-source-partition"), header("iak-source-offset"), header("iak-reason"),
        letter.value
      )
    }
  }

  @Test func decodingAheadThenProcessingMatchesProcessingTheRecords() throws {
    let records = Self.records()
    let schema = try HostileInputTests.configuration().eventSchema
    // What the decoder refuses, in record order: what the dead-letter topic must hold.
    let refused = records.compactMap { record -> (String, String, String, [UInt8])? in
      let result = record.value.withUnsafeBytes { raw in
        Result { () throws(EventRejection) in try EventDecoder.decode(raw, schema: schema) }
      }
      guard case .failure(let rejection) = result else { return nil }
      return (
        String(record.partition), String(record.offset), rejection.reason.rawValue, record.value
      )
    }
    #expect(refused.count > 150)
    #expect(Set(refused.map(\.2)).count >= 8, "the mix covers many rejection reasons")

    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("dead-records", partitions: 1)
    try cluster.createTopic("dead-decoded", partitions: 1)
    let kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
    let producer = try KafkaProducer.make(configuration: kafka)
    let backbone = try Backbone(
      config: BackboneConfig(fields: ["user", "item"], buckets: 512, hiddenSizes: [16, 8]),
      seed: 3)

    let inPlace = try Self.pipeline(
      deadLetterTopic: "dead-records", producer: producer, backbone: backbone)
    for start in stride(from: 0, to: records.count, by: 100) {
      try inPlace.pipeline.process(Array(records[start..<min(start + 100, records.count)]))
    }
    let ahead = try Self.pipeline(
      deadLetterTopic: "dead-decoded", producer: producer, backbone: backbone)
    // Other chunk boundaries than the run above: chunks must not matter either. Each chunk is
    // decoded, and its impressions' frozen-backbone part of the serving score computed, on
    // another thread, as serve's consumer thread does: the scores, and so the state, must be
    // those computed on the pipeline's own thread, bit for bit.
    let decoder = ahead.pipeline.decoder
    let prepare = ahead.pipeline.makeServingInputs()
    var prepared = 0
    for start in stride(from: 0, to: records.count, by: 37) {
      let decoded = Self.decodedAhead(
        Array(records[start..<min(start + 37, records.count)]), decoder: decoder, prepare: prepare)
      prepared += decoded.count { $0.servingInput != nil }
      try ahead.pipeline.process(decoded)
    }
    #expect(prepared > 300, "impressions scored with an input computed ahead")
    try producer.close()

    let counts = ahead.pipeline.counts
    #expect(counts == inPlace.pipeline.counts)
    #expect(counts.records == records.count)
    #expect(counts.rejected == refused.count)
    #expect(counts.examples > 400)
    #expect(ahead.pipeline.offsets == inPlace.pipeline.offsets)
    var ends: [TopicPartition: Int64] = [:]
    for record in records { ends[record.topicPartition] = record.offset + 1 }
    #expect(ahead.pipeline.offsets == ends)
    #expect(ahead.pipeline.trainer.domains == inPlace.pipeline.trainer.domains)
    let state = SafeTensors(tensors: ahead.pipeline.stateTensors()).encoded()
    #expect(state == SafeTensors(tensors: inPlace.pipeline.stateTensors()).encoded())
    // Every metric but the training-step durations (wall time, different in every run) is the
    // same; the durations' count is too.
    func counted(_ text: String) -> [Substring] {
      text.split(separator: "\n").filter {
        !$0.hasPrefix("iak_training_step_duration_seconds_bucket")
          && !$0.hasPrefix("iak_training_step_duration_seconds_sum")
      }
    }
    #expect(counted(ahead.metrics.render()) == counted(inPlace.metrics.render()))
    #expect(ahead.metrics.render().contains("iak_training_step_duration_seconds_count"))
    // Impressions scored from an input prepared ahead keep their representation for their
    // batch like those scored in place (the two runs' metrics are the same, above).
    let rendered = ahead.metrics.render()
    func frozenRows(_ source: String) -> Double? {
      let prefix = "iak_training_frozen_rows_total{source=\"\(source)\"} "
      return rendered.split(separator: "\n").first { $0.hasPrefix(prefix) }
        .flatMap { Double($0.dropFirst(prefix.count)) }
    }
    let kept = try #require(frozenRows("kept"), "\(rendered)")
    #expect(kept > 300, "rows of closed batches kept from their serving scores")
    #expect(frozenRows("computed") != nil)
    let decoded = records.count - refused.count
    #expect(ahead.metrics.render().contains("iak_events_decoded_total \(decoded)"))

    let letters = try Self.deadLetters("dead-decoded", configuration: kafka)
    try #require(letters.count == refused.count)
    for (letter, expected) in zip(letters, refused) {
      #expect(letter.partition == expected.0 && letter.offset == expected.1)
      #expect(letter.reason == expected.2, "offset \(expected.0):\(expected.1)")
      #expect(letter.value == expected.3)
    }
    let inPlaceLetters = try Self.deadLetters("dead-records", configuration: kafka)
    #expect(inPlaceLetters.map(\.offset) == letters.map(\.offset))
    #expect(inPlaceLetters.map(\.reason) == letters.map(\.reason))
  }

  /// A backbone as wide as a served one (products in 32- and 8-column blocks and a remainder)
  /// and chunks of 700 records (more impressions than one pass of the preparer's 256 rows, and a
  /// chunk of clicks alone): the state is still byte for byte that of scoring on the pipeline's
  /// own thread.
  @Test func wideBackboneAndLongChunksScoreAsOnThePipelinesThread() throws {
    let good = HostileInputTests.goodLines(count: 2_000)
    let clicks = good.filter { String(decoding: $0, as: UTF8.self).contains("\"type\":\"click\"") }
    var next: Int64 = 0
    let records = (good + clicks.prefix(50)).map { line in
      defer { next += 1 }
      return Record(
        topic: "events", partition: 0, offset: next, key: Array("east".utf8), value: line)
    }
    let backbone = try Backbone(
      config: BackboneConfig(fields: ["user", "item"], buckets: 512, hiddenSizes: [75, 41]),
      seed: 5)
    let cluster = try MockKafkaCluster.make()
    let producer = try KafkaProducer.make(
      configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers))
    let inPlace = try Self.pipeline(deadLetterTopic: "dead", producer: producer, backbone: backbone)
    try inPlace.pipeline.process(records)
    let ahead = try Self.pipeline(deadLetterTopic: "dead", producer: producer, backbone: backbone)
    let prepare = ahead.pipeline.makeServingInputs()
    // Chunks of 700 records of the stream, then the 50 repeated clicks as a chunk of their own.
    var chunks = stride(from: 0, to: good.count, by: 700).map {
      Array(records[$0..<min($0 + 700, good.count)])
    }
    chunks.append(Array(records[good.count...]))
    var prepared = 0
    for chunk in chunks {
      let decoded = Self.decodedAhead(chunk, decoder: ahead.pipeline.decoder, prepare: prepare)
      prepared += decoded.count { $0.servingInput != nil }
      try ahead.pipeline.process(decoded)
    }
    #expect(prepared == 2_000, "every impression scored from an input computed ahead")
    #expect(ahead.pipeline.counts == inPlace.pipeline.counts)
    #expect(ahead.pipeline.counts.examples > 1_500)
    #expect(
      SafeTensors(tensors: ahead.pipeline.stateTensors()).encoded()
        == SafeTensors(tensors: inPlace.pipeline.stateTensors()).encoded())
  }
}

extension PipelineDecodeAheadTests {
  /// Whether a batch copies its impressions' frozen layers' output kept from their serving
  /// scores (`train.frozen_rows`) or computes it, the pipeline's whole state comes out the same
  /// bytes: in `wait` mode and in a delayed-feedback mode, whose training copies carry the
  /// ticket without a score.
  @Test(arguments: ["wait", "fake_negative"])
  func keptAndComputedFrozenRowsGiveTheSameState(labelMode: String) throws {
    let records = Self.records()
    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("dead-kept", partitions: 1)
    try cluster.createTopic("dead-computed", partitions: 1)
    let producer = try KafkaProducer.make(
      configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers))
    let backbone = try Backbone(
      config: BackboneConfig(fields: ["user", "item"], buckets: 512, hiddenSizes: [40, 36]),
      seed: 3)
    var states: [[UInt8]] = []
    var kept: [Double] = []
    for (topic, rows) in [("dead-kept", "65536"), ("dead-computed", "0")] {
      let run = try Self.pipeline(
        deadLetterTopic: topic, producer: producer, backbone: backbone,
        overrides: ["train.frozen_rows=\(rows)", "label.mode=\(labelMode)"])
      for start in stride(from: 0, to: records.count, by: 100) {
        try run.pipeline.process(Array(records[start..<min(start + 100, records.count)]))
      }
      #expect(run.pipeline.counts.examples > 400)
      states.append(SafeTensors(tensors: run.pipeline.stateTensors()).encoded())
      let prefix = "iak_training_frozen_rows_total{source=\"kept\"} "
      kept.append(
        run.metrics.render().split(separator: "\n").first { $0.hasPrefix(prefix) }
          .flatMap { Double($0.dropFirst(prefix.count)) } ?? -1)
    }
    try producer.close()
    #expect(kept[0] > 300 && kept[1] == 0, "rows kept: \(kept)")
    #expect(states[0] == states[1], "\(labelMode): the state depends on the rows kept")
  }
}
