import Base
import Foundation
import Synchronization
import Testing

@testable import Checkpoint

@Suite struct SnapshotStoreTests {
  static let backbone = SHA256.hexDigest(of: Array("backbone v1".utf8))
  static let otherBackbone = SHA256.hexDigest(of: Array("backbone v2".utf8))
  static let fixedClock: @Sendable () -> Date = { Date(timeIntervalSince1970: 1_795_000_000.1234) }

  /// A payload shaped like the service's: kernels of two domains plus pipeline state.
  static func payload(_ seed: Float) -> SafeTensors {
    SafeTensors(
      tensors: [
        "paris|lunch/encoder.weight": Tensor(
          floats: (0..<12).map { Float($0) * seed - 0.3 }, shape: [3, 4]),
        "paris|lunch/adam.step": Tensor(int64s: [Int64(seed * 100)], shape: []),
        "paris|lunch/rng": Tensor(uint64s: [0xDEAD_BEEF, UInt64(seed * 7)], shape: [2]),
        "lyon|dinner/decoder.bias": Tensor(doubles: [Double(seed), -.infinity], shape: [2]),
        "joiner/open_impressions": Tensor(uint8s: Array("{\"id\":1}".utf8), shape: [8]),
      ],
      metadata: ["domains": "paris|lunch,lyon|dinner", "seed": "\(seed)"])
  }

  static let offsets: [TopicPartition: Int64] = [
    TopicPartition(topic: "events", partition: 0): 1234,
    TopicPartition(topic: "events", partition: 1): 99,
    TopicPartition(topic: "clicks", partition: 0): 0,
  ]

  @discardableResult
  static func write(
    _ store: SnapshotStore, _ seed: Float, backbone: String = backbone
  ) throws -> SnapshotWriteReport {
    try store.write(
      payload(seed), offsets: offsets, backboneSHA256: backbone, configurationDigest: "cfg-1",
      extras: ["host": "worker-1"])
  }

  static func names(in path: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: path).sorted()
  }

  @Test func roundTripsBitForBitWithTheDocumentedLayout() throws {
    let folder = try TemporaryFolder()
    let store = try SnapshotStore(directory: folder.path + "/ckpt", keep: 3, clock: Self.fixedClock)
    let report = try Self.write(store, 0.5)
    #expect(report.manifest.version == 1)
    #expect(try Self.names(in: store.directory) == [".lock", "1", "LATEST"])
    #expect(
      try Self.names(in: store.folder(of: 1))
        == ["kernels.safetensors", "manifest.json", "manifest.sha256"])
    #expect(try String(contentsOfFile: store.directory + "/LATEST", encoding: .utf8) == "1\n")

    let result = try store.loadNewestValid(expectingBackbone: Self.backbone)
    let snapshot = try #require(result.snapshot)
    #expect(result.skipped.isEmpty)
    #expect(result.latestProblem == nil)
    #expect(snapshot.payload == Self.payload(0.5))
    #expect(snapshot.payload.encoded() == Self.payload(0.5).encoded())
    #expect(snapshot.manifest == report.manifest)
    #expect(snapshot.manifest.offsets == Self.offsets)
    #expect(snapshot.manifest.extras == ["host": "worker-1"])
    #expect(snapshot.manifest.configurationDigest == "cfg-1")
    #expect(snapshot.manifest.createdAtMilliseconds == 1_795_000_000_123)
    let onDisk = try [UInt8](
      Data(contentsOf: URL(fileURLWithPath: store.folder(of: 1) + "/kernels.safetensors")))
    #expect(onDisk == Self.payload(0.5).encoded())
    #expect(snapshot.manifest.files["kernels.safetensors"]?.sha256 == SHA256.hexDigest(of: onDisk))
    let manifestOnDisk = try [UInt8](
      Data(contentsOf: URL(fileURLWithPath: store.folder(of: 1) + "/manifest.json")))
    #expect(manifestOnDisk == snapshot.manifest.encoded())
    // The payload is the same bytes in every version that holds the same state.
    try Self.write(store, 0.5)
    #expect(try store.load(version: 2, expectingBackbone: nil).payload.encoded() == onDisk)
  }

  @Test func writesTheManifestInAFixedReadableForm() throws {
    let manifest = SnapshotManifest(
      version: 7, createdAtMilliseconds: 1_795_000_000_123, backboneSHA256: "b",
      configurationDigest: "c",
      offsets: [
        TopicPartition(topic: "events", partition: 10): 5,
        TopicPartition(topic: "events", partition: 2): 7,
        TopicPartition(topic: "a", partition: 0): 1,
      ],
      files: [
        "kernels.safetensors": .init(sha256: String(repeating: "0", count: 64), byteCount: 8)
      ],
      extras: ["z": "1", "a": "\"q\""])
    let expected = """
      {
        "format_version": 1,
        "snapshot_version": 7,
        "created_at_ms": 1795000000123,
        "backbone_sha256": "b",
        "configuration_digest": "c",
        "offsets": {"a":{"0":1},"events":{"2":7,"10":5}},
        "files": {"kernels.safetensors":{"sha256":"\(String(repeating: "0", count: 64))","bytes":8}},
        "extras": {"a":"\\"q\\"","z":"1"}
      }

      """
    #expect(String(decoding: manifest.encoded(), as: UTF8.self) == expected)
    #expect(try SnapshotManifest.decode(manifest.encoded()) == manifest)
    #expect(manifest.createdAt == Date(timeIntervalSince1970: 1_795_000_000.123))
  }

  @Test func refusesMalformedManifests() {
    let valid = String(
      decoding: SnapshotManifest(
        version: 1, createdAtMilliseconds: 0, backboneSHA256: "b", configurationDigest: "c",
        offsets: [:], files: [:]
      ).encoded(), as: UTF8.self)
    let cases: [(String, String)] = [
      (
        valid.replacingOccurrences(of: "\"format_version\": 1", with: "\"format_version\": 2"),
        "format_version 2 is not supported"
      ),
      (
        valid.replacingOccurrences(of: "\"snapshot_version\": 1", with: "\"snapshot_version\": -1"),
        "expected a positive integer"
      ),
      (
        valid.replacingOccurrences(of: "\"extras\": {}", with: "\"extras\": {\"k\":1}"),
        "expected a string"
      ),
      (
        valid.replacingOccurrences(of: "\"extras\": {}", with: "\"extras\": {}, \"x\": 1"),
        "unknown field \"x\""
      ),
      (
        valid.replacingOccurrences(
          of: "\"files\": {}", with: "\"files\": {\"../x\":{\"sha256\":\"00\",\"bytes\":1}}"),
        "not a plain file name"
      ),
      (
        valid.replacingOccurrences(of: "\"offsets\": {}", with: "\"offsets\": {\"t\":{\"x\":1}}"),
        "is not a partition number"
      ),
      (String(valid.dropLast(3)), "not valid JSON"),
    ]
    for (text, phrase) in cases {
      do {
        _ = try SnapshotManifest.decode(Array(text.utf8))
        Issue.record("accepted: \(text)")
      } catch {
        #expect(error.message.contains(phrase), "\(error.message)")
        #expect(error.isUnknownFormatVersion == phrase.hasPrefix("format_version"))
      }
    }
  }

  @Test func neverTrapsOnDamagedManifests() {
    let valid = SnapshotManifest(
      version: 3, createdAtMilliseconds: 5, backboneSHA256: "b", configurationDigest: "c",
      offsets: Self.offsets,
      files: [
        "kernels.safetensors": .init(sha256: String(repeating: "a", count: 64), byteCount: 9)
      ],
      extras: ["k": "v"]
    ).encoded()
    var generator = SplitMix64(seed: 5)
    var accepted = 0
    for _ in 0..<3000 {
      var bytes = valid
      for _ in 0..<(1 + Int(generator.next() % 3)) {
        let index = Int(generator.next() % UInt64(bytes.count))
        bytes[index] = UInt8(truncatingIfNeeded: generator.next())
      }
      if let manifest = try? SnapshotManifest.decode(bytes) {
        accepted += 1
        #expect(manifest.formatVersion == 1)
      }
    }
    #expect(accepted < 3000)
  }

  @Test func ignoresForeignFoldersAndChecksTheManifestVersion() throws {
    let folder = try TemporaryFolder()
    let store = try SnapshotStore(directory: folder.path, keep: 2)
    try Self.write(store, 1)
    for name in ["007", "abc", "-3", "0"] {
      try FileManager.default.createDirectory(
        atPath: folder.path + "/" + name, withIntermediateDirectories: false)
    }
    #expect(try store.listVersions().map(\.version) == [1])
    try FileManager.default.moveItem(atPath: store.folder(of: 1), toPath: folder.path + "/2")
    try Data("2\n".utf8).write(to: URL(fileURLWithPath: folder.path + "/LATEST"))
    let result = try store.loadNewestValid(expectingBackbone: nil)
    #expect(result.snapshot == nil)
    #expect(
      result.skipped.first?.error.message.contains("says snapshot_version 1 but lies in folder 2")
        == true)
    // Retention counts only version folders and leaves foreign ones alone.
    try Self.write(store, 3)
    try Self.write(store, 4)
    #expect(
      try Self.names(in: folder.path) == ["-3", ".lock", "0", "007", "3", "4", "LATEST", "abc"])
  }

  /// A way to damage the newest snapshot, and the kind and phrase its refusal must carry.
  struct Damage: Sendable, CustomStringConvertible {
    var description: String
    var kind: SnapshotStoreError.Kind
    var phrase: String
    var apply: @Sendable (_ folder: String) throws -> Void
  }

  static func edit(_ path: String, _ change: (inout [UInt8]) -> Void) throws {
    var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    change(&bytes)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  /// Writes `manifest.sha256` again for the manifest in `folder` as it now is: a damage meant
  /// to reach the manifest's parsing (a newer format, say) and not its checksum.
  static func rechecksum(_ folder: String) throws {
    let manifest = try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json")))
    try Data(SnapshotManifest.checksumLine(of: manifest)).write(
      to: URL(fileURLWithPath: folder + "/manifest.sha256"))
  }

  static let damages: [Damage] = [
    Damage(description: "bit flip", kind: .corrupt, phrase: "fails its checksum") {
      try edit($0 + "/kernels.safetensors") { $0[$0.count - 3] ^= 0x10 }
    },
    Damage(description: "truncated", kind: .corrupt, phrase: "is truncated: ") {
      try edit($0 + "/kernels.safetensors") { $0.removeLast(5) }
    },
    Damage(description: "manifest missing", kind: .corrupt, phrase: "manifest.json is missing") {
      try FileManager.default.removeItem(atPath: $0 + "/manifest.json")
    },
    Damage(
      description: "payload missing", kind: .corrupt, phrase: "listed in the manifest but missing"
    ) {
      try FileManager.default.removeItem(atPath: $0 + "/kernels.safetensors")
    },
    Damage(description: "unknown format", kind: .unsupportedFormat, phrase: "format_version 9") {
      try edit($0 + "/manifest.json") { bytes in
        let text = String(decoding: bytes, as: UTF8.self)
        bytes = Array(
          text.replacingOccurrences(of: "\"format_version\": 1", with: "\"format_version\": 9").utf8
        )
      }
      try rechecksum($0)
    },
    Damage(description: "garbage manifest", kind: .corrupt, phrase: "not valid JSON") {
      try edit($0 + "/manifest.json") { $0 = Array("\u{0}\u{1}garbage".utf8) }
      try rechecksum($0)
    },
    Damage(
      description: "valid checksum, broken safetensors", kind: .corrupt,
      phrase: "not valid safetensors"
    ) {
      folder in
      try edit(folder + "/kernels.safetensors") { $0[8] = UInt8(ascii: "[") }
      let payload = try [UInt8](
        Data(contentsOf: URL(fileURLWithPath: folder + "/kernels.safetensors")))
      try edit(folder + "/manifest.json") { bytes in
        var manifest = try! SnapshotManifest.decode(bytes)
        manifest.files["kernels.safetensors"] = .init(describing: payload)
        bytes = manifest.encoded()
      }
      try rechecksum(folder)
    },
    Damage(description: "folder gone", kind: .missing, phrase: "LATEST names snapshot 2") {
      try FileManager.default.removeItem(atPath: $0)
    },
  ]

  @Test(arguments: damages)
  func refusesADamagedNewestSnapshotAndFallsBack(_ damage: Damage) throws {
    let folder = try TemporaryFolder()
    let store = try SnapshotStore(directory: folder.path, keep: 5)
    try Self.write(store, 1)
    try Self.write(store, 2)
    try damage.apply(store.folder(of: 2))

    let result = try store.loadNewestValid(expectingBackbone: Self.backbone)
    #expect(result.snapshot?.version == 1)
    #expect(result.snapshot?.payload == Self.payload(1))
    #expect(result.skipped.map(\.version) == [2])
    #expect(result.skipped.first?.error.kind == damage.kind)
    let message = result.skipped.first?.error.message ?? ""
    #expect(message.contains(damage.phrase), "\(message)")
    #expect(result.skipped.first?.error.version == 2)
  }

  @Test func refusesAnotherBackboneAndFallsBackToAMatchingOne() throws {
    let folder = try TemporaryFolder()
    let store = try SnapshotStore(directory: folder.path, keep: 5)
    try Self.write(store, 1, backbone: Self.backbone)
    try Self.write(store, 2, backbone: Self.otherBackbone)
    let result = try store.loadNewestValid(expectingBackbone: Self.backbone)
    #expect(result.snapshot?.version == 1)
    #expect(result.skipped.first?.error.kind == .backboneMismatch)
    #expect(result.skipped.first?.error.message.contains(Self.otherBackbone) == true)
    let unchecked = try store.loadNewestValid(expectingBackbone: nil)
    #expect(unchecked.snapshot?.version == 2)
  }

  @Test func reportsEveryVersionWhenNoneIsValid() throws {
    let folder = try TemporaryFolder()
    let store = try SnapshotStore(directory: folder.path, keep: 5)
    #expect(
      try store.loadNewestValid(expectingBackbone: Self.backbone)
        == .init(snapshot: nil, skipped: []))
    try Self.write(store, 1)
    try Self.write(store, 2)
    let result = try store.loadNewestValid(expectingBackbone: Self.otherBackbone)
    #expect(result.snapshot == nil)
    #expect(result.skipped.map(\.version) == [2, 1])
  }

  @Test func fallsBackToScanningWhenLatestIsLostOrGarbage() throws {
    let folder = try TemporaryFolder()
    let store = try SnapshotStore(directory: folder.path, keep: 5)
    try Self.write(store, 1)
    try Self.write(store, 2)
    try FileManager.default.removeItem(atPath: folder.path + "/LATEST")
    var result = try store.loadNewestValid(expectingBackbone: Self.backbone)
    #expect(result.snapshot?.version == 2)
    #expect(result.latestProblem?.contains("LATEST is missing") == true)
    try Data("v2?".utf8).write(to: URL(fileURLWithPath: folder.path + "/LATEST"))
    result = try store.loadNewestValid(expectingBackbone: Self.backbone)
    #expect(result.snapshot?.version == 2)
    #expect(result.latestProblem?.contains("\"v2?\", not a version") == true)
    #expect(try SnapshotStore(directory: folder.path, keep: 5).latestVersion == nil)
    try Self.write(store, 3)
    #expect(store.latestVersion == 3)
  }

  /// Fails a chosen stage on paths with a chosen suffix, a chosen number of times.
  final class FaultSwitch: Sendable {
    struct Rule: Sendable {
      var stage: StorageStage
      var pathSuffix: String
      var skip = 0
    }
    let rule = Mutex<Rule?>(nil)
    var faults: StorageFaults {
      StorageFaults { stage, path in
        self.rule.withLock { rule in
          guard let current = rule, current.stage == stage, path.hasSuffix(current.pathSuffix)
          else { return nil }
          if current.skip > 0 {
            rule?.skip -= 1
            return nil
          }
          rule = nil
          return EIO
        }
      }
    }
  }

  static let failurePoints: [(StorageStage, String, Int)] = [
    (.createTemp, "", 0),  // the temporary folder
    (.createTemp, "manifest.json", 0),
    (.write, "kernels.safetensors", 0),
    (.write, "manifest.json", 0),
    (.fsync, "kernels.safetensors", 0),
    (.fsync, "", 2),  // the temporary folder, after both files
    (.rename, "", 0),  // the snapshot folder
    (.fsync, "", 3),  // the store folder after the rename
    (.updateLatest, "LATEST", 0),
    (.createTemp, "", 3),  // LATEST's temporary file
    (.rename, "LATEST", 0),
  ]

  @Test(arguments: 0..<failurePoints.count)
  func aWriteFailingAtAnyStageLeavesTheStoreLoadableAndUsable(_ index: Int) throws {
    let (stage, suffix, skip) = Self.failurePoints[index]
    let folder = try TemporaryFolder()
    let faults = FaultSwitch()
    let store = try SnapshotStore(directory: folder.path, keep: 5, faults: faults.faults)
    try Self.write(store, 1)

    faults.rule.withLock { $0 = .init(stage: stage, pathSuffix: suffix, skip: skip) }
    let error = #expect(throws: SnapshotStoreError.self) { try Self.write(store, 2) }
    #expect(error?.kind == .storage)
    #expect(error?.stage == stage, "\(String(describing: error))")
    #expect(error?.message.contains("Input/output error (errno 5)") == true)
    #expect(faults.rule.withLock { $0 == nil }, "the fault was never reached")

    #expect(
      try Self.names(in: folder.path) == [".lock", "1", "LATEST"], "leftovers after \(stage)")
    let result = try store.loadNewestValid(expectingBackbone: Self.backbone)
    #expect(result.snapshot?.payload == Self.payload(1))
    #expect(result.skipped.isEmpty)

    let retried = try Self.write(store, 3)
    #expect(retried.manifest.version == 3)
    #expect(
      try store.loadNewestValid(expectingBackbone: Self.backbone).snapshot?.payload
        == Self.payload(3))
  }

  @Test func aFailedFlushAfterLatestWasReplacedKeepsTheNewSnapshot() throws {
    let folder = try TemporaryFolder()
    let faults = FaultSwitch()
    let store = try SnapshotStore(directory: folder.path, keep: 5, faults: faults.faults)
    try Self.write(store, 1)
    // The folder fsync after LATEST's rename: the commit happened but is not known durable
    // (after the payload's, the manifest's, its checksum's, the snapshot folder's, the store's
    // and LATEST's own).
    faults.rule.withLock { $0 = .init(stage: .fsync, pathSuffix: "", skip: 6) }
    let error = #expect(throws: SnapshotStoreError.self) { try Self.write(store, 2) }
    #expect(error?.stage == .fsync)
    #expect(faults.rule.withLock { $0 == nil })
    let result = try store.loadNewestValid(expectingBackbone: Self.backbone)
    #expect(store.latestVersion == 2)
    #expect(result.snapshot?.payload == Self.payload(2))
    #expect(result.skipped.isEmpty)
  }

  @Test func cleansLeftoversOnOpenAndNeverReusesTheirVersions() throws {
    let folder = try TemporaryFolder()
    try Self.write(try SnapshotStore(directory: folder.path, keep: 5), 1)
    let store1 = folder.path + "/1"
    let manager = FileManager.default
    // A write that died before its rename, an uncommitted rename, a half-written LATEST.
    try manager.createDirectory(
      atPath: folder.path + "/.tmp-9-123-456", withIntermediateDirectories: false)
    try Data([1, 2, 3]).write(
      to: URL(fileURLWithPath: folder.path + "/.tmp-9-123-456/kernels.safetensors"))
    try manager.copyItem(atPath: store1, toPath: folder.path + "/4")
    try Data("4".utf8).write(to: URL(fileURLWithPath: folder.path + "/.LATEST.tmp-1-2"))

    let reopened = try SnapshotStore(directory: folder.path, keep: 5)
    #expect(
      reopened.removedLeftovers.map { ($0 as NSString).lastPathComponent }.sorted()
        == [".LATEST.tmp-1-2", ".tmp-9-123-456", "4"])
    #expect(reopened.cleanupFailures.isEmpty)
    #expect(try Self.names(in: folder.path) == [".lock", "1", "LATEST"])
    #expect(try Self.write(reopened, 2).manifest.version == 10)
  }

  @Test func versionsGrowAcrossReopeningAndRetentionKeepsTheNewest() throws {
    let folder = try TemporaryFolder()
    var store = try SnapshotStore(directory: folder.path, keep: 3)
    var removed: [[Int]] = []
    for seed in 1...5 {
      removed.append(try Self.write(store, Float(seed)).removedVersions)
    }
    #expect(removed == [[], [], [], [1], [2]])
    #expect(try Self.names(in: folder.path) == [".lock", "3", "4", "5", "LATEST"])
    #expect(throws: SnapshotStoreError.self) { try store.load(version: 1, expectingBackbone: nil) }
    #expect(try store.load(version: 3, expectingBackbone: nil).payload == Self.payload(3))

    store = try SnapshotStore(directory: folder.path, keep: 1)
    #expect(try Self.write(store, 6).manifest.version == 6)
    #expect(try Self.names(in: folder.path) == [".lock", "6", "LATEST"])
    store = try SnapshotStore(directory: folder.path, keep: 1)
    #expect(try Self.write(store, 7).manifest.version == 7)
    #expect(try store.listVersions().map(\.version) == [7])
  }

  @Test func listsVersionsWithTheirManifestsOrProblems() throws {
    let folder = try TemporaryFolder()
    let store = try SnapshotStore(directory: folder.path, keep: 5, clock: Self.fixedClock)
    for seed in 1...3 { try Self.write(store, Float(seed)) }
    try FileManager.default.removeItem(atPath: store.folder(of: 2) + "/manifest.json")
    let listing = try store.listVersions()
    #expect(listing.map(\.version) == [1, 2, 3])
    #expect(listing.map(\.isLatest) == [false, false, true])
    #expect(listing[0].manifest?.offsets == Self.offsets)
    #expect(listing[1].manifest == nil)
    #expect(listing[1].problem?.kind == .corrupt)
    #expect(listing[2].manifest?.version == 3)
  }

  @Test func refusesInvalidRequestsClearly() throws {
    let folder = try TemporaryFolder()
    let keepError = #expect(throws: SnapshotStoreError.self) {
      try SnapshotStore(directory: folder.path, keep: 0)
    }
    #expect(keepError?.kind == .invalidRequest)
    #expect(keepError?.message.contains("keep at least 1") == true)
    let emptyError = #expect(throws: SnapshotStoreError.self) {
      try SnapshotStore(directory: "", keep: 1)
    }
    #expect(emptyError?.message.contains("set checkpoint.dir") == true)
    try Data().write(to: URL(fileURLWithPath: folder.path + "/file"))
    let fileError = #expect(throws: SnapshotStoreError.self) {
      try SnapshotStore(directory: folder.path + "/file", keep: 1)
    }
    #expect(fileError?.message.contains("is not a folder") == true)
    let missingError = #expect(throws: SnapshotStoreError.self) {
      try SnapshotStore(directory: folder.path + "/a/b/c", keep: 1, createIfMissing: false)
    }
    #expect(missingError?.kind == .missing)
    #expect(!FileManager.default.fileExists(atPath: folder.path + "/a"))
    let store = try SnapshotStore(directory: folder.path + "/a/b/c", keep: 1)
    let reserved = SafeTensors(tensors: ["__metadata__": Tensor(floats: [1], shape: [1])])
    let nameError = #expect(throws: SnapshotStoreError.self) {
      try store.write(reserved, offsets: [:], backboneSHA256: "b", configurationDigest: "c")
    }
    #expect(nameError?.kind == .invalidRequest)
    #expect(try store.listVersions().isEmpty)
  }

  /// A folder this process cannot write to: a mode-0555 folder, or for root (which ignores
  /// modes) a sysfs folder, which refuses new entries to everyone.
  static func readOnlyFolder(in folder: TemporaryFolder) throws -> String? {
    let path = folder.path + "/read-only"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: path)
    if mkdir(path + "/probe", 0o755) != 0 { return path }
    rmdir(path + "/probe")
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    if mkdir("/sys/kernel/probe", 0o755) != 0 { return "/sys/kernel" }
    rmdir("/sys/kernel/probe")
    return nil
  }

  @Test func aReadOnlyDirectoryGivesAClearError() throws {
    let folder = try TemporaryFolder()
    guard let path = try Self.readOnlyFolder(in: folder) else {
      Issue.record("no read-only folder available to test with")
      return
    }
    let store = try SnapshotStore(directory: path, keep: 2)
    let error = #expect(throws: SnapshotStoreError.self) { try Self.write(store, 1) }
    #expect(error?.kind == .storage)
    #expect(error?.stage == .createTemp)
    #expect(error?.message.contains("writing snapshot in \(path)") == true)
    #expect(error?.message.contains("check that the folder exists and is writable") == true)
    #expect(try store.loadNewestValid(expectingBackbone: nil).snapshot == nil)
    if path.hasPrefix(folder.path) {
      try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }
  }

  @Test func onlyOneStoreWritesAFolderAtATime() throws {
    let folder = try TemporaryFolder()
    var first: SnapshotStore? = try SnapshotStore(directory: folder.path, keep: 5)
    try Self.write(first!, 1)
    let second = try SnapshotStore(directory: folder.path, keep: 5)
    #expect(try second.loadNewestValid(expectingBackbone: Self.backbone).snapshot?.version == 1)
    let error = #expect(throws: SnapshotStoreError.self) { try Self.write(second, 2) }
    #expect(error?.kind == .locked)
    #expect(error?.message.contains("give each iak-stream process its own checkpoint.dir") == true)
    try Self.write(first!, 3)
    first = nil
    // The lock is free: the second store takes it and continues after what the first wrote.
    #expect(try Self.write(second, 4).manifest.version == 3)
    #expect(try second.load(version: 3, expectingBackbone: nil).payload == Self.payload(4))
  }
}

extension SnapshotStoreTests.FaultSwitch.Rule: Equatable {}

extension SnapshotStoreTests {
  @Test func aDiskThatFillsMidFileFailsTheWriteAndLeavesTheOldFile() throws {
    let folder = try TemporaryFolder()
    let path = folder.path + "/LATEST"
    try AtomicFile.write(Array("old\n".utf8), to: path)
    let disk = SimulatedDisk(freeBytes: 400)
    let error = #expect(throws: StorageError.self) {
      try AtomicFile.write([UInt8](repeating: 7, count: 1000), to: path, faults: .writing(to: disk))
    }
    #expect(error?.stage == .write)
    #expect(error?.code == ENOSPC)
    #expect(disk.writtenBytes == 400 && disk.freeBytes == 0)  // it failed mid-file
    #expect(try Self.names(in: folder.path) == ["LATEST"])  // the partial file is gone
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "old\n")
    disk.freeBytes = 1000
    try AtomicFile.write([UInt8](repeating: 7, count: 1000), to: path, faults: .writing(to: disk))
    #expect(disk.writtenBytes == 1400)
  }

  @Test func aDiskThatFillsWithinTheTensorsFailsTheSnapshotAndKeepsTheOldOne() throws {
    let folder = try TemporaryFolder()
    let disk = SimulatedDisk(freeBytes: 1 << 30)
    let store = try SnapshotStore(directory: folder.path, keep: 5, faults: .writing(to: disk))
    try Self.write(store, 1)
    // The payload goes piece by piece (header, then each tensor): the disk fills after the
    // header and part of the tensors.
    let segments = Self.payload(2).encodedSegments()
    #expect(segments.count > 2)
    #expect(segments.joined().elementsEqual(Self.payload(2).encoded()))
    let room = segments[0].count + segments[1].count + 3
    disk.freeBytes = room
    let before = disk.writtenBytes
    let error = #expect(throws: SnapshotStoreError.self) { try Self.write(store, 2) }
    #expect(error?.stage == .write && error?.message.contains("(errno \(ENOSPC))") == true)
    #expect(disk.writtenBytes == before + room)
    #expect(try Self.names(in: folder.path) == [".lock", "1", "LATEST"])
    #expect(
      try store.loadNewestValid(expectingBackbone: Self.backbone).snapshot?.payload
        == Self.payload(1))
    disk.freeBytes = 1 << 30
    let report = try Self.write(store, 2)
    let onDisk = try [UInt8](
      Data(
        contentsOf: URL(
          fileURLWithPath: store.folder(of: report.manifest.version) + "/kernels.safetensors")))
    #expect(onDisk == Self.payload(2).encoded())
    #expect(report.manifest.files["kernels.safetensors"]?.sha256 == SHA256.hexDigest(of: onDisk))
  }

  @Test func claimingWritingTakesTheLockOrRefusesClearly() throws {
    let folder = try TemporaryFolder()
    let first = try SnapshotStore(directory: folder.path, keep: 2)
    try first.claimWriting()
    try first.claimWriting()  // idempotent
    #expect(try Self.names(in: folder.path) == [".lock"])  // the probe file is gone
    let second = try SnapshotStore(directory: folder.path, keep: 2)
    let error = #expect(throws: SnapshotStoreError.self) { try second.claimWriting() }
    #expect(error?.kind == .locked)
    let full = try SnapshotStore(
      directory: folder.path + "/full", keep: 2,
      faults: .writing(to: SimulatedDisk(freeBytes: 0)))
    let refusal = #expect(throws: SnapshotStoreError.self) { try full.claimWriting() }
    #expect(refusal?.message.contains("No space left on device") == true)
  }
}
