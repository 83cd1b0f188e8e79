import Foundation
import Learner
import Stream
import Testing

@testable import Service

/// `upgrade --abandon` says what it wrote, announced switch or not.
@Suite struct UpgradeAbandonTests {
  @Test func abandonSaysWhatItWroteWhetherOrNotASwitchWasAnnounced() async throws {
    let fixture = try await ServeFixture(impressions: 200, partitions: 2)
    let backbone = fixture.folder + "/bb"
    let sha = try Backbone.load(from: backbone).weightsSHA256
    let out = CommandLineToolTests.Captured()
    let status = CommandLineTool.main(
      arguments: [
        "iak-stream", "upgrade", "--backbone", backbone, "--abandon", "--bootstrap-servers",
        fixture.bootstrapServers, "--set", "input.topics=\(fixture.topic)",
      ] + fixture.settings, output: { out.write($0) }, errorOutput: { out.writeError($0) })
    #expect(status == 0, "\(out.errors)")
    // Nothing was announced: the records are written, and the words do not claim a withdrawal.
    #expect(
      out.output.hasPrefix("wrote backbone-abandon records for backbone \(sha) to 2 partitions: "),
      "\(out.output)")
    #expect(out.output.contains("(where none was, nothing changes)"), "\(out.output)")
    let controls = try KafkaTopicReader.readAll(
      fixture.topic, configuration: KafkaConfiguration(bootstrapServers: fixture.bootstrapServers)
    )
    .filter { ControlRecord.isControl($0.value) }.map { try ControlRecord(parsing: $0.value) }
    #expect(controls.map(\.action) == [.backboneAbandon, .backboneAbandon])
    #expect(controls.allSatisfy { $0.backboneSHA256 == sha })
  }
}
