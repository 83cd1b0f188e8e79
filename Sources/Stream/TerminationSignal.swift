import Dispatch
import Foundation

/// Waits for SIGTERM or SIGINT, for commands that serve until stopped.
public enum TerminationSignal {
  /// Blocks the calling thread until one of `signals` arrives, then restores their default
  /// handling. Returns the signal received.
  @discardableResult
  public static func wait(for signals: [Int32] = [SIGTERM, SIGINT]) -> Int32 {
    let received = DispatchSemaphore(value: 0)
    let which = ReceivedSignal()
    let queue = DispatchQueue(label: "iak-termination-signal")
    var sources: [any DispatchSourceSignal] = []
    for number in signals {
      signal(number, SIG_IGN)  // let the dispatch source see it instead of the default action
      let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
      source.setEventHandler {
        which.set(number)
        received.signal()
      }
      source.resume()
      sources.append(source)
    }
    received.wait()
    for source in sources { source.cancel() }
    for number in signals { signal(number, SIG_DFL) }
    return which.value
  }
}

/// The signal number seen by the handler.
private final class ReceivedSignal: @unchecked Sendable {
  // Written once on the signal queue before the semaphore is signalled, read after the wait.
  private(set) var value: Int32 = 0
  func set(_ number: Int32) { value = number }
}
