#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Durable, all-or-nothing file writes: readers see the old file or the new one, never a mix,
/// and once a write returns the new file survives a crash.
///
/// The steps are: create a temporary file in the destination's folder, write, `fsync` it,
/// rename it over the destination, `fsync` the folder. Each step consults a `StorageFaults` hook
/// so tests can fail any of them; on failure the temporary file is removed and the destination
/// is left as it was.
public enum AtomicFile {
  /// The marker in the names of temporary files and folders, so leftovers can be recognised.
  public static let temporaryMarker = ".tmp-"

  /// Writes `bytes` to `path` atomically and durably.
  ///
  /// Throws `StorageError` naming the failed stage, the path and the system's reason.
  public static func write(
    _ bytes: [UInt8], to path: String, faults: StorageFaults = .none
  ) throws(StorageError) {
    let folder = FileBytes.parent(of: path)
    let temporary =
      folder + "/." + FileBytes.lastComponent(of: path) + temporaryMarker + uniqueSuffix()
    try writeNewFile(bytes, to: temporary, faults: faults)
    do throws(StorageError) {
      try faults.check(.rename, path, action: "replacing")
      guard rename(temporary, path) == 0 else {
        throw StorageError(stage: .rename, path: path, code: errno, action: "replacing")
      }
    } catch {
      unlink(temporary)
      throw error
    }
    try synchronizeFolder(folder, faults: faults)
  }

  /// Creates `path` (which must not exist), writes `bytes` and fsyncs it; removes it on failure.
  static func writeNewFile(
    _ bytes: [UInt8], to path: String, faults: StorageFaults
  ) throws(StorageError) {
    try writeNewFile(segments: [bytes], to: path, faults: faults)
  }

  /// Creates `path` (which must not exist), writes `segments` back to back and fsyncs it;
  /// removes it on failure.
  static func writeNewFile(
    segments: [[UInt8]], to path: String, faults: StorageFaults
  ) throws(StorageError) {
    try faults.check(.createTemp, path, action: "creating")
    let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
      throw StorageError(stage: .createTemp, path: path, code: errno, action: "creating")
    }
    var closed = false
    defer { if !closed { close(descriptor) } }
    do throws(StorageError) {
      try faults.check(.write, path, action: "writing")
      for bytes in segments {
        var written = 0
        while written < bytes.count {
          let wanted = bytes.count - written
          let fits = faults.writableBytes(wanted)
          var count = 0
          if fits > 0 {
            count = bytes.withUnsafeBytes { raw in
              writeSome(descriptor, raw.baseAddress! + written, fits)
            }
          }
          if count < 0 {
            if errno == EINTR { continue }
            throw StorageError(stage: .write, path: path, code: errno, action: "writing")
          }
          written += count
          if fits < wanted && written < bytes.count {
            throw StorageError(stage: .write, path: path, code: ENOSPC, action: "writing")
          }
        }
      }
      try faults.check(.fsync, path, action: "flushing")
      guard fsync(descriptor) == 0 else {
        throw StorageError(stage: .fsync, path: path, code: errno, action: "flushing")
      }
      closed = true
      guard close(descriptor) == 0 else {
        throw StorageError(stage: .write, path: path, code: errno, action: "closing")
      }
    } catch {
      unlink(path)
      throw error
    }
  }

  /// Flushes folder `path` so renames and new entries in it survive a crash.
  static func synchronizeFolder(_ path: String, faults: StorageFaults) throws(StorageError) {
    try faults.check(.fsync, path, action: "flushing folder")
    let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw StorageError(stage: .fsync, path: path, code: errno, action: "flushing folder")
    }
    defer { close(descriptor) }
    guard fsync(descriptor) == 0 else {
      throw StorageError(stage: .fsync, path: path, code: errno, action: "flushing folder")
    }
  }

  /// Removes temporary files left in `folder` by writes that were interrupted (a crash between
  /// creating and renaming); call it when a process starts using a folder it writes into.
  ///
  /// Returns the paths removed. Throws `StorageError` if the folder cannot be listed or a
  /// leftover cannot be removed.
  @discardableResult
  public static func removeLeftovers(in folder: String) throws(StorageError) -> [String] {
    var removed: [String] = []
    for name in try FileBytes.list(folder)
    where name.hasPrefix(".") && name.contains(temporaryMarker) {
      try FileBytes.removeTree(folder + "/" + name)
      removed.append(folder + "/" + name)
    }
    return removed
  }

  /// A suffix unlikely to collide between processes and calls: pid and a random number.
  static func uniqueSuffix() -> String {
    "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
  }
}

/// `write(2)`, named apart from `AtomicFile.write` so the call is unambiguous on every platform.
private func writeSome(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
  #if canImport(Glibc)
    Glibc.write(descriptor, buffer, count)
  #else
    Darwin.write(descriptor, buffer, count)
  #endif
}
