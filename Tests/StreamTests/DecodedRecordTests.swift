import Foundation
import Observability
import Synchronization
import Testing

@testable import Stream

/// Decoding ahead (`EventDecoder.decodeAhead`, on another thread in `serve`) gives what the
/// pipeline's own decoding gives: the same events, the same rejections with the record kept for
/// the dead-letter topic, the same counts once counted, and the same joined and routed output.
@Suite struct DecodedRecordTests {
  static let lines: [String] = [
    #"{"type":"impression","id":"a","ts":1000,"region":"east","user":"u1"}"#,
    #"{"type":"impression","id":"b","ts":"1970-01-01T00:00:02Z","region":"west","user":"u2"}"#,
    #"{"type":"click","id":"a","ts":NaN}"#,
    #"{"type":"click","id":"a","ts":3000}"#,
    #"{"type":"impression","id":"","ts":3500,"region":"east"}"#,
    #"{"type":"impression","id":"c","ts":4000,"region":"east","user":"u3"}"#,
    #"{"type":"impression","id":"d","ts":30000,"region":"east","user":"u4","user":"u5"}"#,
    #"{"type":"impression","id":"d","ts":30000,"region":"east","user":"u4"}"#,
    #"{"type":"click","id":"d","ts":31000}"#,
    #"{"type":"impression","id":"e","ts":40000"#,
  ]

  static func records() -> [Record] {
    lines.enumerated().map { index, line in
      Record(
        topic: "events", partition: Int32(index % 2), offset: Int64(100 + index),
        key: Array("east".utf8), value: Array(line.utf8), timestampMs: Int64(5_000 + index),
        headers: [Record.Header(name: "trace", text: "t\(index)")])
    }
  }

  static func decodedOnAnotherThread(
    _ records: [Record], with decoder: EventDecoder
  ) -> [DecodedRecord] {
    let result = Mutex<[DecodedRecord]>([])
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      let decoded = records.map { decoder.decodeAhead($0) }
      result.withLock { $0 = decoded }
      done.signal()
    }
    thread.start()
    done.wait()
    return result.withLock { $0 }
  }

  @Test func decodingAheadGivesTheEventsAndRejectionsOfDecodingInPlace() throws {
    let schema = EventSchema(categoricalFields: ["user"])
    let records = Self.records()
    let decoded = Self.decodedOnAnotherThread(
      records, with: EventDecoder(schema: schema, metrics: MetricsRegistry()))
    try #require(decoded.count == records.count)
    var rejected = 0
    for (record, ahead) in zip(records, decoded) {
      #expect(ahead.topic == "events")
      #expect(ahead.partition == record.partition)
      #expect(ahead.offset == record.offset)
      #expect(ahead.timestampMs == record.timestampMs)
      #expect(ahead.topicPartition == record.topicPartition)
      let inPlace = record.value.withUnsafeBytes { raw in
        Result { () throws(EventRejection) in try EventDecoder.decode(raw, schema: schema) }
      }
      switch (inPlace, ahead.outcome) {
      case (.success(let event), .event(let aheadEvent)):
        #expect(aheadEvent == event)
      case (.failure(let rejection), .rejected(let aheadRejection, let original)):
        rejected += 1
        #expect(aheadRejection == rejection)
        // The whole record is kept for the dead-letter topic: key, value and headers.
        #expect(original == record)
      default:
        Issue.record("line \(record.offset) decoded differently ahead: \(ahead.outcome)")
      }
    }
    #expect(rejected == 4)
    let reasons = decoded.compactMap { record -> String? in
      guard case .rejected(let rejection, _) = record.outcome else { return nil }
      return rejection.reason.rawValue
    }
    #expect(reasons == ["non_finite_number", "bad_value", "duplicate_key", "malformed_json"])
  }

  @Test func decodingAheadCountsNothingUntilTheRecordsAreCounted() throws {
    let schema = EventSchema(categoricalFields: ["user"])
    let inPlaceMetrics = MetricsRegistry()
    let inPlace = EventDecoder(schema: schema, metrics: inPlaceMetrics)
    for record in Self.records() { _ = try? inPlace.decode(record.value) }

    let aheadMetrics = MetricsRegistry()
    let ahead = EventDecoder(schema: schema, metrics: aheadMetrics)
    let decoded = Self.decodedOnAnotherThread(Self.records(), with: ahead)
    #expect(aheadMetrics.render() == MetricsRegistry().renderedDecoderFamilies(schema: schema))
    for record in decoded { ahead.count(record.outcome) }
    #expect(aheadMetrics.render() == inPlaceMetrics.render())
    #expect(aheadMetrics.render().contains("iak_events_decoded_total 6"))
    #expect(aheadMetrics.render().contains(#"iak_events_rejected_total{reason="bad_value"} 1"#))
  }

  @Test func ingestingEventsDecodedAheadJoinsAndRoutesLikeIngestingTheBytes() throws {
    var inPlace = try EventIngestTests.make()
    var expected: [EventIngest.Routed] = []
    var refusedInPlace: [Int64] = []
    for record in Self.records() {
      do throws(EventRejection) {
        try inPlace.ingest(record.value, partition: record.partition, into: &expected)
      } catch {
        refusedInPlace.append(record.offset)
      }
    }
    inPlace.flush(into: &expected)

    var ahead = try EventIngestTests.make()
    var output: [EventIngest.Routed] = []
    var refusedAhead: [Int64] = []
    for record in Self.decodedOnAnotherThread(Self.records(), with: ahead.decoder) {
      switch record.outcome {
      case .event(let event): ahead.ingest(event, partition: record.partition, into: &output)
      case .rejected: refusedAhead.append(record.offset)
      case .control: Issue.record("no control record in this input")
      }
    }
    ahead.flush(into: &output)
    #expect(output == expected)
    #expect(output.count == 4)
    #expect(refusedAhead == refusedInPlace)
    #expect(ahead.exportState().joiner == inPlace.exportState().joiner)
    #expect(ahead.exportState().router == inPlace.exportState().router)
  }
}

extension MetricsRegistry {
  /// What a registry holding only a fresh decoder's families renders.
  fileprivate func renderedDecoderFamilies(schema: EventSchema) -> String {
    _ = EventDecoder(schema: schema, metrics: self)
    return render()
  }
}
