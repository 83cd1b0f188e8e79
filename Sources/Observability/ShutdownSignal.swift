import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Graceful shutdown: the first SIGTERM or SIGINT asks the running command to stop (it finishes
/// cleanly); a second one exits at once with status 130.
///
/// The signals are never ignored and their disposition is never changed: the executable blocks
/// them in its first thread before any other starts (`blockProcessSignals()`, inherited by every
/// thread started later), and one thread of its own takes them with `sigwait`
/// (`installProcessHandlers()`). A signal that arrives before that thread runs stays pending
/// and is taken when it does.
public final class ShutdownSignal: Sendable {
  private let requested = Atomic<Int>(0)
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

  /// Routes SIGTERM and SIGINT to this signal: the first one received by the process asks for a
  /// stop, the second calls `_exit(130)`. Starts the process's signal thread on first use.
  public func installProcessHandlers() {
    ProcessSignals.shared.register(self)
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

  /// The signals that stop a command: SIGTERM and SIGINT.
  public static let stopSignals: [Int32] = [SIGTERM, SIGINT]

  /// Blocks SIGTERM and SIGINT in the calling thread, and so in every thread it starts later
  /// (threads inherit the mask, and `exec` keeps it). The executable calls this first thing in
  /// `main`, before any thread of its own exists; the signal thread then takes them.
  public static func blockProcessSignals() {
    var set = stopSignalSet()
    pthread_sigmask(SIG_BLOCK, &set, nil)
  }

  /// Whether a thread of this process other than the caller would take SIGTERM or SIGINT
  /// itself (it does not block them), reading `/proc/self/task/*/status`. Libraries can start
  /// threads before `main` (OpenBLAS starts its pool when it is loaded): such a thread would
  /// end the process on SIGTERM instead of stopping it cleanly. False when it cannot be told.
  public static var isUnblockedInAnotherThread: Bool {
    // "/proc/thread-self" links to "<pid>/task/<tid>" of the calling thread.
    guard
      let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self"))
        .map({ String($0.split(separator: "/").last ?? "") }),
      let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")
    else { return false }
    let mask = stopSignals.reduce(UInt64(0)) { $0 | (UInt64(1) << UInt64($1 - 1)) }
    for task in tasks where task != own {
      guard
        let status = try? String(
          contentsOfFile: "/proc/self/task/\(task)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigBlk:") }),
        let blocked = UInt64(
          line.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16)
      else { continue }
      if blocked & mask != mask { return true }
    }
    return false
  }

  static func stopSignalSet() -> sigset_t {
    var set = sigset_t()
    sigemptyset(&set)
    for number in stopSignals { sigaddset(&set, number) }
    return set
  }
}

/// The one thread of the process that takes SIGTERM and SIGINT (`sigwait`) and hands them to
/// every registered `ShutdownSignal`.
private final class ProcessSignals: Sendable {
  static let shared = ProcessSignals()

  private struct State {
    var received = 0
    var listeners: [WeakSignal] = []
  }

  private struct WeakSignal {
    weak var signal: ShutdownSignal?
  }

  private let state = Mutex(State())

  private init() {
    let thread = Thread.named("iak-signals") { [self] in run() }
    thread.start()
  }

  func register(_ signal: ShutdownSignal) {
    let received = state.withLock { state in
      state.listeners.removeAll { $0.signal == nil }
      state.listeners.append(WeakSignal(signal: signal))
      return state.received
    }
    if received > 0 { signal.request() }
  }

  private func run() {
    var set = ShutdownSignal.stopSignalSet()
    // sigwait takes only signals blocked in its thread (this one inherits the block when the
    // executable set it; a process that did not, such as a test runner, gets it here).
    pthread_sigmask(SIG_BLOCK, &set, nil)
    while true {
      var number: Int32 = 0
      guard sigwait(&set, &number) == 0 else { continue }
      let (received, listeners) = state.withLock { state in
        state.received += 1
        return (state.received, state.listeners.compactMap(\.signal))
      }
      if received > 1 { _exit(130) }
      for listener in listeners { listener.request() }
    }
  }
}
