/// A hook that makes storage operations fail on purpose, to test recovery at every stage.
///
/// Before each stage the code asks the hook; a returned `errno` makes that stage fail exactly as
/// if the system had reported it. Production code uses `.none`.
public struct StorageFaults: Sendable {
  private let inject: @Sendable (StorageStage, String) -> Int32?
  private let disk: SimulatedDisk?

  /// Creates a hook that returns the `errno` with which `stage` on `path` should fail, or nil.
  public init(_ inject: @escaping @Sendable (_ stage: StorageStage, _ path: String) -> Int32?) {
    self.inject = inject
    self.disk = nil
  }

  private init(disk: SimulatedDisk) {
    self.inject = { _, _ in nil }
    self.disk = disk
  }

  /// Writes take their bytes from `disk`: once it is full, a write stores what fits and fails
  /// with `ENOSPC` (a disk that fills mid-write).
  public static func writing(to disk: SimulatedDisk) -> StorageFaults {
    StorageFaults(disk: disk)
  }

  /// How many of the `count` bytes about to be written fit (all of them without a disk).
  func writableBytes(_ count: Int) -> Int {
    disk?.take(count) ?? count
  }

  /// No faults: every stage runs for real.
  public static let none = StorageFaults { _, _ in nil }

  /// Fails every occurrence of `stage` with `code` (for example `ENOSPC` or `EIO`).
  public static func failing(at stage: StorageStage, with code: Int32) -> StorageFaults {
    StorageFaults { candidate, _ in candidate == stage ? code : nil }
  }

  /// Throws the injected failure for `stage` on `path`, if any.
  func check(_ stage: StorageStage, _ path: String, action: String) throws(StorageError) {
    if let code = inject(stage, path) {
      throw StorageError(stage: stage, path: path, code: code, action: action)
    }
  }
}
