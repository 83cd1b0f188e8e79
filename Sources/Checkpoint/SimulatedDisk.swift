import Synchronization

/// A disk of limited free space for storage-fault tests: every byte written through a
/// `StorageFaults.writing(to:)` hook is taken from `freeBytes`, and the write that does not fit
/// writes what does, then fails with `ENOSPC` as a full disk would, mid-file.
public final class SimulatedDisk: Sendable {
  private let state: Mutex<(free: Int, written: Int)>

  /// A disk with `freeBytes` bytes free.
  public init(freeBytes: Int) {
    state = Mutex((max(freeBytes, 0), 0))
  }

  /// The bytes that can still be written.
  public var freeBytes: Int {
    get { state.withLock { $0.free } }
    set { state.withLock { $0.free = max(newValue, 0) } }
  }

  /// The bytes written so far.
  public var writtenBytes: Int { state.withLock { $0.written } }

  /// Takes up to `count` bytes of free space and returns how many were granted.
  func take(_ count: Int) -> Int {
    state.withLock { state in
      let granted = min(count, state.free)
      state.free -= granted
      state.written += granted
      return granted
    }
  }
}
