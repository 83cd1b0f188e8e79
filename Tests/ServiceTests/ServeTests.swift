import Checkpoint
import Foundation
import Stream
import TestSupport
import Testing

@testable import Service

/// `iak-stream serve` as operators run it: a separate process against a (mock) Kafka cluster,
/// stopped by SIGTERM or killed with SIGKILL.
@Suite struct ServeTests {
  @Test func serveTrainsEveryRecordOnceAndCommitsWhatItsSnapshotCovers() async throws {
    let fixture = try await ServeFixture()
    let process = try fixture.startServe(
      group: "g1", store: "s1", extra: ["--set", "checkpoint.interval=1s"])
    process.killIfRunning(after: .seconds(120))
    defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    // Metrics and health at the address serve wrote to its --metrics-address-file.
    let deadline = ContinuousClock.now + .seconds(30)
    let address = try await fixture.metricsAddress(of: "s1", serve: process)
    let base = "http://\(try #require(address, "serve wrote no metrics address"))"
    var processed = 0.0
    while processed < Double(fixture.lines.count) && ContinuousClock.now < deadline + .seconds(60) {
      try await Task.sleep(for: .milliseconds(200))
      let (_, body, _) = try HTTPGet.fetch(base + "/metrics")
      processed =
        body.split(separator: "\n").first { $0.hasPrefix("iak_events_processed_total ") }
        .flatMap { Double($0.split(separator: " ")[1]) } ?? 0
    }
    #expect(processed == Double(fixture.lines.count))
    let (status, health, _) = try HTTPGet.fetch(base + "/healthz")
    #expect(status == 200, "\(health)")

    process.terminate()  // SIGTERM
    process.waitUntilExit()
    #expect(process.terminationReason == .exit)
    #expect(process.terminationStatus == 0, "\(fixture.log("s1").suffix(2000))")

    let snapshot = try fixture.newestSnapshot("s1")
    let counts = try ServeFixture.counts(snapshot)
    #expect(counts[0] == Int64(fixture.lines.count))
    #expect(counts[1] == Int64(fixture.badLines))
    // A partition that never had a record has no offset to keep.
    let ends = try fixture.endOffsets().filter { $0.value > 0 }
    #expect(ends.count >= 2)
    #expect(ServeFixture.offsets(snapshot) == ends)
    #expect(try fixture.committed(group: "g1") == ends)

    // Every domain's kernel is on the kernels topic, a self-contained safetensors file.
    let configuration = KafkaConfiguration(bootstrapServers: fixture.bootstrapServers)
    let published = KafkaTopicReader.latestByKey(
      try KafkaTopicReader.readAll("kernels", configuration: configuration))
    let domains = Set(
      snapshot.payload.tensors.keys.filter { $0.hasSuffix("/encoder.weight") }
        .map { String($0.dropLast("/encoder.weight".count)) })
    #expect(!domains.isEmpty)
    #expect(Set(published.keys.map { String(decoding: $0, as: UTF8.self) }) == domains)
    for (key, record) in published {
      let file = try SafeTensors.decode(record.value)
      #expect(file.metadata["domain"] == String(decoding: key, as: UTF8.self))
      #expect(record.header(named: "iak-version") != nil)
    }
    // The two bad records are on the dead-letter topic with their reasons.
    let dead = try KafkaTopicReader.readAll("dead-letters", configuration: configuration)
    #expect(dead.count == fixture.badLines)
    #expect(dead.allSatisfy { $0.header(named: "iak-reason") != nil })
  }

  @Test func aServeKilledMidRunResumesToTheKernelsOfAnUninterruptedRun() async throws {
    // The input arrives in thirds, so that each kill lands before its end however fast serve
    // runs (with all of it on the topic, serve could read and snapshot everything between two
    // looks at its store, as on a loaded machine).
    let fixture = try await ServeFixture(impressions: 6000, produced: 0)
    let total = fixture.lines.count

    // Killed twice with SIGKILL once a snapshot exists, then run to the end.
    let extra = ["--set", "checkpoint.interval=500 events"]
    for round in 0..<2 {
      try fixture.produce(upTo: total * (round + 1) / 3)
      let process = try fixture.startServe(group: "killed", store: "killed", extra: extra)
      process.killIfRunning(after: .seconds(120))
      let before = fixture.snapshotIfAny("killed")?.manifest.version ?? 0
      let deadline = ContinuousClock.now + .seconds(60)
      while ContinuousClock.now < deadline,
        (fixture.snapshotIfAny("killed")?.manifest.version ?? 0) <= before
      {
        try await Task.sleep(for: .milliseconds(20))
      }
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      #expect(process.terminationReason == .uncaughtSignal)
      let snapshot = fixture.snapshotIfAny("killed")
      let records = try ServeFixture.counts(
        try #require(snapshot, "\(fixture.log("killed").suffix(3000))"))[0]
      #expect(records > 0 && records <= Int64(fixture.producedCount), "round \(round)")
    }
    try fixture.produce(upTo: total)
    #expect(try fixture.serveUntilIdle(group: "killed", store: "killed") == 0)
    let resumed = try fixture.newestSnapshot("killed")
    #expect(try fixture.serveUntilIdle(group: "whole", store: "whole") == 0)
    let whole = try fixture.newestSnapshot("whole")

    #expect(try ServeFixture.counts(resumed) == ServeFixture.counts(whole))
    #expect(try ServeFixture.counts(resumed)[0] == Int64(fixture.lines.count))
    #expect(ServeFixture.offsets(resumed) == ServeFixture.offsets(whole))
    let a = ServeFixture.kernelState(whole)
    let b = ServeFixture.kernelState(resumed)
    #expect(a.keys.sorted() == b.keys.sorted())
    let differing = a.keys.filter { a[$0] != b[$0] }.sorted()
    #expect(differing.isEmpty, "tensors differ: \(differing.prefix(10))")
  }
  /// A restart with no new input republishes nothing it already published (issue 15: every
  /// kernel went out again under a new version with identical weights); one restored from a
  /// snapshot whose publish is not known to have completed sends its kernels again under the
  /// versions that snapshot records, with the same weights.
  @Test func aRestartRepublishesOnlyWhatMayNotHaveGoneOutUnderTheSameVersions() async throws {
    let fixture = try await ServeFixture()
    let configuration = KafkaConfiguration(bootstrapServers: fixture.bootstrapServers)
    func published() throws -> [Record] {
      try KafkaTopicReader.readAll("kernels", configuration: configuration)
    }
    func versionAndWeights(_ record: Record) throws -> (String, String, [String: [UInt8]]) {
      let file = try SafeTensors.decode(record.value)
      return (
        String(decoding: try #require(record.key), as: UTF8.self),
        String(decoding: try #require(record.header(named: "iak-version")), as: UTF8.self),
        file.tensors.mapValues(\.bytes)
      )
    }
    #expect(try fixture.serveUntilIdle(group: "g", store: "s") == 0)
    let first = try published()
    let snapshot = try fixture.newestSnapshot("s")
    let domains = Set(SnapshotView(snapshot).domains)
    #expect(!domains.isEmpty)
    #expect(Set(try first.map { try versionAndWeights($0).0 }) == domains)
    let delivered = fixture.folder + "/s/" + Pipeline.deliveredFileName
    #expect(
      (try? String(contentsOfFile: delivered, encoding: .utf8))?.trimmingCharacters(
        in: .whitespacesAndNewlines) == "\(snapshot.manifest.version)")

    // Restarted with nothing new to read: not one kernel goes out again.
    #expect(try fixture.serveUntilIdle(group: "g", store: "s") == 0)
    #expect(try published().count == first.count, "\(fixture.log("s").suffix(2000))")

    // As if killed after the snapshot but before its publish completed: every kernel goes out
    // again, each under the version it had and with the same weights.
    try FileManager.default.removeItem(atPath: delivered)
    #expect(try fixture.serveUntilIdle(group: "g", store: "s") == 0)
    let all = try published()
    #expect(all.count == first.count + domains.count)
    var latest: [String: (String, [String: [UInt8]])] = [:]
    for record in first {
      let (domain, version, weights) = try versionAndWeights(record)
      latest[domain] = (version, weights)
    }
    for record in all.dropFirst(first.count) {
      let (domain, version, weights) = try versionAndWeights(record)
      #expect(latest[domain]?.0 == version, "\(domain) went out under another version")
      #expect(latest[domain]?.1 == weights, "\(domain): version \(version) names other weights")
    }
    #expect(FileManager.default.fileExists(atPath: delivered))
  }
}
