import Base
import Checkpoint
import Foundation
import Learner
import Stream
import Testing

@testable import Service

/// Issue 18's switch under `serve` on a live stream: `iak-stream upgrade` writes the switch
/// records mid-stream, with a re-base window back to the stream's start; `serve` is SIGKILLed
/// while it meets them and again while it writes its first snapshot after the switch, and
/// restarted each time. It must end with the state of one uninterrupted run (a replay of the
/// whole topic that meets the same records and re-bases the same way), and with the kernels of
/// a replay of the re-base window on the new backbone. Nothing is lost or trained twice, and
/// the published kernels name the new backbone.
@Suite struct BackboneUpgradeChaosTests {
  @Test func anUpgradeMidStreamWithKillsAroundTheSwitchEndsAsOneUninterruptedRun() async throws {
    let fixture = try ChaosFixture(impressions: 900)
    let report = ScenarioReport("backbone switch (\(ChaosTests.form))")
    try fixture.createInputTopic("events")
    let newFolder = fixture.folder + "/bb-new"
    let (pretrained, pretrainOutput) = fixture.run([
      "pretrain", "--input", fixture.folder + "/events.jsonl", "--out", newFolder,
      "--set", "backbone.seed=2",
    ])
    try #require(pretrained == 0, "\(pretrainOutput.suffix(2000))")
    let producer = LiveProducer(
      lines: fixture.lines, topic: "events", bootstrapServers: fixture.cluster.bootstrapServers,
      linesPerSecond: 600)
    producer.release(upTo: fixture.lines.count / 2)

    // First life: trains a third of the stream, meets the switch records, killed as soon as
    // its log shows it met one (waiting, or just switched).
    let first = try fixture.startServe(
      topic: "events", group: "upgrade", store: "upgrade", extra: ChaosTests.serveSettings)
    report.check(
      try await first.waitForProcessed(fixture.lines.count / 3, timeout: .seconds(120)),
      "serve did not get going: \(first.log.suffix(2000))")
    // The re-base window: every record before the switch records (the stream's Kafka
    // timestamps start in December 1997). Announced first: serve re-bases in the background
    // for 2 s while it goes on with the old backbone, then the switch records follow.
    let (status, output) = fixture.run([
      "upgrade", "--backbone", newFolder, "--bootstrap-servers", fixture.cluster.bootstrapServers,
      "--set", "input.topics=events", "--rebase-from-time", "1997-01-01", "--switch-after", "2s",
    ])
    try #require(status == 0, "upgrade failed: \(output.suffix(2000))")
    let switchOffsets = try Self.switchOffsets(in: output)
    try #require(switchOffsets.count == 3, "\(output)")
    // Three announcements and three switch records, each with the window from offset 0.
    try #require(output.components(separatedBy: "(re-base from 0)").count == 7, "\(output)")
    let met = try await Self.waitForLog(first, containing: "backbone switch record")
    first.killNow()
    report.check(
      first.log.contains("re-basing in the background"),
      "the first life did not re-base in the background: \(first.log.suffix(2000))")
    var lives = [first.log]
    report.check(met, "the first life never met a switch record: \(first.log.suffix(2000))")

    // Second life: restarts from a snapshot before the switch (it switches again) or after it
    // (it goes on), and is killed inside its first snapshot write after the switch.
    producer.release(upTo: fixture.lines.count * 3 / 4)
    let newSHA = try Backbone.load(from: newFolder).weightsSHA256
    let firstSwitched =
      fixture.newestSnapshotIfAny("upgrade")?.manifest.backboneSHA256 == newSHA
    let second = try fixture.startServe(
      topic: "events", group: "upgrade", store: "upgrade", extra: ChaosTests.serveSettings)
    let switched = try await Self.waitForLog(
      second, containing: firstSwitched ? "msg=serving" : "switched the backbone")
    let trap = try SnapshotWriteTrap(folder: fixture.storePath("upgrade"))
    let fired = trap.kill(second.pid, at: .buildingFolder, occurrence: 1, timeout: .seconds(60)) {
      producer.release(upTo: min(producer.released + 100, fixture.lines.count))
    }
    second.killNow()
    lives.append(second.log)
    report.check(switched, "the second life never switched: \(second.log.suffix(2000))")
    report.check(fired, "the second life wrote no snapshot: \(second.log.suffix(2000))")

    // Third life: the rest of the stream, until the input has been quiet for 3 s.
    let third = try fixture.startServe(
      topic: "events", group: "upgrade", store: "upgrade",
      extra: ChaosTests.serveSettings + ["--exit-when-idle", "3s"])
    try producer.finish()
    third.process.killIfRunning(after: .seconds(300))
    third.process.waitUntilExit()
    lives.append(third.log)
    report.check(
      third.process.terminationStatus == 0,
      "the last life exited with \(third.process.terminationStatus): \(third.log.suffix(2000))")
    let onTopic = try fixture.endOffsets("events").values.reduce(0, +)
    let switches = lives.map { $0.components(separatedBy: "switched the backbone").count - 1 }
    report.check(switches.reduce(0, +) >= 1, "no life switched the backbone")

    let served = try fixture.newestSnapshot("upgrade")
    report.check(served.manifest.backboneSHA256 == newSHA, "the snapshot names another backbone")
    report.check(
      served.manifest.extras[Pipeline.backboneDirectoryKey] == newFolder,
      "the snapshot does not name the new backbone's folder")
    // Every record once: the counts and offsets cover the topic, switch records included.
    let counts = try ServeFixture.counts(served)
    report.check(counts[0] == Int64(onTopic), "records \(counts[0]) of \(onTopic) on the topic")
    let ends = try fixture.endOffsets("events")
    report.check(ServeFixture.offsets(served) == ends, "snapshot offsets are not the ends")
    report.check(
      try fixture.committed(group: "upgrade", topic: "events") == ends,
      "committed offsets are not the ends")
    // One uninterrupted run, from the old backbone through the switch records.
    let whole = try fixture.replay("events", store: "whole")
    let differing = Self.differing(served.payload.tensors, whole.payload.tensors)
    report.check(differing.isEmpty, "\(differing.count) tensors differ: \(differing.prefix(5))")
    // After the switch: a replay of the re-base window (here the whole topic, whose switch
    // records name the backbone in use and are passed over) on the new backbone.
    let (replayed, replayOutput) = fixture.run([
      "replay", "--topic", "events", "--bootstrap-servers", fixture.cluster.bootstrapServers,
      "--backbone", newFolder, "--checkpoint-dir", fixture.storePath("rebased"),
      "--from", "earliest", "--set", "checkpoint.interval=100000 events",
      "--log-level", "warning",
    ])
    try #require(replayed == 0, "\(replayOutput.suffix(2000))")
    let fresh = try fixture.newestSnapshot("rebased")
    let afterSwitch = Self.differing(
      served.payload.tensors.filter { !$0.key.hasPrefix(".pipeline/") },
      fresh.payload.tensors.filter { !$0.key.hasPrefix(".pipeline/") })
    report.check(
      afterSwitch.isEmpty,
      "\(afterSwitch.count) tensors differ from a replay of the window on the new backbone: "
        + "\(afterSwitch.prefix(5))")
    // The kernels topic carries every final kernel, and each says it is the new backbone's.
    let stale = try fixture.domainsPublishedStale(comparedWith: served)
    report.check(stale.isEmpty, "stale on the kernels topic: \(stale.prefix(4))")
    let published = try fixture.publishedKernels()
    let domains = SnapshotView(served).domains
    let wrongBackbone = domains.filter {
      published[$0]?.metadata["backbone_sha256"] != newSHA
    }
    report.check(
      wrongBackbone.isEmpty, "kernels published under another backbone: \(wrongBackbone)")
    report.check(!domains.isEmpty, "no domain after the switch")
    // The switch is announced, at the switch records, and what went out ahead names the new
    // backbone under its own keys.
    let topic = try fixture.kernelsTopic()
    let announcements = topic.filter { $0.key == Array(KernelPublisher.announcementKey.utf8) }
      .compactMap { BackboneAnnouncement(parsing: $0.value) }
    report.check(!announcements.isEmpty, "no announcement on the kernels topic")
    let oldSHA = try Backbone.load(from: fixture.folder + "/bb").weightsSHA256
    for announcement in announcements {
      report.check(
        announcement.backboneSHA256 == newSHA && announcement.previousBackboneSHA256 == oldSHA
          && announcement.backboneDirectory == newFolder
          && Dictionary(
            uniqueKeysWithValues: announcement.switchedAt.map { ($0.key.partition, $0.value) })
            == switchOffsets,
        "announcement \(announcement.jsonLine), switch records at \(switchOffsets)")
    }
    let ahead = topic.filter { String(decoding: $0.key ?? [], as: UTF8.self).contains("@") }
    for record in ahead {
      let key = String(decoding: record.key ?? [], as: UTF8.self)
      let file = try SafeTensors.decode(record.value)
      report.check(
        key == KernelPublisher.aheadKey(file.metadata["domain"] ?? "", backboneSHA256: newSHA)
          && file.metadata["backbone_sha256"] == newSHA,
        "\(key) published ahead holds \(file.metadata)")
    }
    report.finish(
      did:
        "wrote the switch records with `iak-stream upgrade` while serve trained a live stream of "
        + "\(fixture.lines.count) records; SIGKILLed serve as it met them, and inside its first "
        + "snapshot write after the switch; restarted each time",
      checked:
        "counts and offsets cover the topic, committed offsets, state vs an uninterrupted "
        + "replay through the switch, state after the switch vs a replay of the re-base window "
        + "on the new backbone, published kernels name the new backbone",
      figures:
        "switches per life \(switches); \(counts[0]) records, \(counts[2]) examples; "
        + "\(domains.count) domains after the switch, all published under the new backbone; "
        + "\(ahead.count) kernels published ahead, \(announcements.count) announcement(s)")
  }

  /// The partition -> offset list `upgrade` printed ("events/0@123, ...").
  static func switchOffsets(in output: String) throws -> [Int32: Int64] {
    var result: [Int32: Int64] = [:]
    for match in output.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" })
    where match.hasPrefix("events/") {
      let parts = match.dropFirst("events/".count).split(separator: "@")
      guard parts.count == 2, let partition = Int32(parts[0]), let offset = Int64(parts[1])
      else { continue }
      result[partition] = offset
    }
    return result
  }

  /// Waits until `serve`'s log contains `text` (60 s at most).
  static func waitForLog(_ serve: ServeProcess, containing text: String) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline {
      if serve.log.contains(text) { return true }
      guard serve.isRunning else { return false }
      try await Task.sleep(for: .milliseconds(20))
    }
    return false
  }

  /// The names of the tensors that differ between `a` and `b`, sorted.
  static func differing(_ a: [String: Tensor], _ b: [String: Tensor]) -> [String] {
    Set(a.keys).union(b.keys).filter { a[$0]?.bytes != b[$0]?.bytes }.sorted()
  }
}
