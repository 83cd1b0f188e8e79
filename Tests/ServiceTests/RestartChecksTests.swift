import Checkpoint
import Foundation
import Testing

@testable import Service

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 14 item 9, what `serve` checks and says when it starts again: a changed training
/// setting is named (and refused when it changes what the stored state means), a wrong `LATEST`
/// is reported, and temporary kernel files a SIGKILL left in `publish.dir` are removed.
@Suite struct RestartChecksTests {
  @Test func aChangedTrainingSettingIsNamedAndOneThatChangesTheStatesMeaningIsRefused() throws {
    let serve = try InProcessServe()
    let half = serve.lines.count / 2
    try serve.write(upTo: half)
    #expect(try serve.run(settings: ["train.batch_max=8", "label.wait=1m"]).status == 0)

    try serve.write(upTo: serve.lines.count)
    let changed = try serve.run(settings: ["train.batch_max=16", "label.wait=2m", "iak.beta=0.5"])
    #expect(changed.status == 0)
    let warning =
      changed.lines(containing: "restoring a snapshot written under other training settings")
      .first ?? "none"
    #expect(warning.contains("train.batch_max '8' -> '16'"), "\(warning)")
    #expect(warning.contains("label.wait '1m' -> '2m'"), "\(warning)")
    #expect(warning.contains("iak.beta"), "\(warning)")
    #expect(!warning.contains("checkpoint.dir"), "\(warning)")

    // The domains' keys would mean something else: refused, with the way out.
    let refusal = #expect(throws: ServiceError.self) {
      try serve.run(settings: ["train.batch_max=16", "label.wait=2m", "domain.window=every 7d"])
    }
    #expect(refusal?.code == .stateMismatch)
    let message = refusal?.message ?? ""
    #expect(message.contains("domain.window 'every 1d' -> 'every 7d'"), "\(message)")
    #expect(message.contains("set them back"), "\(message)")
    #expect(message.contains("empty checkpoint.dir"), "\(message)")
    #expect(!message.contains("train.batch_max"), "\(message)")

    // The same settings again: not a word.
    let same = try serve.run(settings: ["train.batch_max=16", "label.wait=2m", "iak.beta=0.5"])
    #expect(same.lines(containing: "other training settings").isEmpty)
  }

  @Test func aWrongLatestIsReportedAtStartUpAndNoVerifiedSnapshotIsLost() throws {
    let serve = try InProcessServe()
    let third = serve.lines.count / 3
    for part in 1...3 {
      try serve.write(upTo: third * part)
      #expect(try serve.run().status == 0)
    }
    try Data("1\n".utf8).write(to: URL(fileURLWithPath: serve.store + "/LATEST"))
    try serve.write(upTo: serve.lines.count)
    let run = try serve.run()
    #expect(run.status == 0)
    let warning = run.lines(containing: "LATEST is not what it should be").first ?? "none"
    #expect(warning.contains("names snapshot 1 but snapshot 3 is newer"), "\(warning)")
    // It resumed from version 3: only the last part was read.
    let restored = run.lines(containing: "msg=restored").first ?? "none"
    #expect(restored.contains("snapshot=3"), "\(restored)")
    #expect(restored.contains("records=\(third * 3)"), "\(restored)")
    let versions = try FileManager.default.contentsOfDirectory(atPath: serve.store)
      .compactMap { Int($0) }.sorted()
    #expect(versions == [1, 2, 3, 4], "\(versions)")
  }

  @Test func temporaryKernelFilesLeftInThePublishFolderAreRemovedAtStartUp() throws {
    let serve = try InProcessServe()
    try serve.write(upTo: serve.lines.count)
    let publish = serve.folder + "/publish"
    try FileManager.default.createDirectory(
      atPath: publish + "/1998-01-01", withIntermediateDirectories: true)
    // A process that is gone: the pid of one that ran and was reaped.
    let gone = Process()
    gone.executableURL = URL(fileURLWithPath: "/bin/true")
    try gone.run()
    gone.waitUntilExit()
    let dead = publish + "/1998-01-01/.r1.safetensors.tmp-\(gone.processIdentifier)-77"
    let topLevel = publish + "/.r2.safetensors.tmp-\(gone.processIdentifier)-78"
    // pid 1 runs: its file may be a write in progress, and stays.
    let live = publish + "/1998-01-01/.r3.safetensors.tmp-1-79"
    for path in [dead, topLevel, live] {
      _ = FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3]))
    }
    let run = try serve.run(settings: ["publish.dir=\(publish)"])
    #expect(run.status == 0)
    #expect(!FileManager.default.fileExists(atPath: dead))
    #expect(!FileManager.default.fileExists(atPath: topLevel))
    #expect(FileManager.default.fileExists(atPath: live))
    let removals = run.lines(containing: "removed what an interrupted kernel file write left")
    #expect(removals.count == 2, "\(removals)")
    // The kernels themselves were written.
    let files = try FileManager.default.subpathsOfDirectory(atPath: publish)
    #expect(files.contains { $0.hasSuffix(".safetensors") && !$0.contains("/.") })
  }
}
