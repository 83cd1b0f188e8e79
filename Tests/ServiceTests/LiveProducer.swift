import Foundation
import Observability
import Stream
import Synchronization

/// A live input stream for the reliability suite: a thread producing `lines` to a topic in
/// order, keyed by region with the event's time as the record's timestamp (as `produce` does),
/// at a steady rate but never past what the test has released.
///
/// `@unchecked Sendable`: the producer handle is thread-safe; everything mutable is in `state`.
final class LiveProducer: @unchecked Sendable {
  private struct State {
    var released = 0
    var produced = 0
    var failures: [String] = []
  }

  private let lines: [String]
  private let topic: String
  private let producer: KafkaProducer?
  private let creationError: KafkaError?
  private let linesPerSecond: Int?
  private let state = Mutex(State())
  private let finished = DispatchSemaphore(value: 0)

  /// Starts the thread; nothing is produced until `release(upTo:)`. `linesPerSecond` nil: as
  /// fast as librdkafka takes them.
  init(lines: [String], topic: String, bootstrapServers: String, linesPerSecond: Int?) {
    self.lines = lines
    self.topic = topic
    self.linesPerSecond = linesPerSecond
    do {
      // A generous delivery timeout: the suite takes every broker down for 20 s.
      producer = try KafkaProducer.make(
        configuration: KafkaConfiguration(bootstrapServers: bootstrapServers)
          .setting("message.timeout.ms", "300000"))
      creationError = nil
    } catch {
      producer = nil
      creationError = error
    }
    let thread = Thread { [self] in produce() }
    thread.name = "live-producer"
    thread.start()
  }

  /// Lets the thread produce lines up to (not including) `count`.
  func release(upTo count: Int) {
    state.withLock { $0.released = max($0.released, min(count, lines.count)) }
  }

  /// Lines released so far.
  var released: Int { state.withLock { $0.released } }

  /// Lines handed to the producer so far.
  var produced: Int { state.withLock { $0.produced } }

  /// Releases every line, waits until all are produced and delivered, and closes the producer.
  /// - Throws: the first delivery failure, or the producer's creation error.
  func finish() throws {
    release(upTo: lines.count)
    finished.wait()
    if let creationError { throw creationError }
    guard let producer else { return }
    try producer.flush(timeout: .seconds(120))
    try producer.close()
    if let failure = state.withLock({ $0.failures.first }) {
      throw KafkaError(code: .state, message: "a line was not delivered: \(failure)")
    }
  }

  private func produce() {
    defer { finished.signal() }
    guard let producer else { return }
    var timestamp: Int64 = 883_000_000_000
    var index = 0
    var next = ContinuousClock.now
    while index < lines.count {
      guard index < state.withLock({ $0.released }) else {
        Thread.sleep(forTimeInterval: 0.005)
        continue
      }
      if let linesPerSecond {
        let now = ContinuousClock.now
        guard now >= next else {
          Thread.sleep(forTimeInterval: min((next - now).inSeconds, 0.005))
          continue
        }
        // No burst after a pause: at most 50 ms of lines are caught up.
        next = max(next, now - .milliseconds(50)) + .seconds(1) / linesPerSecond
      }
      let line = lines[index]
      // A bad record keeps the previous record's timestamp.
      if let text = line.split(separator: "\"ts\":").dropFirst().first?.prefix(while: \.isNumber),
        let time = Int64(text)
      {
        timestamp = time
      }
      let region = line.split(separator: "\"region\":\"").dropFirst().first?
        .split(separator: "\"").first.map(String.init)
      do {
        try producer.send(
          OutgoingRecord(
            topic: topic, key: region.map { Array($0.utf8) }, value: Array(line.utf8),
            timestampMs: timestamp)
        ) { [self] result in
          if case .failure(let error) = result {
            state.withLock { $0.failures.append("\(error)") }
          }
        }
      } catch {
        state.withLock { $0.failures.append("line \(index): \(error)") }
      }
      index += 1
      state.withLock { $0.produced = index }
    }
  }
}
