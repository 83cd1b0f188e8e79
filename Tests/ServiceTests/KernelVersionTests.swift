import Checkpoint
import Foundation
import Learner
import Testing

@testable import Service

/// A kernel version names one set of weights (issue 15): a kernel whose publish failed goes out
/// again under the number it was given, an unchanged one is not published again, a changed one
/// gets the next number.
@Suite struct KernelVersionTests {
  @Test func aFailedPublishIsRetriedUnderTheSameVersionAndNothingUnchangedGoesOutAgain() throws {
    let fixture = try DriftActionTests.Fixture()
    let pipeline = try fixture.makePipeline(alertEmitter: nil)
    let records = DriftActionTests.records(invertedCount: 0)
    let published = fixture.folder + "/published"
    let delivered = fixture.folder + "/store/" + Pipeline.deliveredFileName
    func file() throws -> SafeTensors {
      try SafeTensors.read(from: published + "/" + DriftActionTests.domain + ".safetensors")
    }

    // The domain's folder cannot be made (a file is in the way): the publish fails.
    try pipeline.process(Array(records[0..<200]))
    try FileManager.default.createDirectory(atPath: published, withIntermediateDirectories: true)
    let blocker = published + "/" + DriftActionTests.domain.split(separator: "/")[0]
    #expect(FileManager.default.createFile(atPath: blocker, contents: Data("x".utf8)))
    #expect(throws: KernelPublisher.Failure.self) {
      try pipeline.checkpoint(createdAtMilliseconds: 1)
    }
    #expect(pipeline.book.undelivered == [DriftActionTests.domain])
    #expect(!FileManager.default.fileExists(atPath: delivered))

    // With nothing trained since, the retry sends the same version with the same weights.
    try FileManager.default.removeItem(atPath: blocker)
    let retried = try #require(try pipeline.checkpoint(createdAtMilliseconds: 2))
    let kernel = try #require(pipeline.trainer.kernel(for: DriftActionTests.domain))
    #expect(try file().metadata["kernel_version"] == "1")
    #expect(try file().metadata["snapshot_version"] == String(retried.version))
    #expect(try file().tensors == kernel.weightTensors())
    #expect(pipeline.book.undelivered.isEmpty)
    #expect(
      (try? String(contentsOfFile: delivered, encoding: .utf8)) == "\(retried.version)\n")

    // Unchanged: nothing goes out (the file still comes from the retry's snapshot).
    let quiet = try #require(try pipeline.checkpoint(createdAtMilliseconds: 3))
    #expect(quiet.version == retried.version + 1)
    #expect(try file().metadata["snapshot_version"] == String(retried.version))
    #expect(SnapshotView.kernelVersions(in: quiet)[DriftActionTests.domain] == 1)

    // Trained further: the next number.
    try pipeline.process(Array(records[200..<400]))
    let next = try #require(try pipeline.checkpoint(createdAtMilliseconds: 4))
    #expect(try file().metadata["kernel_version"] == "2")
    #expect(try file().metadata["snapshot_version"] == String(next.version))
  }
}
