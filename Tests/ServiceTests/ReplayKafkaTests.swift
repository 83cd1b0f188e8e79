import Checkpoint
import Foundation
import Stream
import Testing

@testable import Service

/// `replay` over a Kafka topic: bounded by offsets or by record time, never committing, and
/// resumable from its own snapshot to the same state as one uninterrupted replay.
@Suite struct ReplayKafkaTests {
  @Test func aReplaySplitAtATimestampAndResumedEqualsTheWholeReplay() async throws {
    let fixture = try await ServeFixture()
    let common = [
      "replay", "--topic", fixture.topic, "--bootstrap-servers", fixture.bootstrapServers,
      "--backbone", fixture.folder + "/bb", "--set", "checkpoint.interval=700 events",
    ]
    let (status, output) = fixture.run(common + ["--checkpoint-dir", fixture.folder + "/whole"])
    #expect(status == 0, "\(output)")
    let whole = try fixture.newestSnapshot("whole")
    #expect(try ServeFixture.counts(whole)[0] == Int64(fixture.lines.count))
    #expect(ServeFixture.offsets(whole) == (try fixture.endOffsets()).filter { $0.value > 0 })

    // The first part stops before the first record at or after the middle time.
    let middle: Int64 = 883_000_000_000 + 1500 * 30_000
    let (first, firstOutput) = fixture.run(
      common + [
        "--checkpoint-dir", fixture.folder + "/parts", "--until-timestamp", "\(middle)",
      ])
    #expect(first == 0, "\(firstOutput)")
    let part = try fixture.newestSnapshot("parts")
    let before = fixture.lines.filter { line in
      guard let text = line.split(separator: "\"ts\":").dropFirst().first else { return false }
      return Int64(text.prefix(while: \.isNumber))! < middle
    }.count
    // Each bad record sits among records of its own time: the first before the middle, the
    // second after it.
    #expect(try ServeFixture.counts(part)[0] == Int64(before + 1))

    let (second, secondOutput) = fixture.run(
      common + [
        "--checkpoint-dir", fixture.folder + "/parts", "--from-snapshot",
        "\(part.manifest.version)",
      ])
    #expect(second == 0, "\(secondOutput)")
    let resumed = try fixture.newestSnapshot("parts")
    #expect(try ServeFixture.counts(resumed) == ServeFixture.counts(whole))
    let a = ServeFixture.kernelState(whole)
    let b = ServeFixture.kernelState(resumed)
    let differing = a.keys.filter { a[$0] != b[$0] }.sorted()
    #expect(a.keys.sorted() == b.keys.sorted())
    #expect(differing.isEmpty, "tensors differ: \(differing.prefix(10))")
  }

  @Test func explicitOffsetsBoundTheReplayAndNothingIsCommitted() async throws {
    let fixture = try await ServeFixture(impressions: 600)
    let ends = try fixture.endOffsets()
    let busiest = try #require(ends.max { $0.value < $1.value })
    let (status, output) = fixture.run([
      "replay", "--topic", fixture.topic, "--bootstrap-servers", fixture.bootstrapServers,
      "--backbone", fixture.folder + "/bb", "--checkpoint-dir", fixture.folder + "/r",
      "--from", "\(busiest.key.partition):10",
      "--until-offset", "\(busiest.key.partition):110",
    ])
    #expect(status == 0, "\(output)")
    let snapshot = try fixture.newestSnapshot("r")
    // --from names one partition, so only it is read, from 10 up to 110.
    #expect(try ServeFixture.counts(snapshot)[0] == 100)
    #expect(ServeFixture.offsets(snapshot) == [busiest.key: 110])
    #expect(try fixture.committed(group: "iak-stream").isEmpty)

    let (bad, badOutput) = fixture.run([
      "replay", "--topic", fixture.topic, "--bootstrap-servers", fixture.bootstrapServers,
      "--backbone", fixture.folder + "/bb", "--checkpoint-dir", fixture.folder + "/r2",
      "--from", "7:0",
    ])
    #expect(bad != 0)
    #expect(badOutput.contains("partition 7"), "\(badOutput)")
  }
}
