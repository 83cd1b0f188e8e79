import Checkpoint
import Foundation
import Synchronization
import Testing

@testable import Service

/// Failures that are not command-line mistakes carry a `ServiceError` code that says what to do
/// about them, the words users read, and where they were made.
@Suite struct ServiceErrorTests {
  @Test func aSnapshotWithoutItsIngestStateIsUnreadable() throws {
    let fixture = try StorageFaultScenarioTests.Fixture()
    let writer = try fixture.pipeline(try SnapshotStore(directory: fixture.store, keep: 2))
    try fixture.feed(writer, from: 0, until: 200)
    try writer.checkpoint(createdAtMilliseconds: 1)
    let store = try SnapshotStore(directory: fixture.store, keep: 2)
    var snapshot = try #require(try store.loadNewestValid(expectingBackbone: "bb").snapshot)
    snapshot.payload.tensors[".ingest/joiner"] = nil

    let reader = try fixture.pipeline(
      try SnapshotStore(directory: fixture.folder + "/other", keep: 2))
    let error = try #require(throws: ServiceError.self) { try reader.restore(snapshot) }
    #expect(error.code == .stateUnreadable)
    #expect(error.message == "snapshot \(snapshot.version) has no ingest state or counts")
    #expect(error.description == error.message)
    #expect(error.file.hasSuffix("Pipeline+State.swift"))
    #expect(!error.code.remedy.isEmpty)
  }

  @Test func bytesThatAreNotAPartitionStateAreUnreadable() {
    let error = #expect(throws: ServiceError.self) {
      try PartitionState(bytes: Array("garbage".utf8))
    }
    #expect(error?.code == .stateUnreadable)
    #expect(error?.message.hasPrefix("partition state: not a safetensors document") == true)
  }

  @Test func theToolPrintsTheMessageAndExitsWithStatusTwo() throws {
    let folder = try TemporaryFolder.make("iak-service-error")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let errors = Mutex<[String]>([])
    let status = CommandLineTool.main(
      arguments: ["iak-stream", "kernels", "list", "--checkpoint-dir", folder],
      output: { _ in }, errorOutput: { line in errors.withLock { $0.append(line) } })
    #expect(status == 2)
    let printed = errors.withLock { $0 }
    #expect(printed == ["iak-stream kernels: no valid snapshot in \(folder)"], "\(printed)")
  }
}
