#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Loading and listing snapshots, verifying everything before a snapshot is returned.
extension SnapshotStore {
  /// Loads the newest snapshot that passes every check, passing over bad newer ones.
  ///
  /// Starts from the newest version folder and goes back until one loads; each refused version
  /// is in `skipped` with its reason. `LATEST` is the commit point of writes, but a version
  /// newer than the one it names is complete (its files were fsynced before its folder was
  /// renamed into place) and is used when it verifies: a commit interrupted by a crash, or a
  /// stale `LATEST`, never costs a verified snapshot. Every problem with `LATEST` (missing,
  /// empty or garbage, naming a version that does not exist or an older one than the snapshot
  /// used) is in `latestProblem`. `expectingBackbone` is the configured backbone's sha256; nil skips that check (for
  /// inspection tools). Throws only if the store's folder cannot be listed.
  ///
  /// `accepting` checks what only the caller can (the payload against the manifest); a
  /// problem it names makes the version skipped as corrupt, like a failed checksum.
  public func loadNewestValid(
    expectingBackbone backboneSHA256: String?,
    accepting check: ((Snapshot) -> String?)? = nil
  ) throws(SnapshotStoreError) -> SnapshotLoadResult {
    let versions = try versionsOnDisk()
    let candidates = versions.sorted(by: >)
    var skipped: [SkippedSnapshot] = []
    var latestProblem: String?
    let latestFile = SnapshotStore.readLatest(in: directory)
    switch latestFile {
    case .version(let latest):
      if !versions.contains(latest) {
        latestProblem =
          "\(directory)/\(SnapshotStore.latestFileName) names snapshot \(latest), which does not "
          + "exist; using the newest valid version instead"
        skipped.append(
          SkippedSnapshot(
            version: latest,
            error: SnapshotStoreError(
              .missing, version: latest,
              "LATEST names snapshot \(latest) but \(folder(of: latest)) does not exist")))
      }
    case .missing:
      if !versions.isEmpty {
        latestProblem =
          "\(directory)/\(SnapshotStore.latestFileName) is missing; trying every version folder"
      }
    case .unreadable(let problem):
      latestProblem = problem + "; trying every version folder"
    }
    for version in candidates {
      do throws(SnapshotStoreError) {
        let snapshot = try load(version: version, expectingBackbone: backboneSHA256)
        if let problem = check?(snapshot) {
          throw SnapshotStoreError(.corrupt, version: version, "\(folder(of: version)): \(problem)")
        }
        if case .version(let latest) = latestFile, version > latest {
          latestProblem =
            "\(directory)/\(SnapshotStore.latestFileName) names snapshot \(latest) but snapshot "
            + "\(version) is newer than LATEST, complete and verified (a commit interrupted by "
            + "a crash, or a stale LATEST): using \(version); the next snapshot rewrites LATEST"
        }
        return SnapshotLoadResult(
          snapshot: snapshot, skipped: skipped, latestProblem: latestProblem)
      } catch {
        skipped.append(SkippedSnapshot(version: version, error: error))
      }
    }
    return SnapshotLoadResult(snapshot: nil, skipped: skipped, latestProblem: latestProblem)
  }

  /// Loads version `version`, verifying its manifest, every file's size and sha256, the
  /// payload's safetensors structure, and (unless nil) the backbone sha256.
  ///
  /// Throws `SnapshotStoreError`: `.missing` (no such version), `.corrupt` (manifest missing or
  /// malformed, file missing, truncated or failing its checksum, payload not valid safetensors),
  /// `.unsupportedFormat`, `.backboneMismatch`, or `.storage` (a read failed).
  public func load(
    version: Int, expectingBackbone backboneSHA256: String?
  ) throws(SnapshotStoreError) -> Snapshot {
    let folder = folder(of: version)
    guard FileBytes.isDirectory(folder) else {
      throw SnapshotStoreError(.missing, version: version, "snapshot \(folder) does not exist")
    }
    let manifest = try readManifest(version: version)
    if let backboneSHA256, manifest.backboneSHA256 != backboneSHA256 {
      throw SnapshotStoreError(
        .backboneMismatch, version: version,
        "snapshot \(folder) was made for backbone sha256 \(manifest.backboneSHA256) but the "
          + "configured backbone has sha256 \(backboneSHA256); configure the backbone it was "
          + "trained with, or start from another checkpoint.dir")
    }
    guard manifest.files[SnapshotStore.payloadFileName] != nil else {
      throw SnapshotStoreError(
        .corrupt, version: version,
        "\(folder)/\(SnapshotManifest.fileName) lists no \(SnapshotStore.payloadFileName)")
    }
    var payload: SafeTensors?
    for name in manifest.files.keys.sorted() {
      let bytes = try readVerified(name, of: manifest, in: folder)
      if name == SnapshotStore.payloadFileName {
        do {
          payload = try SafeTensors.decode(bytes)
        } catch {
          throw SnapshotStoreError(
            .corrupt, version: version,
            "\(folder)/\(name) matches its checksum but is not valid safetensors: \(error)")
        }
      }
    }
    return Snapshot(manifest: manifest, payload: payload!)
  }

  /// Every version folder in ascending order, with its manifest when readable (checksums of the
  /// files are not verified; `load(version:expectingBackbone:)` does that).
  ///
  /// Throws `SnapshotStoreError` (`.storage`) if the folder cannot be listed.
  public func listVersions() throws(SnapshotStoreError) -> [SnapshotListing] {
    let latest = SnapshotStore.readLatest(in: directory)
    return try versionsOnDisk().sorted().map { version in
      let isLatest = latest == .version(version)
      do throws(SnapshotStoreError) {
        return SnapshotListing(
          version: version, manifest: try readManifest(version: version), problem: nil,
          isLatest: isLatest)
      } catch {
        return SnapshotListing(version: version, manifest: nil, problem: error, isLatest: isLatest)
      }
    }
  }

  /// The version `LATEST` names, or nil if it is missing or unreadable.
  public var latestVersion: Int? {
    if case .version(let version) = SnapshotStore.readLatest(in: directory) { return version }
    return nil
  }

  private func versionsOnDisk() throws(SnapshotStoreError) -> [Int] {
    do {
      return try FileBytes.list(directory).compactMap(SnapshotStore.version(named:))
    } catch {
      throw SnapshotStoreError(error, version: nil, context: "listing snapshot store")
    }
  }

  /// The bytes of `path`, a file of snapshot `version`: a missing file is a corrupt snapshot
  /// (`ifMissing` says why), any other failure a storage error in `context`.
  private func read(_ path: String, of version: Int, context: String, ifMissing: String)
    throws(SnapshotStoreError) -> [UInt8]
  {
    do {
      return try FileBytes.readAll(path)
    } catch {
      if error.code == ENOENT { throw SnapshotStoreError(.corrupt, version: version, ifMissing) }
      throw SnapshotStoreError(error, version: version, context: context)
    }
  }

  private func readManifest(version: Int) throws(SnapshotStoreError) -> SnapshotManifest {
    let path = folder(of: version) + "/" + SnapshotManifest.fileName
    let bytes = try read(
      path, of: version, context: "reading manifest",
      ifMissing: "\(path) is missing; the snapshot is incomplete and cannot be verified")
    // The manifest's own checksum (absent in snapshots written before it was recorded): a
    // damaged manifest would otherwise be trusted, its offsets above all.
    let checksumPath = folder(of: version) + "/" + SnapshotManifest.checksumFileName
    if FileBytes.exists(checksumPath) {
      let line: [UInt8]
      do {
        line = try FileBytes.readAll(checksumPath)
      } catch {
        throw SnapshotStoreError(error, version: version, context: "reading manifest checksum")
      }
      guard let expected = SnapshotManifest.checksum(inLine: line) else {
        throw SnapshotStoreError(
          .corrupt, version: version,
          "\(checksumPath) is not one line '<sha256>  \(SnapshotManifest.fileName)'; the file was "
            + "damaged after it was written")
      }
      let actual = SHA256.hexDigest(of: bytes)
      guard actual == expected else {
        throw SnapshotStoreError(
          .corrupt, version: version,
          "\(path) fails its checksum: sha256 \(actual), \(SnapshotManifest.checksumFileName) "
            + "says \(expected); the manifest was damaged after it was written")
      }
    }
    let manifest: SnapshotManifest
    do {
      manifest = try SnapshotManifest.decode(bytes)
    } catch {
      throw SnapshotStoreError(
        error.isUnknownFormatVersion ? .unsupportedFormat : .corrupt, version: version,
        "\(path): \(error.message)")
    }
    guard manifest.version == version else {
      throw SnapshotStoreError(
        .corrupt, version: version,
        "\(path) says snapshot_version \(manifest.version) but lies in folder \(version)")
    }
    return manifest
  }

  private func readVerified(
    _ name: String, of manifest: SnapshotManifest, in folder: String
  ) throws(SnapshotStoreError) -> [UInt8] {
    let path = folder + "/" + name
    let expected = manifest.files[name]!
    let bytes = try read(
      path, of: manifest.version, context: "reading snapshot",
      ifMissing: "\(path) is listed in the manifest but missing")
    guard bytes.count == expected.byteCount else {
      let how = bytes.count < expected.byteCount ? "truncated: " : ""
      throw SnapshotStoreError(
        .corrupt, version: manifest.version,
        "\(path) is \(how)\(bytes.count) bytes but the manifest says \(expected.byteCount)")
    }
    let actual = SHA256.hexDigest(of: bytes)
    guard actual == expected.sha256 else {
      throw SnapshotStoreError(
        .corrupt, version: manifest.version,
        "\(path) fails its checksum: sha256 \(actual), manifest says \(expected.sha256); "
          + "the file was damaged after it was written")
    }
    return bytes
  }
}
