import Foundation
import Learner
import Stream
import Testing

@testable import Service

/// `upgrade --abandon` withdraws an announced switch, and says so when there is none.
@Suite struct UpgradeAbandonTests {
  @Test func abandonWithdrawsOnlyAnAnnouncementStillOpen() async throws {
    let fixture = try await ServeFixture(impressions: 200, partitions: 2)
    let backbone = fixture.folder + "/bb"
    let sha = try Backbone.load(from: backbone).weightsSHA256
    let kafka = KafkaConfiguration(bootstrapServers: fixture.bootstrapServers)
    func abandon() -> (Int32, String) {
      let out = CommandLineToolTests.Captured()
      let status = CommandLineTool.main(
        arguments: [
          "iak-stream", "upgrade", "--backbone", backbone, "--abandon", "--bootstrap-servers",
          fixture.bootstrapServers, "--set", "input.topics=\(fixture.topic)",
        ] + fixture.settings, output: { out.write($0) }, errorOutput: { out.writeError($0) })
      return (status, out.output + out.errors)
    }
    func controls() throws -> [ControlRecord] {
      try KafkaTopicReader.readAll(fixture.topic, configuration: kafka)
        .filter { ControlRecord.isControl($0.value) }
        .map { try ControlRecord(parsing: $0.value) }
    }

    // Nothing announced: nothing to withdraw, and nothing written.
    let (status, said) = abandon()
    #expect(status == 0, "\(said)")
    #expect(
      said
        == "no announced switch to backbone \(sha) to withdraw: none of the 2 partitions of "
        + "events holds an announcement that was not withdrawn or switched; nothing written\n")
    #expect(try controls().isEmpty)

    // An upgrade killed while it announced the switch left it on partition 1 only.
    let producer = try KafkaProducer.make(configuration: kafka)
    let announcement = ControlRecord(
      switchingTo: sha, directory: backbone, rebaseFrom: 0, action: .backbonePrepare)
    try producer.send(
      OutgoingRecord(
        topic: fixture.topic, partition: 1, value: Array(announcement.jsonLine.utf8))
    ) { result in
      if case .failure(let error) = result { Issue.record("not delivered: \(error)") }
    }
    try producer.flush(timeout: .seconds(30))
    try producer.close()
    let (withdrew, withdrawn) = abandon()
    #expect(withdrew == 0, "\(withdrawn)")
    #expect(
      withdrawn.hasPrefix("withdrew the announced switch to backbone \(sha) from 2 partitions"),
      "\(withdrawn)")
    #expect(try controls().map(\.action) == [.backboneAbandon, .backbonePrepare, .backboneAbandon])

    // Withdrawn already: nothing more is written.
    let (again, saidAgain) = abandon()
    #expect(again == 0)
    #expect(
      saidAgain.hasPrefix("no announced switch to backbone \(sha) to withdraw"), "\(saidAgain)")
    #expect(try controls().count == 3)
  }
}
