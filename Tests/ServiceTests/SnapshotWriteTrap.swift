import Checkpoint
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Lands a SIGKILL inside a snapshot write: watches a checkpoint folder with inotify and kills
/// the writing process the moment its write reaches a chosen step, as seen from outside (the
/// names `SnapshotStore` and `AtomicFile` give their temporary files).
///
/// Whether the kill really landed inside the write is read afterwards from what the write left
/// (`interruptedWrite(in:)`): the process may have finished the step before the signal came.
final class SnapshotWriteTrap {
  /// The step of a snapshot write at which to kill.
  enum Step: String, CaseIterable, CustomStringConvertible {
    /// The temporary snapshot folder `.tmp-<version>-...` was just created: the payload and
    /// manifest are being written and fsynced.
    case buildingFolder = "building the folder"
    /// The temporary `.LATEST.tmp-...` was just created: the new version's folder is in place
    /// and `LATEST` is being replaced (the commit).
    case committing = "committing LATEST"
    /// `LATEST` was just replaced: old versions are pruned and the kernels published.
    case committed = "just after the commit"

    var description: String { rawValue }

    /// Whether the inotify event (`mask`, entry `name`) is this step.
    func matches(mask: UInt32, name: String) -> Bool {
      switch self {
      case .buildingFolder:
        return mask & UInt32(IN_CREATE) != 0 && name.hasPrefix(".tmp-")
          && name.dropFirst(5).first?.isNumber == true && !name.contains("-removing-")
      case .committing:
        return mask & UInt32(IN_CREATE) != 0
          && name.hasPrefix(".LATEST" + AtomicFile.temporaryMarker)
      case .committed:
        return mask & UInt32(IN_MOVED_TO) != 0 && name == SnapshotStore.latestFileName
      }
    }
  }

  private let descriptor: Int32
  let folder: String

  /// Starts watching `folder` (created if missing); only writes after this call are seen.
  init(folder: String) throws {
    self.folder = folder
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    descriptor = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
    guard descriptor >= 0,
      inotify_add_watch(descriptor, folder, UInt32(IN_CREATE | IN_MOVED_TO)) >= 0
    else {
      throw CocoaError(.fileReadUnknown, userInfo: ["reason": "inotify: errno \(errno)"])
    }
  }

  deinit { close(descriptor) }

  /// Blocks until the `occurrence`-th snapshot write seen reaches `step`, then SIGKILLs `pid`
  /// at once; returns whether it fired before `timeout` (false: no such write came, nothing
  /// was killed). `nudge` is called every `nudgeEvery` until then (a test gives the process more
  /// records to snapshot: records already waiting when it starts come in few large chunks, so in
  /// few writes).
  func kill(
    _ pid: pid_t, at step: Step, occurrence: Int, timeout: Duration,
    nudgeEvery: Duration = .seconds(3), nudge: () -> Void = {}
  ) -> Bool {
    let deadline = ContinuousClock.now + timeout
    var nextNudge = ContinuousClock.now + nudgeEvery
    var seen = 0
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while ContinuousClock.now < deadline {
      if ContinuousClock.now >= nextNudge {
        nudge()
        nextNudge = ContinuousClock.now + nudgeEvery
      }
      var watched = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
      guard poll(&watched, 1, 50) > 0 else { continue }
      let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      guard count > 0 else { continue }
      for (mask, name) in Self.events(in: buffer[0..<count])
      where step.matches(mask: mask, name: name) {
        seen += 1
        if seen == occurrence {
          Glibc.kill(pid, SIGKILL)
          return true
        }
      }
    }
    return false
  }

  /// The (mask, name) of each `struct inotify_event` in `bytes`: wd, mask, cookie, len (4 bytes
  /// each), then a NUL-padded name of len bytes.
  static func events(in bytes: ArraySlice<UInt8>) -> [(UInt32, String)] {
    var result: [(UInt32, String)] = []
    var offset = bytes.startIndex
    func word(_ at: Int) -> UInt32 {
      (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) }
    }
    while offset + 16 <= bytes.endIndex {
      let mask = word(offset + 4)
      let length = Int(word(offset + 12))
      let nameBytes = bytes[(offset + 16)..<min(offset + 16 + length, bytes.endIndex)]
      result.append((mask, String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)))
      offset += 16 + length
    }
    return result
  }

  /// What an interrupted snapshot write left in store `folder`, or nil when there is nothing:
  /// a temporary snapshot folder, a version folder newer than `LATEST` (renamed, never
  /// committed), or a temporary `LATEST`. Without `LATEST` no version folder counts: the store
  /// then falls back to the newest valid folder (a lost or damaged `LATEST` must not cost the
  /// snapshots), as it does for a first write killed before its commit.
  static func interruptedWrite(in folder: String) -> String? {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    let latest =
      (try? String(contentsOfFile: folder + "/LATEST", encoding: .utf8))
      .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? .max
    var left: [String] = []
    for name in names.sorted() {
      if name.hasPrefix(".tmp-") && !name.contains("-removing-") && !name.contains("probe") {
        left.append("temporary folder of version \(name.dropFirst(5).prefix(while: \.isNumber))")
      } else if let version = Int(name), version > latest {
        left.append("uncommitted version \(version)")
      } else if name.hasPrefix(".LATEST" + AtomicFile.temporaryMarker) {
        left.append("temporary LATEST")
      }
    }
    return left.isEmpty ? nil : left.joined(separator: ", ")
  }
}
