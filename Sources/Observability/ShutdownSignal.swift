import Dispatch
import Foundation
import Synchronization

/// Graceful shutdown: the first SIGTERM or SIGINT asks the running command to stop (it finishes
/// cleanly); a second one exits at once with status 130.
public final class ShutdownSignal: Sendable {
  private let requested = Atomic<Int>(0)
  private let sources = Mutex<SignalSources>(SignalSources())
  private let handlers = Mutex<[@Sendable () -> Void]>([])

  /// Creates a signal that nothing has raised yet.
  public init() {}

  /// Whether a stop was asked for.
  public var isRequested: Bool { requested.load(ordering: .acquiring) > 0 }

  /// Asks for a stop, as the first signal does; runs the registered handlers once.
  public func request() {
    let (previous, _) = requested.add(1, ordering: .acquiringAndReleasing)
    if previous == 0 {
      for handler in handlers.withLock({ $0 }) { handler() }
    }
  }

  /// Runs `handler` when a stop is asked for (at once if it already was).
  public func onRequest(_ handler: @escaping @Sendable () -> Void) {
    handlers.withLock { $0.append(handler) }
    if isRequested { handler() }
  }

  /// Routes SIGTERM and SIGINT to this signal; a second signal calls `_exit(130)`.
  public func installProcessHandlers() {
    for number in [SIGTERM, SIGINT] {
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { [self] in
        if isRequested { _exit(130) }
        request()
      }
      source.resume()
      sources.withLock { $0.list.append(source) }
      // Only now stop the default action: a signal arriving before the source is live still
      // ends the process instead of being lost.
      signal(number, SIG_IGN)
    }
  }

  /// Blocks until a stop is asked for.
  public func waitUntilRequested() {
    while !wait(seconds: 3600) {}
  }

  /// Sleeps until a stop is asked for or `seconds` pass; returns whether a stop was asked for.
  public func wait(seconds: Double) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while !isRequested && Date() < deadline { usleep(20_000) }
    return isRequested
  }
}

/// Keeps the signal sources alive. Dispatch sources are thread-safe objects that Swift does not
/// yet mark Sendable, hence the unchecked conformance.
private struct SignalSources: @unchecked Sendable {
  var list: [any DispatchSourceSignal] = []
}
