import Checkpoint
import Foundation
import Stream
import Testing

@testable import Service

/// Issue 14 item 3: the input topic is deleted and created again (here: serve restarts against
/// a new cluster holding a shorter topic of the same name), so every partition now ends below
/// the offsets the snapshot has read. serve used to let librdkafka reset to offset 0 and skip
/// every new record as "already covered", exit 0. Now it stops with an error naming the choices
/// (`--on-offset-reset fail`, the default); `resume-from-snapshot` keeps the state and trains the
/// new records; `start-over` forgets the partitions' state and trains them anew.
@Suite(.serialized) struct OffsetResetTests {
  /// Produces `lines` to `topic` of the cluster at `servers`, placed by region as the fixture
  /// places them (region `r<n>` on partition n mod `partitions`, a bad record on 0).
  static func produce(_ lines: ArraySlice<String>, to servers: String, partitions: Int32) throws {
    let producer = try KafkaProducer.make(
      configuration: KafkaConfiguration(bootstrapServers: servers))
    for line in lines {
      let region = line.split(separator: "\"region\":\"").dropFirst().first?
        .split(separator: "\"").first.map(String.init)
      let placed = region.flatMap { Int32($0.dropFirst()) }.map { $0 % partitions } ?? 0
      try producer.send(
        OutgoingRecord(
          topic: "events", partition: placed, key: region.map { Array($0.utf8) },
          value: Array(line.utf8))
      ) { result in
        if case .failure(let error) = result { Issue.record("not delivered: \(error)") }
      }
    }
    try producer.flush(timeout: .seconds(30))
    try producer.close()
  }

  /// Runs serve of `fixture` against the cluster at `servers` until its input is idle.
  static func serve(
    _ fixture: ServeFixture, servers: String, store: String, extra: [String] = []
  ) throws -> (Int32, String) {
    var arguments = fixture.serveArguments(
      group: "after", store: store, extra: ["--exit-when-idle", "3s"] + extra)
    let at = try #require(arguments.firstIndex(of: "--bootstrap-servers"))
    arguments[at + 1] = servers
    let log = fixture.folder + "/\(store).log"
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ServeFixture.executable)
    process.arguments = arguments
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    process.killIfRunning(after: .seconds(180))
    process.waitUntilExit()
    return (process.terminationStatus, fixture.log(store))
  }

  @Test func aTopicCreatedAgainStopsServeByDefaultAndEachChoiceDoesWhatItSays() async throws {
    let fixture = try await ServeFixture(impressions: 1500, partitions: 2)
    let report = ScenarioReport("offset reset")
    report.check(
      try fixture.serveUntilIdle(group: "before", store: "store") == 0,
      "the first run did not exit 0")
    let before = try fixture.newestSnapshot("store")
    let covered = try ServeFixture.counts(before)[0]
    report.check(covered == Int64(fixture.lines.count), "the first run covers \(covered) records")
    for copy in ["resume", "over"] {
      try FileManager.default.copyItem(
        atPath: fixture.folder + "/store", toPath: fixture.folder + "/" + copy)
    }

    // The topic again, on a new cluster: 200 records, far below the snapshot's offsets.
    let recreated = try MockKafkaCluster.make()
    try recreated.createTopic("events", partitions: 2)
    for name in ["kernels", "alerts", "dead-letters", "iak-state"] {
      try recreated.createTopic(name, partitions: 1)
    }
    let fresh = 200
    try Self.produce(
      fixture.lines[..<fresh], to: recreated.bootstrapServers, partitions: fixture.partitions)

    // By default: an error naming the partition and the choices; nothing trained or skipped.
    let (status, log) = try Self.serve(fixture, servers: recreated.bootstrapServers, store: "store")
    report.check(
      status == 1, "serve exited \(status) over a topic created again: \(log.suffix(1500))")
    report.check(log.contains("went backwards"), "\(log.suffix(1500))")
    report.check(log.contains("--on-offset-reset resume-from-snapshot"), "\(log.suffix(1500))")
    report.check(
      !log.contains("skipped records the trained state already covers"),
      "records were skipped as already trained")
    let after = try fixture.newestSnapshot("store")
    report.check(try ServeFixture.counts(after)[0] == covered, "the stopped run changed the counts")
    report.check(
      ServeFixture.offsets(after) == ServeFixture.offsets(before),
      "the stopped run changed the offsets")

    // resume-from-snapshot: the state is kept and the new records are trained.
    let (resumed, resumeLog) = try Self.serve(
      fixture, servers: recreated.bootstrapServers, store: "resume",
      extra: ["--on-offset-reset", "resume-from-snapshot"])
    report.check(resumed == 0, "\(resumeLog.suffix(1500))")
    let kept = try fixture.newestSnapshot("resume")
    report.check(
      try ServeFixture.counts(kept)[0] == covered + Int64(fresh),
      "resume: the counts do not add the new records")
    report.check(
      ServeFixture.offsets(kept).values.reduce(0, +) == Int64(fresh),
      "resume: the offsets are not the new ends")

    // start-over: the partitions' state is forgotten and trained anew from the new records.
    let (restarted, overLog) = try Self.serve(
      fixture, servers: recreated.bootstrapServers, store: "over",
      extra: ["--on-offset-reset", "start-over"])
    report.check(restarted == 0, "\(overLog.suffix(1500))")
    let anew = try fixture.newestSnapshot("over")
    report.check(
      try ServeFixture.counts(anew)[0] == Int64(fresh),
      "start-over: the counts are not the new records alone")
    report.check(
      ServeFixture.offsets(anew).values.reduce(0, +) == Int64(fresh),
      "start-over: the offsets are not the new ends")

    // A value that is not a choice is a usage error naming them.
    let (wrong, wrongLog) = try Self.serve(
      fixture, servers: recreated.bootstrapServers, store: "wrong",
      extra: ["--on-offset-reset", "skip"])
    report.check(wrong == 2, "an unknown --on-offset-reset exited \(wrong)")
    report.check(
      wrongLog.contains("expected one of fail, resume-from-snapshot, start-over"),
      "no list of choices: \(wrongLog.suffix(300))")
    report.finish(
      did:
        "served \(covered) records, then restarted serve over the topic created again with "
        + "\(fresh) records (every partition ending below the snapshot's offsets), by default, "
        + "with resume-from-snapshot and with start-over",
      checked:
        "default exit 1 naming the choices with nothing trained or skipped; resume keeps the "
        + "state and trains the new records; start-over trains them anew",
      figures:
        "default exit \(status); resume exit \(resumed), covers \(covered + Int64(fresh)); "
        + "start-over exit \(restarted), covers \(fresh)")
  }
}
