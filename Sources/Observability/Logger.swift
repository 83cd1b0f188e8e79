import Base
import Foundation

/// A structured logger: levels, `key=value` metadata, logfmt or JSON lines on a sink.
///
/// A `Logger` is a value passed into the libraries; nothing in iak-stream prints directly.
/// Messages and metadata are autoclosures, so a suppressed level costs one comparison.
public struct Logger: Sendable {
  /// Severity of a log line, lowest first.
  public enum Level: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    /// Very detailed tracing, off by default.
    case trace
    /// Details useful while developing or diagnosing.
    case debug
    /// Normal operation.
    case info
    /// Something unexpected that the service handled.
    case warning
    /// Something failed; work was lost or refused.
    case error

    /// Parses `trace`, `debug`, `info`, `warning` (or `warn`), `error`.
    public init?(name: String) {
      switch name.lowercased() {
      case "trace": self = .trace
      case "debug": self = .debug
      case "info": self = .info
      case "warning", "warn": self = .warning
      case "error": self = .error
      default: return nil
      }
    }

    /// The level's name as written in log lines.
    public var description: String {
      switch self {
      case .trace: "trace"
      case .debug: "debug"
      case .info: "info"
      case .warning: "warning"
      case .error: "error"
      }
    }

    /// Orders levels by severity.
    public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
  }

  /// How lines are encoded.
  public enum Format: String, Sendable, CaseIterable {
    /// `ts=... level=info msg="..." key=value` lines.
    case logfmt
    /// One JSON object per line.
    case json
  }

  /// Where encoded lines go.
  public typealias Sink = @Sendable (String) -> Void

  /// Metadata attached to a line: ordered key/value pairs.
  public typealias Metadata = KeyValuePairs<String, String>

  /// The lowest level that is written.
  public var level: Level
  /// The encoding of every line.
  public var format: Format
  /// A label naming the component (`stream`, `learner`, ...), written as `component=`.
  public var label: String
  private var context: [(String, String)]
  private let sink: Sink

  /// Creates a logger that writes to `sink` (standard error by default).
  public init(
    label: String, level: Level = .info, format: Format = .logfmt,
    sink: @escaping Sink = Logger.standardError
  ) {
    self.label = label
    self.level = level
    self.format = format
    self.context = []
    self.sink = sink
  }

  /// A logger that discards everything; for tests and library defaults.
  public static let disabled = Logger(label: "disabled", level: .error, sink: { _ in })

  /// Writes a line to standard error, whole, under a lock so threads do not interleave (and
  /// never glued to a progress line: see `StandardErrorTerminal`).
  public static let standardError: Sink = { line in
    StandardErrorTerminal.shared.writeLine(line)
  }

  /// Returns a copy labelled for a sub-component, keeping level, format, sink and context.
  public func child(_ label: String) -> Logger {
    var copy = self
    copy.label = label
    return copy
  }

  /// Returns a copy that adds `key=value` to every line it writes.
  public func with(_ key: String, _ value: String) -> Logger {
    var copy = self
    copy.context.append((key, value))
    return copy
  }

  /// Whether a line at `level` would be written.
  public func isEnabled(_ level: Level) -> Bool { level >= self.level }

  /// Writes a trace line.
  public func trace(
    _ message: @autoclosure () -> String, _ metadata: @autoclosure () -> Metadata = [:]
  ) { log(.trace, message(), metadata()) }
  /// Writes a debug line.
  public func debug(
    _ message: @autoclosure () -> String, _ metadata: @autoclosure () -> Metadata = [:]
  ) { log(.debug, message(), metadata()) }
  /// Writes an info line.
  public func info(
    _ message: @autoclosure () -> String, _ metadata: @autoclosure () -> Metadata = [:]
  ) { log(.info, message(), metadata()) }
  /// Writes a warning line.
  public func warning(
    _ message: @autoclosure () -> String, _ metadata: @autoclosure () -> Metadata = [:]
  ) { log(.warning, message(), metadata()) }
  /// Writes an error line.
  public func error(
    _ message: @autoclosure () -> String, _ metadata: @autoclosure () -> Metadata = [:]
  ) { log(.error, message(), metadata()) }

  /// Writes a line at `level` if it is enabled.
  public func log(
    _ level: Level, _ message: @autoclosure () -> String,
    _ metadata: @autoclosure () -> Metadata = [:]
  ) {
    guard isEnabled(level) else { return }
    var fields: [(String, String)] = [
      ("ts", Logger.timestamp(Date())), ("level", level.description), ("component", label),
      ("msg", message()),
    ]
    fields.append(contentsOf: context)
    for (key, value) in metadata() { fields.append((key, value)) }
    sink(Logger.encode(fields, as: format))
  }

  /// Encodes fields as one logfmt or JSON line (no newline).
  public static func encode(_ fields: [(String, String)], as format: Format) -> String {
    switch format {
    case .logfmt:
      return fields.map { "\($0.0)=\(logfmtValue($0.1))" }.joined(separator: " ")
    case .json:
      let body = fields.map { "\(JSONText.quote($0.0)):\(JSONText.quote($0.1))" }
      return "{" + body.joined(separator: ",") + "}"
    }
  }

  private static func logfmtValue(_ value: String) -> String {
    let needsQuotes =
      value.isEmpty
      || value.unicodeScalars.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0.value < 0x20 }
    return needsQuotes ? JSONText.quote(value) : value
  }

  /// A real number for a log value: six significant digits (`0.693147`, `0.0003`, `1.5e-07`),
  /// not the 16 or 17 that `description` writes.
  public static func figure(_ value: Double) -> String {
    String(format: "%.6g", value)
  }

  /// A duration for a log value, in seconds with millisecond precision (`1.500`).
  public static func seconds(_ duration: Duration) -> String {
    String(format: "%.3f", duration.inSeconds)
  }

  /// `date` in UTC as RFC 3339 with milliseconds and the zone: `2001-09-09T01:46:40.123Z`.
  public static func timestamp(_ date: Date) -> String {
    date.formatted(
      .iso8601.year().month().day().time(includingFractionalSeconds: true)
        .timeZone(separator: .omitted))
  }
}
