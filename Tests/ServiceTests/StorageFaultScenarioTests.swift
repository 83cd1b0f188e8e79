import Checkpoint
import Foundation
import Learner
import Observability
import Stream
import Synchronization
import Testing

@testable import Service

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 8, storage faults, with the pipeline's real snapshots: a damaged newest snapshot makes
/// start-up fall back to the previous version and say so (and resuming from it ends exactly
/// where an undamaged run does); a disk that fills mid-write leaves the previous version intact
/// and a later write succeeds; a read-only checkpoint folder is refused at start-up with a
/// clear message. No older snapshot is ever changed (every file compared byte for byte). Each
/// scenario prints one line.
@Suite struct StorageFaultScenarioTests {
  final class Fixture {
    let folder: String
    let backbone: Backbone
    let lines: [[UInt8]]
    let input: [UInt8]

    init() throws {
      folder = try TemporaryFolder.make("iak-storage")
      backbone = try Backbone(
        config: BackboneConfig(fields: ["user", "item"], buckets: 512, hiddenSizes: [16, 8]),
        seed: 3)
      lines = HostileInputTests.goodLines(count: 600)
      input = lines.flatMap { $0 + [0x0A] }
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    var store: String { folder + "/checkpoints" }

    func pipeline(_ store: SnapshotStore) throws -> Pipeline {
      try Pipeline(
        configuration: try HostileInputTests.configuration(), backbone: backbone,
        backboneSHA256: "bb", store: store, publisher: nil, alertEmitter: nil, deadLetters: nil,
        logger: .disabled, metrics: nil)
    }

    /// Feeds lines `from..<until` to `pipeline`.
    func feed(_ pipeline: Pipeline, from: Int, until: Int) throws {
      let source = try FileRecordSource(bytes: input, topic: "events", startOffset: Int64(from))
      while true {
        let records = try source.poll(maxRecords: 200, timeout: .zero)
          .filter { $0.offset < Int64(until) }
        if records.isEmpty { break }
        try pipeline.process(records)
      }
    }

    /// sha256 of every file of the given versions, by path inside the store.
    func fingerprints(of versions: [Int]) throws -> [String: String] {
      var result: [String: String] = [:]
      for version in versions {
        for name in try FileManager.default.contentsOfDirectory(atPath: "\(store)/\(version)") {
          let bytes = try [UInt8](
            Data(contentsOf: URL(fileURLWithPath: "\(store)/\(version)/\(name)")))
          result["\(version)/\(name)"] = SHA256.hexDigest(of: bytes)
        }
      }
      return result
    }
  }

  static func capturingLogger() -> (Logger, @Sendable () -> [String]) {
    let lines = Mutex<[String]>([])
    let logger = Logger(
      label: "serve", level: .info, sink: { line in lines.withLock { $0.append(line) } })
    return (logger, { lines.withLock { $0 } })
  }

  static func edit(_ path: String, _ change: (inout [UInt8]) -> Void) throws {
    var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    change(&bytes)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  /// A damage to the newest snapshot and the phrase its refusal must carry.
  struct Damage: Sendable, CustomStringConvertible {
    var description: String
    var phrase: String
    var apply: @Sendable (_ folder: String) throws -> Void
  }

  static let damages: [Damage] = [
    Damage(description: "newest snapshot truncated", phrase: "is truncated") {
      try edit($0 + "/kernels.safetensors") { $0.removeLast($0.count / 3) }
    },
    Damage(description: "newest snapshot bit-flipped", phrase: "fails its checksum") {
      try edit($0 + "/kernels.safetensors") { $0[$0.count / 2] ^= 0x04 }
    },
    Damage(description: "newest manifest missing", phrase: "manifest.json is missing") {
      try FileManager.default.removeItem(atPath: $0 + "/manifest.json")
    },
  ]

  @Test(arguments: damages)
  func startUpFallsBackToThePreviousSnapshotAndSaysSo(_ damage: Damage) throws {
    let fixture = try Fixture()
    let report = ScenarioReport(damage.description)
    let half = fixture.lines.count / 2
    // The first run: a snapshot half way (version 1) and at the end (version 2), then the
    // process ends (its store's lock is released).
    var first: Pipeline? = try fixture.pipeline(
      try SnapshotStore(directory: fixture.store, keep: 5))
    try fixture.feed(first!, from: 0, until: half)
    let version1 = try #require(try first!.checkpoint(createdAtMilliseconds: 1))
    let countsAt1 = first!.counts
    try fixture.feed(first!, from: half, until: fixture.lines.count)
    try first!.checkpoint(createdAtMilliseconds: 2)
    let finalState = SafeTensors(tensors: first!.stateTensors()).encoded()
    first = nil
    let untouched = try fixture.fingerprints(of: [1])
    try damage.apply(fixture.store + "/2")

    // Start-up after a restart: the newest valid snapshot, with the skipped one logged.
    let store = try SnapshotStore(directory: fixture.store, keep: 5)
    try store.claimWriting()
    let (logger, logged) = Self.capturingLogger()
    let snapshot = try store.newestValidSnapshot(expectingBackbone: "bb", logger: logger)
    report.check(snapshot.version == 1, "started from version \(snapshot.version)")
    let warning = logged().first { $0.contains("skipped a snapshot that failed its checks") }
    report.check(warning?.contains("version=2") == true, "no warning names version 2")
    report.check(warning?.contains(damage.phrase) == true, "warning: \(warning ?? "none")")

    // Resuming from version 1 re-reads what version 2 covered and ends where the first run did.
    let second = try fixture.pipeline(store)
    try second.restore(snapshot)
    report.check(second.counts == countsAt1, "counts \(second.counts) after restore")
    let resumeAt = Int(version1.offsets.values.max() ?? 0)
    report.check(resumeAt == half, "resumes at line \(resumeAt)")
    try fixture.feed(second, from: resumeAt, until: fixture.lines.count)
    let version3 = try #require(try second.checkpoint(createdAtMilliseconds: 3))
    report.check(version3.version == 3, "the next snapshot is version \(version3.version)")
    let isIdentical = SafeTensors(tensors: second.stateTensors()).encoded() == finalState
    report.check(isIdentical, "the resumed state differs from the undamaged run's")
    report.check(try fixture.fingerprints(of: [1]) == untouched, "version 1 changed")
    report.finish(
      did: "damaged snapshot 2 of 2 (\(damage.description)), restarted and resumed",
      checked: "start-up fell back to version 1 with a warning, resumed state, version 1 bytes",
      figures:
        "fell back to version \(snapshot.version), resumed at line \(resumeAt) of "
        + "\(fixture.lines.count), \(untouched.count) files of version 1 unchanged")
  }

  @Test func aDiskThatFillsMidWriteKeepsThePreviousVersionAndALaterWriteSucceeds() throws {
    let fixture = try Fixture()
    let report = ScenarioReport("disk fills mid-write")
    let disk = SimulatedDisk(freeBytes: .max)
    let store = try SnapshotStore(
      directory: fixture.store, keep: 5, faults: .writing(to: disk))
    let pipeline = try fixture.pipeline(store)
    try fixture.feed(pipeline, from: 0, until: 200)
    try pipeline.checkpoint(createdAtMilliseconds: 1)
    let manifestBytes =
      try FileManager.default.attributesOfItem(
        atPath: fixture.store + "/1/manifest.json")[.size] as? Int ?? 0
    let untouched = try fixture.fingerprints(of: [1])
    try fixture.feed(pipeline, from: 200, until: fixture.lines.count)
    let payloadBytes = SafeTensors(tensors: pipeline.stateTensors()).encoded().count
    var failures: [String] = []
    for (place, free, file) in [
      ("mid-payload", payloadBytes / 2, "kernels.safetensors"),
      ("mid-manifest", payloadBytes + manifestBytes / 2, "manifest.json"),
      ("full", 0, "kernels.safetensors"),
    ] {
      disk.freeBytes = free
      do {
        try pipeline.checkpoint(createdAtMilliseconds: 2)
        report.check(false, "a write with \(free) bytes free (\(place)) succeeded")
      } catch let error as SnapshotStoreError {
        failures.append(place)
        report.check(
          error.kind == .storage && error.stage == .write
            && error.message.contains("No space left on device")
            && error.message.contains("free disk space")
            && error.message.contains("/\(file) failed"), "\(place): \(error)")
      }
      let names = try FileManager.default.contentsOfDirectory(atPath: fixture.store).sorted()
      report.check(names == [".lock", "1", "LATEST"], "\(place) left \(names)")
      let newest = try store.loadNewestValid(expectingBackbone: "bb")
      report.check(newest.snapshot?.version == 1 && newest.skipped.isEmpty, "\(place): newest")
      report.check(try fixture.fingerprints(of: [1]) == untouched, "\(place): version 1 changed")
    }
    // Space is freed: the next checkpoint succeeds and holds the pipeline's current state.
    disk.freeBytes = .max
    let manifest = try #require(try pipeline.checkpoint(createdAtMilliseconds: 3))
    let stored = try #require(try store.loadNewestValid(expectingBackbone: "bb").snapshot)
    report.check(stored.version == manifest.version, "newest is \(stored.version)")
    // The state, and the payload's copy of the offsets.
    var state = pipeline.stateTensors()
    state[Pipeline.offsetsTensor] = pipeline.offsetsTensorValue()
    report.check(
      stored.payload.encoded() == SafeTensors(tensors: state).encoded(),
      "the later snapshot does not hold the current state")
    report.check(try fixture.fingerprints(of: [1]) == untouched, "version 1 changed at the end")
    report.finish(
      did: "filled a simulated disk \(failures.joined(separator: ", ")) during snapshot writes",
      checked: "ENOSPC refusal, no leftovers, version 1 loadable and unchanged, later write",
      figures:
        "payload \(payloadBytes) bytes, \(failures.count) failed writes, then version "
        + "\(manifest.version) written (\(disk.writtenBytes) bytes in all)")
  }

  @Test func aReadOnlyCheckpointFolderIsRefusedAtStartUpAndItsSnapshotStillLoads() throws {
    let fixture = try Fixture()
    let report = ScenarioReport("read-only checkpoint folder")
    // A folder this process really cannot write (mode 0555, or sysfs for root).
    let path = fixture.folder + "/read-only"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    chmod(path, 0o555)
    var readOnly = path
    if mkdir(path + "/probe", 0o755) == 0 {
      rmdir(path + "/probe")
      readOnly = "/sys/kernel"
    }
    defer { chmod(path, 0o755) }
    let store = try SnapshotStore(directory: readOnly, keep: 2)
    let error = #expect(throws: SnapshotStoreError.self) { try store.claimWriting() }
    report.check(error?.kind == .storage, "kind \(String(describing: error?.kind))")
    report.check(
      error?.message.contains(readOnly) == true
        && error?.message.contains("check that the folder exists and is writable") == true,
      "message: \(error?.message ?? "none")")

    // A folder with a snapshot that turned read-only (EROFS for every new file): start-up
    // refuses to run, the snapshot still loads, and its bytes do not change.
    var writer: Pipeline? = try fixture.pipeline(
      try SnapshotStore(directory: fixture.store, keep: 2))
    try fixture.feed(writer!, from: 0, until: 300)
    try writer!.checkpoint(createdAtMilliseconds: 1)
    writer = nil
    let untouched = try fixture.fingerprints(of: [1])
    let remounted = try SnapshotStore(
      directory: fixture.store, keep: 2, faults: .failing(at: .createTemp, with: EROFS))
    let refusal = #expect(throws: SnapshotStoreError.self) { try remounted.claimWriting() }
    report.check(
      refusal?.message.contains("Read-only file system") == true
        && refusal?.message.contains("can take snapshots") == true,
      "refusal: \(refusal?.message ?? "none")")
    let loaded = try remounted.newestValidSnapshot(expectingBackbone: "bb", logger: .disabled)
    report.check(loaded.version == 1, "loaded version \(loaded.version)")
    report.check(try fixture.fingerprints(of: [1]) == untouched, "version 1 changed")
    report.finish(
      did: "opened \(readOnly) and a store whose folder refuses new files (EROFS)",
      checked: "claimWriting refuses with the folder and advice, the snapshot still loads",
      figures: "refused: \(error?.message.prefix(90) ?? "nothing")...")
  }
}
