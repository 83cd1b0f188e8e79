import Observability

/// Decodes JSON events with a schema and counts every rejection by reason.
///
/// Counts go to `iak_events_decoded_total` and `iak_events_rejected_total{reason}` in the
/// registry given at creation; the decoder itself keeps no mutable state and is safe to share.
public struct EventDecoder: Sendable {
  /// The field names and limits events are read with.
  public let schema: EventSchema
  private let decoded: Metric
  private let rejected: [EventRejection.Reason: Metric]

  /// Creates a decoder that counts into `metrics`.
  public init(schema: EventSchema = EventSchema(), metrics: MetricsRegistry) {
    self.schema = schema
    decoded = metrics.counter("iak_events_decoded_total", help: "Events decoded successfully.")
      .with([])
    let family = metrics.counter(
      "iak_events_rejected_total",
      help: "Events refused (by the decoder, or for their time or new domain), by reason.",
      labels: ["reason"])
    var byReason: [EventRejection.Reason: Metric] = [:]
    for reason in EventRejection.Reason.allCases { byReason[reason] = family.with(reason.rawValue) }
    rejected = byReason
  }

  /// Decodes one event from its UTF-8 bytes.
  ///
  /// - Throws: `EventRejection` naming the reason, field and byte offset; it has been counted.
  public func decode(_ bytes: UnsafeRawBufferPointer) throws(EventRejection) -> Event {
    do throws(EventRejection) {
      let event = try Self.decode(bytes, schema: schema)
      decoded.increment()
      return event
    } catch {
      rejected[error.reason]?.increment()
      throw error
    }
  }

  /// Decodes one event from a byte array; see `decode(_:)` for the raw-buffer form.
  ///
  /// - Throws: `EventRejection` naming the reason, field and byte offset; it has been counted.
  public func decode(_ bytes: [UInt8]) throws(EventRejection) -> Event {
    let result = bytes.withUnsafeBytes { raw in
      Result { () throws(EventRejection) in try decode(raw) }
    }
    return try result.get()
  }

  /// Decodes `record` without counting it, for a thread that decodes ahead of the one that
  /// takes the records (the decoder is immutable, so any thread may call this); the taker counts
  /// each record with `count(_:)`, so a record decoded but never taken is not counted. A value
  /// that starts as a control record does (`ControlRecord.isControl(_:)`) is read as one.
  public func decodeAhead(_ record: Record) -> DecodedRecord {
    let outcome = record.value.withUnsafeBytes { raw -> DecodedRecord.Outcome in
      do throws(EventRejection) {
        if ControlRecord.isControl(raw) {
          return .control(try ControlRecord(parsing: record.value))
        }
        return .event(try Self.decode(raw, schema: schema))
      } catch {
        return .rejected(error, record)
      }
    }
    return DecodedRecord(
      topic: record.topic, partition: record.partition, offset: record.offset,
      timestampMs: record.timestampMs, outcome: outcome)
  }

  /// Counts a record decoded by `decodeAhead(_:)` as `decode(_:)` would have counted it.
  public func count(_ outcome: DecodedRecord.Outcome) {
    switch outcome {
    case .event: decoded.increment()
    case .rejected(let rejection, _): rejected[rejection.reason]?.increment()
    case .control: break
    }
  }

  /// Counts, in `iak_events_rejected_total{reason}`, an event refused after it was decoded
  /// (`EventIngest.admit`: its time or the domain it would start).
  public func countRejection(_ reason: EventRejection.Reason) {
    rejected[reason]?.increment()
  }

  /// Decodes one event without counting it; for callers that count themselves.
  ///
  /// - Throws: `EventRejection` naming the reason, field and byte offset.
  public static func decode(
    _ bytes: UnsafeRawBufferPointer, schema: EventSchema
  ) throws(EventRejection) -> Event {
    let typed = bytes.assumingMemoryBound(to: UInt8.self)
    var parser = EventParser(bytes: typed, schema: schema)
    return try parser.parseEvent()
  }
}
