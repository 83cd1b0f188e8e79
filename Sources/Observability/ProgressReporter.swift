import Foundation
import Synchronization

/// Shows progress of long work: on a terminal a single updating line with count, rate and ETA;
/// otherwise a log line every `logInterval` seconds, so CI logs and files stay readable.
public final class ProgressReporter: Sendable {
  private struct State {
    var done: Int = 0
    var lastDraw: Double = 0
    var drewOnTerminal = false
  }

  private let label: String
  private let unit: String
  private let total: Int?
  private let start: Double
  private let isTerminal: Bool
  private let logInterval: Double
  private let logger: Logger
  private let terminal: StandardErrorTerminal
  private let state = Mutex(State())

  /// Creates a reporter for `total` items (nil when unknown) called `unit` (e.g. `events`).
  public init(
    label: String, unit: String, total: Int?, logger: Logger,
    isTerminal: Bool = isatty(STDERR_FILENO) == 1, logInterval: Double = 10,
    terminal: StandardErrorTerminal = .shared
  ) {
    self.terminal = terminal
    self.label = label
    self.unit = unit
    self.total = total
    self.logger = logger
    self.isTerminal = isTerminal
    self.logInterval = logInterval
    self.start = ProgressReporter.now()
  }

  /// Records that `done` items are finished and redraws if it is time.
  public func update(done: Int) {
    let now = ProgressReporter.now()
    let line: String? = state.withLock { state in
      state.done = done
      let interval = isTerminal ? 0.25 : logInterval
      guard now - state.lastDraw >= interval else { return nil }
      state.lastDraw = now
      state.drewOnTerminal = isTerminal
      return ProgressReporter.describe(
        label: label, unit: unit, done: done, total: total, elapsed: now - start)
    }
    guard let line else { return }
    if isTerminal {
      terminal.showStatus(line)
    } else {
      logger.info(line)
    }
  }

  /// Ends the line on a terminal and logs the final count (`done`, or the last one given to
  /// `update`) and rate.
  public func finish(done finalCount: Int? = nil) {
    let (done, drew) = state.withLock { state in
      if let finalCount { state.done = finalCount }
      return (state.done, state.drewOnTerminal)
    }
    if drew { terminal.clearStatus() }
    let elapsed = ProgressReporter.now() - start
    logger.info(
      ProgressReporter.describe(
        label: label, unit: unit, done: done, total: nil, elapsed: elapsed)
        + String(format: " in %.1fs", elapsed))
  }

  /// Formats `label: done/total unit, rate/s, ETA m:ss` (parts omitted when unknown).
  public static func describe(
    label: String, unit: String, done: Int, total: Int?, elapsed: Double
  ) -> String {
    // Under half a second the rate is noise (a first report can come after microseconds).
    let rate = elapsed >= 0.5 ? Double(done) / elapsed : 0
    var text = "\(label): \(done)"
    if let total { text += "/\(total)" }
    text += " \(unit)"
    if rate > 0 { text += ", \(Int(rate.rounded()))/s" }
    if let total, rate > 0, done < total {
      let remaining = Int((Double(total - done) / rate).rounded())
      text += String(format: ", ETA %d:%02d", remaining / 60, remaining % 60)
    }
    return text
  }

  private static func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
  }
}
