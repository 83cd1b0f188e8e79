import Base
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A versioned, crash-safe store of snapshots in one folder, generic over what they hold.
///
/// Layout: `<directory>/<version>/kernels.safetensors`, `manifest.json` and `manifest.sha256`
/// (the manifest's own checksum, in `sha256sum` form), and
/// `<directory>/LATEST` holding the newest committed version. A write builds the snapshot in a
/// temporary folder inside `directory`, fsyncs its files and the folder, renames it to its
/// version, fsyncs `directory`, then replaces `LATEST` atomically: that replacement is the commit
/// point. A write that fails at any stage removes what it made, so the previous versions stay
/// loadable and the store stays usable. Versions only grow, across restarts too. Retention keeps
/// the newest `keep` versions. One store writes a folder at a time: the first to take its
/// `.lock` (`flock`) is the writer until it is freed; others can read and list meanwhile.
public final class SnapshotStore: Sendable {
  /// The name of the payload file in a snapshot folder.
  public static let payloadFileName = "kernels.safetensors"
  /// The name of the file naming the newest committed version.
  public static let latestFileName = "LATEST"
  /// The prefix of temporary folders (a write in progress or a removal).
  static let temporaryPrefix = ".tmp-"

  /// The store's folder.
  public let directory: String
  /// How many versions retention keeps (at least 1).
  public let keep: Int
  /// Leftovers of interrupted writes that opening removed (paths), for the caller to log.
  public let removedLeftovers: [String]
  /// Leftovers that opening could not remove, for the caller to log.
  public let cleanupFailures: [StorageError]

  let faults: StorageFaults
  private let clock: @Sendable () -> Date
  /// The writer's state; its lock also makes writes happen one at a time.
  private let writer: Mutex<Writer>

  private struct Writer {
    /// The highest version seen on disk or handed out.
    var highestVersion: Int
    /// The open `.lock` file while this store holds the folder's lock.
    var lockDescriptor: Int32?
  }

  /// The file whose `flock` marks the process writing to the folder.
  static let lockFileName = ".lock"

  /// Opens the store in `directory`, removing leftovers of failed writes if no other store
  /// holds the folder's lock.
  ///
  /// With `createIfMissing` (the default, for the service) a missing folder is created; without
  /// it (for inspection commands) a missing folder is an error. Throws `SnapshotStoreError`:
  /// `.invalidRequest` if `keep` < 1 or `directory` is empty or not a folder, `.missing` if it
  /// does not exist and may not be created, `.storage` if it cannot be created or listed.
  public init(
    directory: String, keep: Int, createIfMissing: Bool = true, faults: StorageFaults = .none,
    clock: @escaping @Sendable () -> Date = { Date() }
  ) throws(SnapshotStoreError) {
    guard !directory.isEmpty else {
      throw SnapshotStoreError(.invalidRequest, "checkpoint directory is empty; set checkpoint.dir")
    }
    guard keep >= 1 else {
      throw SnapshotStoreError(
        .invalidRequest, "checkpoint.keep is \(keep); keep at least 1 snapshot")
    }
    self.directory = directory
    self.keep = keep
    self.faults = faults
    self.clock = clock
    if !createIfMissing && !FileBytes.exists(directory) {
      throw SnapshotStoreError(
        .missing, "checkpoint directory \(directory) does not exist; check --checkpoint-dir")
    }
    try SnapshotStore.createFolder(directory)
    // The first service store to lock the folder is its writer and may clean it; others only
    // read until the lock is free (see `write`). Inspection stores (`createIfMissing: false`)
    // never take the lock at opening, so looking at a store never keeps a service from starting.
    let descriptor = createIfMissing ? try? SnapshotStore.lockFolder(directory) : nil
    let scan = try SnapshotStore.scan(directory, removingLeftovers: descriptor != nil, faults)
    self.removedLeftovers = scan.removed
    self.cleanupFailures = scan.failures
    self.writer = Mutex(Writer(highestVersion: scan.highest, lockDescriptor: descriptor))
  }

  deinit {
    writer.withLock { state in
      if let descriptor = state.lockDescriptor { close(descriptor) }
    }
  }

  /// Writes `payload` as the next version and makes it the newest, durably.
  ///
  /// `offsets` are the next offsets to read per partition; `backboneSHA256` and
  /// `configurationDigest` are recorded for loading to check; `extras` are free-form strings.
  /// On failure nothing of the new version remains and `LATEST` still names the previous one.
  /// Throws `SnapshotStoreError` (`.storage` with the failed stage, `.invalidRequest` for a
  /// tensor named `__metadata__`).
  @discardableResult
  public func write(
    _ payload: SafeTensors, offsets: [TopicPartition: Int64], backboneSHA256: String,
    configurationDigest: String, extras: [String: String] = [:]
  ) throws(SnapshotStoreError) -> SnapshotWriteReport {
    guard payload.tensors[SafeTensors.metadataKey] == nil else {
      throw SnapshotStoreError(
        .invalidRequest,
        "a tensor is named \(SafeTensors.metadataKey), which safetensors reserves; rename it")
    }
    return try writer.withLock { state throws(SnapshotStoreError) in
      var leftovers: [String] = []
      var leftoverFailures: [StorageError] = []
      if state.lockDescriptor == nil {
        state.lockDescriptor = try SnapshotStore.lockFolder(directory)
        // Another process may have written while this one waited for the lock.
        let scan = try SnapshotStore.scan(directory, removingLeftovers: true, faults)
        state.highestVersion = max(state.highestVersion, scan.highest)
        leftovers = scan.removed
        leftoverFailures = scan.failures
      }
      state.highestVersion += 1
      // Never write over a folder that appeared behind this store's back.
      while FileBytes.exists(folder(of: state.highestVersion)) { state.highestVersion += 1 }
      let version = state.highestVersion
      let manifest = try writeFolder(payload, version: version) { files in
        SnapshotManifest(
          version: version,
          createdAtMilliseconds: Int64((clock().timeIntervalSince1970 * 1000).rounded(.down)),
          backboneSHA256: backboneSHA256, configurationDigest: configurationDigest,
          offsets: offsets, files: files, extras: extras)
      }
      try commit(version)
      let (removed, failures) = prune(upTo: version)
      return SnapshotWriteReport(
        manifest: manifest, removedVersions: removed, removedLeftovers: leftovers,
        pruneFailures: leftoverFailures + failures)
    }
  }

  /// Makes this store the folder's writer now and checks that a file can be created in it, so
  /// a service refuses at start-up rather than at its first snapshot. Idempotent.
  ///
  /// Throws `SnapshotStoreError`: `.locked` if another store or process writes the folder,
  /// `.storage` if the folder is read-only or otherwise refuses a new file (the message names
  /// the folder, the system's reason and what to check).
  public func claimWriting() throws(SnapshotStoreError) {
    try writer.withLock { state throws(SnapshotStoreError) in
      if state.lockDescriptor == nil {
        state.lockDescriptor = try SnapshotStore.lockFolder(directory)
        let scan = try SnapshotStore.scan(directory, removingLeftovers: true, faults)
        state.highestVersion = max(state.highestVersion, scan.highest)
      }
      // The lock file may predate a read-only remount: probe with a new file.
      let probe =
        directory + "/" + SnapshotStore.temporaryPrefix + "probe-" + AtomicFile.uniqueSuffix()
      do throws(StorageError) {
        try AtomicFile.writeNewFile([0x0A], to: probe, faults: faults)
        unlink(probe)
      } catch {
        throw SnapshotStoreError(
          error, version: nil, context: "checking that \(directory) can take snapshots")
      }
    }
  }

  /// The path of version `version`'s folder.
  public func folder(of version: Int) -> String {
    directory + "/" + String(version)
  }

  /// Builds the snapshot in a temporary folder and renames it to `version`.
  private func writeFolder(
    _ payload: SafeTensors, version: Int,
    manifest makeManifest: ([String: SnapshotManifest.File]) -> SnapshotManifest
  ) throws(SnapshotStoreError) -> SnapshotManifest {
    let context = "writing snapshot \(version) in \(directory)"
    let temporary =
      directory + "/" + SnapshotStore.temporaryPrefix + "\(version)-" + AtomicFile.uniqueSuffix()
    do throws(StorageError) {
      try faults.check(.createTemp, temporary, action: "creating folder")
      guard mkdir(temporary, 0o755) == 0 else {
        throw StorageError(
          stage: .createTemp, path: temporary, code: errno, action: "creating folder")
      }
    } catch {
      throw SnapshotStoreError(error, version: version, context: context)
    }
    do throws(StorageError) {
      // Written piece by piece: no second copy of the tensors in memory.
      let segments = payload.encodedSegments()
      try AtomicFile.writeNewFile(
        segments: segments, to: temporary + "/" + SnapshotStore.payloadFileName, faults: faults)
      let manifest = makeManifest([
        SnapshotStore.payloadFileName: SnapshotManifest.File(describing: segments)
      ])
      let manifestBytes = manifest.encoded()
      try AtomicFile.writeNewFile(
        manifestBytes, to: temporary + "/" + SnapshotManifest.fileName, faults: faults)
      try AtomicFile.writeNewFile(
        SnapshotManifest.checksumLine(of: manifestBytes),
        to: temporary + "/" + SnapshotManifest.checksumFileName, faults: faults)
      try AtomicFile.synchronizeFolder(temporary, faults: faults)
      let destination = folder(of: version)
      try faults.check(.rename, destination, action: "renaming snapshot folder to")
      guard rename(temporary, destination) == 0 else {
        throw StorageError(
          stage: .rename, path: destination, code: errno, action: "renaming snapshot folder to")
      }
      return manifest
    } catch {
      try? FileBytes.removeTree(temporary)
      throw SnapshotStoreError(error, version: version, context: context)
    }
  }

  /// Makes `version` durable and points `LATEST` at it; undoes the folder if that fails.
  private func commit(_ version: Int) throws(SnapshotStoreError) {
    let latestPath = directory + "/" + SnapshotStore.latestFileName
    do throws(StorageError) {
      try AtomicFile.synchronizeFolder(directory, faults: faults)
      try faults.check(.updateLatest, latestPath, action: "replacing")
      try AtomicFile.write(Array("\(version)\n".utf8), to: latestPath, faults: faults)
    } catch {
      // If LATEST already names the version (only its final fsync failed), keep the folder.
      if SnapshotStore.readLatest(in: directory) != .version(version) {
        try? FileBytes.removeTree(folder(of: version))
        try? AtomicFile.synchronizeFolder(directory, faults: .none)
      }
      throw SnapshotStoreError(
        error, version: version, context: "committing snapshot \(version) in \(directory)")
    }
  }

  /// Removes versions older than the newest `keep` up to `version`, each first renamed to a
  /// temporary name so a crash never leaves a half-removed version that looks real.
  private func prune(upTo version: Int) -> ([Int], [StorageError]) {
    guard let names = try? FileBytes.list(directory) else { return ([], []) }
    let versions = names.compactMap(SnapshotStore.version(named:)).filter { $0 <= version }
      .sorted(by: >)
    var removed: [Int] = []
    var failures: [StorageError] = []
    for old in versions.dropFirst(keep).reversed() {
      let path = folder(of: old)
      let doomed =
        directory + "/" + SnapshotStore.temporaryPrefix + "\(old)-removing-"
        + AtomicFile.uniqueSuffix()
      do throws(StorageError) {
        try faults.check(.prune, path, action: "removing old snapshot")
        guard rename(path, doomed) == 0 else {
          throw StorageError(
            stage: .prune, path: path, code: errno, action: "removing old snapshot")
        }
        try FileBytes.removeTree(doomed)
        removed.append(old)
      } catch {
        failures.append(error)
      }
    }
    if !removed.isEmpty {
      try? AtomicFile.synchronizeFolder(directory, faults: .none)
    }
    return (removed, failures)
  }

  /// Takes the folder's writer lock (`flock` on `.lock`, released when the store is freed or
  /// the process ends), so two processes never write one store.
  ///
  /// Throws `SnapshotStoreError`: `.locked` if another store or process holds the lock,
  /// `.storage` if the lock file cannot be created (a read-only folder).
  private static func lockFolder(_ directory: String) throws(SnapshotStoreError) -> Int32 {
    let path = directory + "/" + lockFileName
    let context = "writing snapshot in \(directory)"
    let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
      throw SnapshotStoreError(
        StorageError(stage: .createTemp, path: path, code: errno, action: "creating lock file"),
        version: nil, context: context)
    }
    guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
      let code = errno
      close(descriptor)
      if code == EWOULDBLOCK {
        throw SnapshotStoreError(
          .locked,
          "checkpoint directory \(directory) is being written by another process (it holds "
            + "\(path)); give each iak-stream process its own checkpoint.dir")
      }
      throw SnapshotStoreError(
        StorageError(stage: .createTemp, path: path, code: code, action: "locking"),
        version: nil, context: context)
    }
    return descriptor
  }

  /// Finds the highest version on disk (committed, uncommitted, or in a leftover's name) and,
  /// when this store holds the lock, removes leftovers of interrupted writes and versions newer
  /// than `LATEST` (renamed but never committed).
  private static func scan(
    _ directory: String, removingLeftovers: Bool, _ faults: StorageFaults
  ) throws(SnapshotStoreError) -> (highest: Int, removed: [String], failures: [StorageError]) {
    let names: [String]
    do {
      names = try FileBytes.list(directory)
    } catch {
      throw SnapshotStoreError(error, version: nil, context: "opening snapshot store")
    }
    let versions = names.compactMap(version(named:))
    let leftovers = names.filter { $0.hasPrefix(".") && $0.contains(AtomicFile.temporaryMarker) }
    var highest = versions.max() ?? 0
    for name in leftovers where name.hasPrefix(temporaryPrefix) {
      if let version = Int(name.dropFirst(temporaryPrefix.count).prefix { $0 != "-" }) {
        highest = max(highest, version)
      }
    }
    // A version newer than LATEST was renamed into place but its commit was interrupted (or
    // LATEST is stale): its files were complete and fsynced before the rename, so it is kept
    // when it verifies, and loading takes it as the newest; one that does not verify is what
    // an interrupted write left. LATEST naming a version that does not exist does not move
    // the numbering: it goes on from the versions on disk.
    guard removingLeftovers else { return (highest, [], []) }
    var uncommitted: [String] = []
    if case .version(let latest) = readLatest(in: directory) {
      uncommitted = versions.filter { version in
        version > latest && !isComplete(version: version, in: directory)
      }.map(String.init)
    }
    var removed: [String] = []
    var failures: [StorageError] = []
    for name in leftovers + uncommitted {
      let path = directory + "/" + name
      do throws(StorageError) {
        try faults.check(.prune, path, action: "removing leftover")
        try FileBytes.removeTree(path)
        removed.append(path)
      } catch {
        failures.append(error)
      }
    }
    if !removed.isEmpty {
      try? AtomicFile.synchronizeFolder(directory, faults: faults)
    }
    return (highest, removed, failures)
  }

  /// Whether version `version` of the store in `directory` passes every check of loading.
  private static func isComplete(version: Int, in directory: String) -> Bool {
    guard
      let store = try? SnapshotStore(
        directory: directory, keep: 1, createIfMissing: false)
    else { return false }
    return (try? store.load(version: version, expectingBackbone: nil)) != nil
  }

  /// The version a folder name denotes: a positive decimal without leading zeros.
  static func version(named name: String) -> Int? {
    guard let version = Int(name), version > 0, String(version) == name else { return nil }
    return version
  }

  /// What `LATEST` says.
  enum Latest: Equatable {
    case missing
    case unreadable(String)
    case version(Int)
  }

  /// Reads `LATEST` in `directory`.
  static func readLatest(in directory: String) -> Latest {
    let path = directory + "/" + latestFileName
    let bytes: [UInt8]
    do {
      bytes = try FileBytes.readAll(path)
    } catch {
      if error.code == ENOENT { return .missing }
      return .unreadable("cannot read \(path): \(error.reason)")
    }
    let text = String(decoding: bytes, as: UTF8.self)
    let trimmed = text.hasSuffix("\n") ? String(text.dropLast()) : text
    guard let version = SnapshotStore.version(named: trimmed) else {
      return .unreadable(
        "\(path) holds \(JSONText.quote(String(trimmed.prefix(40)))), not a version")
    }
    return .version(version)
  }

  /// Creates `path` and its missing parents.
  private static func createFolder(_ path: String) throws(SnapshotStoreError) {
    if FileBytes.isDirectory(path) { return }
    if FileBytes.exists(path) {
      throw SnapshotStoreError(
        .invalidRequest, "checkpoint directory \(path) exists but is not a folder")
    }
    let parent = FileBytes.parent(of: path)
    if parent != path && !FileBytes.exists(parent) {
      try createFolder(parent)
    }
    guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
      throw SnapshotStoreError(
        StorageError(stage: .createTemp, path: path, code: errno, action: "creating folder"),
        version: nil, context: "opening snapshot store")
    }
  }
}
