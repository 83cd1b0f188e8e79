import Checkpoint
import Foundation
import Learner
import Stream
import Testing

@testable import Service

/// Issue 14, item 7, through the pipeline: 4,000 impressions of 60 KB, each mostly a feature no
/// setting reads, all waiting for their clicks at once. On main every byte waited in the joiner
/// and went into the snapshot (240 MB, an 851 MB process); now a waiting impression keeps only
/// what training reads, so the state is the state of the same stream without the unread bytes.
@Suite struct WaitingImpressionBytesTests {
  /// The impressions (every third clicked 2 s later), one a second, each with an unread feature
  /// of `blobBytes` bytes when it is not 0.
  static func records(count: Int, blobBytes: Int, from start: Int) -> [Record] {
    var records: [Record] = []
    let blob = String(repeating: "x", count: blobBytes)
    for index in start..<min(start + 100, count) {
      let time = 883_000_000_000 + Int64(index) * 1_000
      var line =
        "{\"type\":\"impression\",\"id\":\"i\(index)\",\"ts\":\(time),"
        + "\"region\":\"\(index % 2 == 0 ? "east" : "west")\",\"user\":\"u\(index % 50)\","
        + "\"item\":\"m\(index % 20)\""
      if blobBytes > 0 { line += ",\"features\":{\"blob\":\"\(blob)\"}" }
      records.append(
        Record(topic: "events", partition: 0, offset: 0, value: Array((line + "}").utf8)))
      if index % 3 == 0 {
        records.append(
          Record(
            topic: "events", partition: 0, offset: 0,
            value: Array("{\"type\":\"click\",\"id\":\"i\(index)\",\"ts\":\(time + 2_000)}".utf8)))
      }
    }
    return records
  }

  static func run(blobBytes: Int) throws -> Pipeline {
    var configuration = try HostileInputTests.configuration()
    try configuration.apply(override: "label.wait=2h")
    let pipeline = try Pipeline(
      configuration: configuration,
      backbone: try Backbone(
        config: BackboneConfig(fields: ["user", "item"], buckets: 512, hiddenSizes: [16, 8]),
        seed: 3),
      backboneSHA256: "bb", store: nil, publisher: nil, alertEmitter: nil, deadLetters: nil,
      logger: .disabled, metrics: nil)
    var offset: Int64 = 0
    for start in stride(from: 0, to: 4_000, by: 100) {
      var records = records(count: 4_000, blobBytes: blobBytes, from: start)
      for index in records.indices {
        records[index].offset = offset
        offset += 1
      }
      try pipeline.process(records)
    }
    return pipeline
  }

  /// The sha256 of everything `pipeline` would snapshot (kernels, batches, joiner, router).
  static func digest(of pipeline: Pipeline) -> String {
    SHA256.hexDigest(of: SafeTensors(tensors: pipeline.stateTensors()).encoded())
  }

  @Test func unreadFeaturesOfWaitingImpressionsAreNotHeldNorSnapshotted() throws {
    let heavy = try Self.run(blobBytes: 60_000)
    let light = try Self.run(blobBytes: 0)
    #expect(heavy.counts.records == 5_334 && heavy.counts.rejected == 0)
    // Nothing has left the joiner yet: every impression waits (2 h) for its click.
    #expect(heavy.counts.examples == 0)
    // On main: 240 MB (every blob); stop there, before comparing states of that size.
    let joinerBytes = try #require(heavy.stateTensors()[".ingest/joiner"]).bytes.count
    try #require(joinerBytes < 500_000)
    #expect(Self.digest(of: heavy) == Self.digest(of: light))
    // And they train the same kernels when they leave.
    heavy.flush()
    light.flush()
    #expect(heavy.counts.examples == 4_000 && heavy.counts.positives == 1_334)
    #expect(Self.digest(of: heavy) == Self.digest(of: light))
  }
}
