import Foundation
import Observability
import Stream

/// Reads a JSON-lines event file the way the pipeline reads a partition: decode, count and log
/// rejected lines, join clicks to impressions in event time, and route to domains.
public struct EventFile {
  /// One labelled, routed impression.
  public struct Labelled: Sendable {
    /// The impression.
    public var impression: Event
    /// Whether it was clicked.
    public var label: Bool
    /// Its domain key.
    public var domain: String
  }

  /// What reading the file produced.
  public struct Contents: Sendable {
    /// Labelled impressions in the order the joiner emitted them.
    public var examples: [Labelled]
    /// Lines read.
    public var lines = 0
    /// Lines rejected, by reason code.
    public var rejected: [String: Int] = [:]
    /// Labelled impressions left out because their time is outside `from..<until`.
    public var outsideRange = 0
    /// The earliest and latest time of every labelled impression read, in or out of range.
    public var timeRange: ClosedRange<Int64>?
    /// The first line rejected: its number in the file (from 1) and why.
    public var firstRejection: (line: Int, reason: String)?

    /// Why the file gave no labelled impression at all, for an error that names it: it has no
    /// event line, or how many lines were read and rejected, with the first rejection.
    public var noExampleReason: String {
      guard lines > 0 else { return "it has no event line" }
      let total = rejected.values.reduce(0, +)
      guard let first = firstRejection else {
        return "\(lines) lines read, none rejected, and no impression among them"
      }
      return "\(lines) lines read, \(total) rejected (first, line \(first.line): \(first.reason))"
    }

    /// The rejected lines for a log line: `0`, or their total and counts by reason
    /// (`3 (bad_json 2, missing_field 1)`).
    public var rejectedDescription: String {
      let total = rejected.values.reduce(0, +)
      guard total > 0 else { return "0" }
      let reasons = rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
      return "\(total) (" + reasons.joined(separator: ", ") + ")"
    }
  }

  /// Reads `path`, keeping impressions with `from <= time < until` (nil bounds are open).
  ///
  /// - Throws: `ServiceError` (`io`) naming the file when it does not exist, is a folder or
  ///   cannot be read, or `ConfigError` when the domain settings do not parse.
  public static func read(
    _ path: String, configuration: Configuration, from: Int64? = nil, until: Int64? = nil,
    logger: Logger, metrics: MetricsRegistry? = nil
  ) throws -> Contents {
    try InputFile.check(path, named: "events file")
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ServiceError(.io, "cannot read events file \(path)")
    }
    var ingest = try EventIngest(
      schema: configuration.eventSchema, joiner: configuration.joinerConfiguration,
      router: try configuration.routerConfiguration(), metrics: metrics)
    var contents = Contents(examples: [])
    var routed: [EventIngest.Routed] = []
    // Each non-empty line with its number in the file (from 1).
    let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
      .enumerated().filter { !$0.element.isEmpty }.map {
        (number: $0.offset + 1, bytes: $0.element)
      }
    let reporter = ProgressReporter(
      label: "read \(URL(fileURLWithPath: path).lastPathComponent)", unit: "lines",
      total: lines.count, logger: logger)
    func take(_ batch: inout [EventIngest.Routed]) {
      for example in batch {
        let time = example.impression.timeMilliseconds
        contents.timeRange =
          contents.timeRange.map {
            min($0.lowerBound, time)...max($0.upperBound, time)
          } ?? time...time
        if let from, time < from {
          contents.outsideRange += 1
          continue
        }
        if let until, time >= until {
          contents.outsideRange += 1
          continue
        }
        contents.examples.append(
          Labelled(
            impression: example.impression, label: example.label,
            domain: example.route.domain.description))
      }
      batch.removeAll(keepingCapacity: true)
    }
    let backbone = try configuration.backboneConfig()
    var fieldUsage = FieldUsage(configured: backbone.fields + backbone.numericFields)
    for (number, slice) in lines {
      contents.lines += 1
      do throws(EventRejection) {
        let event = try ingest.decode(Array(slice))
        if !fieldUsage.isReported, let warnings = fieldUsage.observe(event) {
          for warning in warnings { logger.warning(warning) }
        }
        ingest.ingest(event, partition: 0, into: &routed)
        take(&routed)
      } catch {
        contents.rejected[error.reason.rawValue, default: 0] += 1
        if contents.firstRejection == nil {
          contents.firstRejection = (number, error.description)
        }
        if contents.rejected.values.reduce(0, +) <= 5 {
          logger.warning("rejected event", ["line": "\(number)", "reason": error.description])
        }
      }
      if contents.lines % 10_000 == 0 { reporter.update(done: contents.lines) }
    }
    ingest.flush(into: &routed)
    take(&routed)
    for warning in fieldUsage.report() ?? [] { logger.warning(warning) }
    reporter.finish(done: contents.lines)
    return contents
  }
}
