import Checkpoint
import Foundation
import Testing

@testable import Service

/// Issue 14 item 8: a final snapshot that fails (the disk is full) makes `serve` exit 1 with the
/// offsets the newest snapshot on disk covers, and it never reports as served the records no
/// snapshot covers (it exited 0 and said "served <all> records").
@Suite struct FinalSnapshotTests {
  @Test func aFinalSnapshotThatFailsIsExit1WithTheOffsetsTheNewestSnapshotCovers() throws {
    let serve = try InProcessServe()
    let all = serve.lines.count
    let half = all / 2

    // The first run reads half the input and ends with a snapshot (version 1) covering it.
    try serve.write(upTo: half)
    let first = try serve.run()
    #expect(first.status == 0, "first run: \(first.log.suffix(5))")
    #expect(first.output.contains("served \(half) records"), "\(first.output)")

    // The second run reads the rest, but the disk is full when its final snapshot is written
    // (64 bytes: start-up's probe of the folder fits).
    try serve.write(upTo: all)
    let second = try serve.run(disk: SimulatedDisk(freeBytes: 64))
    #expect(second.status == 1, "a failed final snapshot exited \(second.status)")
    let failure = second.lines(containing: "the final snapshot failed").first ?? "none"
    #expect(failure.contains("No space left on device"), "\(failure)")
    #expect(failure.contains("version 1"), "\(failure)")
    #expect(failure.contains("file/0=\(half)"), "\(failure)")
    #expect(failure.contains("covers \(half) of the \(all) records"), "\(failure)")
    #expect(!second.output.contains("served \(all)"), "\(second.output)")
    #expect(
      second.output.contains("read \(all) records, of which \(half) are covered"),
      "\(second.output)")

    // Version 1 is still the newest snapshot, and a run with space resumes from it.
    let store = try SnapshotStore(directory: serve.store, keep: 10, createIfMissing: false)
    let newest = try #require(try store.loadNewestValid(expectingBackbone: nil).snapshot)
    #expect(newest.version == 1)
    let third = try serve.run()
    #expect(third.status == 0)
    #expect(third.output.contains("served \(all) records"), "\(third.output)")
  }
}
