import Base
import Checkpoint
import Foundation
import Learner
import Testing

@testable import Service

/// Issue 18 with several instances: a group of `serve` processes is upgraded while partitions
/// move. The switch is announced, and each member re-bases in the background; a third member
/// joins before the switch records, one member leaves after them and one is SIGKILLed. The
/// member left alone must end with the kernels of one process alone that read the same input,
/// switch records included.
@Suite struct BackboneUpgradeGroupTests {
  @Test func aGroupUpgradedWhilePartitionsMoveEndsAsOneProcessAlone() async throws {
    let fixture = try await ServeFixture(
      impressions: 3000, partitions: 3, produced: 0, brokerProcess: true)
    let total = fixture.lines.count
    let newFolder = fixture.folder + "/bb-new"
    try TestBackbone.pretrain(
      events: fixture.folder + "/events.jsonl", out: newFolder,
      arguments: fixture.settings + ["--set", "backbone.seed=2"])
    let quick = ["--set", "checkpoint.interval=1s"]
    let group = "upgrade-group"

    try fixture.produce(upTo: total / 3)
    let first = try fixture.startServe(group: group, store: "a", extra: quick)
    let second = try fixture.startServe(group: group, store: "b", extra: quick)
    for process in [first, second] { process.killIfRunning(after: .seconds(240)) }
    _ = try ScaleOutTests.eventually(seconds: 30) {
      try ScaleOutTests.caughtUp(fixture, group: group)
    }

    // Announced: the members re-base in the background; the switch records come 4 s later,
    // and a third member joins meanwhile, so partitions move between the two.
    let arguments =
      [
        "iak-stream", "upgrade", "--backbone", newFolder, "--bootstrap-servers",
        fixture.bootstrapServers, "--set", "input.topics=events", "--rebase-from-time",
        "1997-01-01", "--switch-after", "4s",
      ] + fixture.settings
    let upgrade = Task.detached { () -> (Int32, String) in
      let out = CommandLineToolTests.Captured()
      let status = CommandLineTool.main(
        arguments: arguments, output: { out.write($0) }, errorOutput: { out.writeError($0) })
      return (status, out.output + out.errors)
    }
    try await Task.sleep(for: .seconds(1))
    let third = try fixture.startServe(group: group, store: "c", extra: quick)
    third.killIfRunning(after: .seconds(240))
    let (status, output) = await upgrade.value
    try #require(status == 0, "upgrade failed: \(output.suffix(2000))")
    try fixture.produce(upTo: total / 2)
    _ = try ScaleOutTests.eventually(seconds: 60) {
      try ScaleOutTests.caughtUp(fixture, group: group)
    }

    // After the switch the first leaves cleanly and the second dies.
    try fixture.produce(upTo: total * 2 / 3)
    first.terminate()
    first.waitUntilExit()
    #expect(first.terminationStatus == 0, "\(fixture.log("a").suffix(3000))")
    try fixture.produce(upTo: total * 5 / 6)
    try await Task.sleep(for: .milliseconds(500))
    kill(second.processIdentifier, SIGKILL)
    second.waitUntilExit()
    try fixture.produce(upTo: total)
    #expect(
      try ScaleOutTests.eventually(seconds: 90) {
        try ScaleOutTests.caughtUp(fixture, group: group)
      })
    third.terminate()
    third.waitUntilExit()
    #expect(third.terminationStatus == 0, "\(fixture.log("c").suffix(3000))")

    #expect(try fixture.serveUntilIdle(group: "alone", store: "alone") == 0)
    let alone = try fixture.newestSnapshot("alone")
    let last = try fixture.newestSnapshot("c")
    let newSHA = try Backbone.load(from: newFolder).weightsSHA256
    let report = ScenarioReport("backbone switch in a group")
    report.check(alone.manifest.backboneSHA256 == newSHA, "alone did not switch")
    report.check(last.manifest.backboneSHA256 == newSHA, "the group did not switch")
    let ends = try fixture.endOffsets()
    report.check(ServeFixture.offsets(last) == ends, "offsets not at the ends")
    report.check(ServeFixture.offsets(alone) == ends, "alone's offsets not at the ends")
    // Kernels, batches, evaluation, drift, counts and the router; the joiner's bytes are not
    // compared, as in ScaleOutTests (they differ between a group and one process with no
    // switch at all).
    func state(_ snapshot: Snapshot) -> [String: String] {
      snapshot.payload.tensors.filter {
        $0.key != Pipeline.joinerTensor && $0.key != Pipeline.offsetsTensor
      }
      .mapValues { SHA256.hexDigest(of: $0.bytes) }
    }
    let expected = state(alone)
    let actual = state(last)
    let differing = Set(expected.keys).union(actual.keys).filter { actual[$0] != expected[$0] }
    report.check(differing.isEmpty, "state tensors that differ: \(differing.sorted().prefix(20))")
    let background = ["a", "b", "c"].map {
      fixture.log($0).components(separatedBy: "re-basing in the background").count - 1
    }
    let switches = ["a", "b", "c"].map {
      fixture.log($0).components(separatedBy: "switched the backbone").count - 1
    }
    let acrossTheSwitch = ["a", "b", "c"].map {
      fixture.log($0).components(separatedBy: "took over a partition").count - 1
    }
    report.check(background.reduce(0, +) >= 1, "no member re-based in the background")
    report.finish(
      did:
        "3 serve processes in one group upgraded to another backbone (announced, switched 4 s "
        + "later, re-base window from the start) while a 3rd joined, one left and one was "
        + "SIGKILLed; \(total) records in 6 steps",
      checked: "the last member's state tensors and offsets equal one process alone's",
      figures:
        "background re-bases a/b/c \(background), switches \(switches), partitions taken "
        + "over across the switch \(acrossTheSwitch), \(SnapshotView(alone).domains.count) "
        + "domains, tensors differing \(differing.count)")
  }
}
