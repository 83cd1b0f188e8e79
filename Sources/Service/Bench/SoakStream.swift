import Foundation

/// The events of `bench soak`, replayed loop after loop: in loop `n` every event time is moved
/// forward by `n` spans of the stream (so time keeps moving and rolling windows keep making new
/// domains, as in a real service) and every id gets the suffix `-L<n>` (so a later loop's
/// impressions and clicks are new ones and still pair up).
///
/// The events are scanned once for where their time and id sit in the line; a loop's value is
/// then spliced together from the original bytes, without decoding the JSON. A line without an
/// integer time (a bad record) is replayed unchanged, for the decoder to reject again.
struct SoakStream {
  /// One event and where its time and id are in its line.
  struct Event {
    /// Its region (the record key), nil when it has none.
    var key: [UInt8]?
    /// Its partition.
    var partition: Int32
    /// The JSON line of loop 0.
    var value: [UInt8]
    /// The bytes of the time's digits in `value`, nil without an integer time.
    var timeRange: Range<Int>?
    /// The event time, epoch milliseconds (0 without one).
    var timeMs: Int64
    /// Where the id's closing quote is in `value` (the suffix goes before it), nil without id.
    var idEnd: Int?
  }

  /// The events, in input order.
  let events: [Event]
  /// How far each loop moves the event times: from the earliest to the latest event, plus one
  /// millisecond.
  let spanMs: Int64

  /// Scans `events` for their integer times in `timeField` and string ids in `idField`.
  ///
  /// - Throws: `UsageError` when no event has an integer time in milliseconds (the soak cannot
  ///   move RFC 3339 times).
  init(_ events: BenchEvents, timeField: String, idField: String) throws {
    var scanned: [Event] = []
    scanned.reserveCapacity(events.count)
    for event in events.events {
      let time = Self.integerValue(of: timeField, in: event.value)
      scanned.append(
        Event(
          key: event.key, partition: event.partition, value: event.value, timeRange: time?.0,
          timeMs: time?.1 ?? 0, idEnd: Self.stringEnd(of: idField, in: event.value)))
    }
    let times = scanned.filter { $0.timeRange != nil }.map(\.timeMs)
    guard let first = times.min(), let last = times.max() else {
      throw UsageError(
        "bench soak: no input event has an integer '\(timeField)' (epoch milliseconds); the "
          + "soak moves event times forward and needs them as numbers")
    }
    self.events = scanned
    spanMs = last - first + 1
  }

  /// Events per loop.
  var count: Int { events.count }

  /// The line of event `index` in loop `loop`.
  func value(of index: Int, loop: Int) -> [UInt8] {
    let event = events[index]
    guard loop > 0, let timeRange = event.timeRange else { return event.value }
    let time = Array(String(event.timeMs + Int64(loop) * spanMs).utf8)
    let suffix = Array("-L\(loop)".utf8)
    let value = event.value
    var result: [UInt8] = []
    result.reserveCapacity(value.count + time.count + suffix.count)
    // The two edits in the order they appear in the line.
    var edits: [(at: Int, end: Int, bytes: [UInt8])] = [
      (timeRange.lowerBound, timeRange.upperBound, time)
    ]
    if let idEnd = event.idEnd { edits.append((idEnd, idEnd, suffix)) }
    edits.sort { $0.at < $1.at }
    var position = 0
    for edit in edits {
      result += value[position..<edit.at]
      result += edit.bytes
      position = edit.end
    }
    result += value[position...]
    return result
  }

  /// The digits of field `name`'s integer value in `line`, and the value.
  private static func integerValue(of name: String, in line: [UInt8]) -> (Range<Int>, Int64)? {
    guard let start = valueStart(of: name, in: line) else { return nil }
    var end = start
    if end < line.count, line[end] == UInt8(ascii: "-") { end += 1 }
    while end < line.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(line[end]) {
      end += 1
    }
    guard end > start, let value = Int64(String(decoding: line[start..<end], as: UTF8.self))
    else { return nil }
    // A fraction or exponent would make it no integer.
    if end < line.count,
      [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(line[end])
    {
      return nil
    }
    return (start..<end, value)
  }

  /// Where the closing quote of field `name`'s string value is in `line`.
  private static func stringEnd(of name: String, in line: [UInt8]) -> Int? {
    guard let start = valueStart(of: name, in: line), start < line.count,
      line[start] == UInt8(ascii: "\"")
    else { return nil }
    var index = start + 1
    while index < line.count {
      if line[index] == UInt8(ascii: "\\") {
        index += 2
        continue
      }
      if line[index] == UInt8(ascii: "\"") { return index }
      index += 1
    }
    return nil
  }

  /// Where the value of the first `"name":` in `line` starts.
  private static func valueStart(of name: String, in line: [UInt8]) -> Int? {
    let pattern = Array("\"\(name)\"".utf8)
    guard line.count > pattern.count else { return nil }
    var from = 0
    while from + pattern.count <= line.count {
      guard
        let found = (from...(line.count - pattern.count)).first(where: {
          line[$0..<($0 + pattern.count)].elementsEqual(pattern)
        })
      else { return nil }
      var index = found + pattern.count
      while index < line.count, line[index] == UInt8(ascii: " ") { index += 1 }
      if index < line.count, line[index] == UInt8(ascii: ":") {
        index += 1
        while index < line.count, line[index] == UInt8(ascii: " ") { index += 1 }
        return index
      }
      from = found + 1
    }
    return nil
  }
}
