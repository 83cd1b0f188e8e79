import Foundation
import HTTP
import Observability
import Synchronization
import Testing

@testable import Service

/// What a new user meets first, through the real binary: times, configuration errors, secrets.
@Suite struct FirstContactTests {
  /// Runs the built `iak-stream` with `arguments` (no pipeline.conf: a temporary working
  /// folder); returns its exit status, standard output and standard error.
  static func run(_ arguments: [String], in folder: String) throws -> (
    status: Int32, output: String, errors: String
  ) {
    let process = Process()
    process.executableURL = SecurityTests.executable
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: folder)
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    process.killIfRunning(after: .seconds(120))
    let errorData = Mutex(Data())
    let reader = Thread {
      errorData.withLock { $0 = errors.fileHandleForReading.readDataToEndOfFile() }
    }
    reader.start()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !reader.isFinished { Thread.sleep(forTimeInterval: 0.01) }
    return (
      process.terminationStatus, String(decoding: outputData, as: UTF8.self),
      String(decoding: errorData.withLock { $0 }, as: UTF8.self)
    )
  }

  @Test func aDateIsMidnightUTCWhereverATimeIsTaken() throws {
    #expect(TimeValue.milliseconds("1998-01-01") == 883_612_800_000)
    #expect(TimeValue.milliseconds("1998-01-01T00:00:00Z") == 883_612_800_000)
    #expect(TimeValue.milliseconds("1998-01-01T01:00:00+01:00") == 883_612_800_000)
    #expect(TimeValue.milliseconds("883612800000") == 883_612_800_000)
    for bad in ["1998-1-1", "1998-01-01T00:00:00", "yesterday", "1998-13-01", ""] {
      #expect(TimeValue.milliseconds(bad) == nil, "\(bad)")
    }
    var configuration = Configuration()
    try configuration.apply(override: "backbone.until=1998-02-01")
    #expect(configuration.string("backbone.until") == "1998-02-01")
    try configuration.apply(override: "backbone.until=")
    #expect(throws: ConfigError.self) { try configuration.apply(override: "backbone.until=soon") }
  }

  @Test func pretrainTakesADateAndSaysWhenNoEventIsBeforeIt() throws {
    let folder = try TemporaryFolder.make("iak-first-contact")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    // 1,200 impressions every 30 s from 1997-12-24T21:46:40Z: 267 of them before midnight.
    let events = folder + "/events.jsonl"
    try (ServeFixture.events(impressions: 1200).joined(separator: "\n") + "\n").write(
      toFile: events, atomically: true, encoding: .utf8)
    let settings = [
      "--set", "backbone.fields=user,item", "--set", "backbone.buckets=64", "--set",
      "backbone.hidden=8", "--set", "backbone.epochs=1",
    ]
    let dated = try Self.run(
      ["pretrain", "--input", events, "--until", "1997-12-25", "--out", folder + "/bb"]
        + settings, in: folder)
    #expect(dated.status == 0, "\(dated.errors)")
    #expect(dated.output.contains("pretrained on 267 examples"), "\(dated.output)")
    #expect(!dated.errors.contains("level=warning msg=\"configured field"), "\(dated.errors)")

    // A field configured but never there, and one there but never used, are named.
    let fields = try Self.run(
      ["pretrain", "--input", events, "--until", "1997-12-25", "--out", folder + "/bb3"]
        + settings + [
          "--set", "backbone.fields=user,device", "--set", "event.categorical_fields=user",
        ],
      in: folder)
    #expect(fields.status == 0, "\(fields.errors)")
    #expect(
      fields.errors.contains(
        "configured field 'device' is in none of the first 1000 impressions"), "\(fields.errors)")
    #expect(
      fields.errors.contains(
        "field 'item' is in 1000 of the first 1000 impressions but no setting uses it: add it to "
          + "event.categorical_fields and backbone.fields"), "\(fields.errors)")

    // The default backbone.until (1998-01-01) is after every event here; 1997-12-01 is before.
    let none = try Self.run(
      [
        "pretrain", "--input", events, "--out", folder + "/bb2", "--set",
        "backbone.until=1997-12-01",
      ]
        + settings, in: folder)
    #expect(none.status == 2)
    #expect(
      none.errors.contains(
        "no labelled impression in \(events) is before backbone.until (1997-12-01T00:00:00Z): its "
          + "1200 are from 1997-12-24T21:46:40Z to 1997-12-25T07:46:10Z"), "\(none.errors)")
    #expect(!none.errors.contains("validation_fraction"))
  }

  @Test func configChecksEveryTypedKeyAndReportsEveryProblemOfAFile() throws {
    let folder = try TemporaryFolder.make("iak-first-contact")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let garbage = try Self.run(["config", "--set", "backbone.until=garbage"], in: folder)
    #expect(garbage.status == 2)
    #expect(
      garbage.errors.contains(
        "--set backbone.until: 'backbone.until' expects a time: RFC 3339 (1998-01-01T00:00:00Z), "
          + "a date meaning midnight UTC (1998-01-01) or epoch milliseconds, or empty for none, "
          + "got 'garbage'"), "\(garbage.errors)")

    let file = folder + "/bad.conf"
    try """
    train.batch_max = many
    # a comment
    train.batch_mx = 16
    backbone.until = 1998-02-30
    kafka.sasl.password: hunter2
    """.write(toFile: file, atomically: true, encoding: .utf8)
    let all = try Self.run(["config", "--config", file], in: folder)
    #expect(all.status == 2)
    let lines = all.errors.split(separator: "\n").map(String.init)
    #expect(lines.count == 4, "\(all.errors)")
    #expect(lines.first?.hasPrefix("iak-stream config: \(file) line 1: 'train.batch_max'") == true)
    #expect(all.errors.contains("\(file) line 3: unknown key 'train.batch_mx'"))
    #expect(all.errors.contains("\(file) line 4: 'backbone.until' expects a time"))
    #expect(all.errors.contains("\(file) line 5: expected 'key = value'"))
    #expect(!all.errors.contains("hunter2"), "a malformed secret line is echoed")
  }

  @Test func configAndReplayRefuseTheSameUnusableSettingWithTheSameWords() throws {
    let folder = try TemporaryFolder.make("iak-first-contact")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let expected = "--set train.learning_rate: train.learning_rate = 0.0: must be > 0"
    let config = try Self.run(["config", "--set", "train.learning_rate=0"], in: folder)
    #expect(config.status == 2)
    #expect(config.errors.contains(expected), "\(config.errors)")
    let replay = try Self.run(
      [
        "replay", "--input", folder + "/none.jsonl", "--checkpoint-dir", folder + "/c", "--set",
        "train.learning_rate=0",
      ], in: folder)
    #expect(replay.status == 2)
    #expect(replay.errors.contains(expected), "\(replay.errors)")
    let insert = try Self.run(
      ["config", "--set", "iak.insert_at=hidden3", "--set", "backbone.hidden=8,4"], in: folder)
    #expect(insert.status == 2)
    #expect(insert.errors.contains("iak.insert_at = hidden3: the backbone has 2 hidden layers"))
    // A tower without hidden layers takes its kernel at the embedding only (`last` is it).
    let none = try Self.run(
      ["config", "--set", "iak.insert_at=hidden1", "--set", "backbone.hidden="], in: folder)
    #expect(none.status == 2)
    #expect(
      none.errors.contains(
        "iak.insert_at = hidden1: the backbone has 0 hidden layers; use embedding"),
      "\(none.errors)")
    #expect(!none.errors.contains("hidden1..hidden0"), "\(none.errors)")
    #expect(
      try Self.run(["config", "--set", "backbone.hidden="], in: folder).status == 0,
      "iak.insert_at = last is the embedding of a tower without hidden layers")
  }

  @Test func urlsLoseTheirCredentialsWhereverTheyArePrinted() throws {
    #expect(
      Redaction.url("http://ops:pw@alerts.example:9093/hook?token=abc")
        == "http://********@alerts.example:9093/hook?********")
    #expect(Redaction.url("http://alerts.example/hook") == "http://alerts.example/hook")
    #expect(Redaction.url("/hook?key=1#x") == "/hook?********")
    let folder = try TemporaryFolder.make("iak-first-contact")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let shown = try Self.run(
      ["config", "--set", "alert.webhook=http://ops:s3cret@127.0.0.1:1/hook?token=t0ken"],
      in: folder)
    #expect(shown.status == 0)
    #expect(shown.output.contains("alert.webhook = http://********@127.0.0.1:1/hook?********"))
    #expect(!shown.output.contains("s3cret") && !shown.output.contains("t0ken"))
    // A URL serve cannot use is named in the error without its credentials.
    #expect(throws: UsageError.self) {
      try HTTPPost(webhookURL: "http://ops:s3cret@host:x/hook?token=t")
    }
    do {
      _ = try HTTPPost(webhookURL: "http://ops:s3cret@host:x/hook?token=t")
    } catch {
      #expect(!error.message.contains("s3cret") && !error.message.contains("token=t"))
      #expect(error.message.contains("http://********@host:x/hook?********"), "\(error.message)")
    }
  }
}

/// The development broker as a new user starts it by hand: it says what it holds, and serve
/// finds its topics without waiting on CreateTopics.
@Suite struct DevelopmentBrokerTests {
  final class Text: Sendable {
    let value = Mutex("")
  }

  @Test func theBrokerCreatesServesTopicsAndStatesItsCapacity() throws {
    let folder = try TemporaryFolder.make("iak-first-broker")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let process = Process()
    process.executableURL = SecurityTests.executable
    process.arguments = ["broker", "--topic", "iak-events:3"]
    process.currentDirectoryURL = URL(fileURLWithPath: folder)  // no pipeline.conf: defaults
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    let outputText = Text()
    let errorText = Text()
    output.fileHandleForReading.readabilityHandler = { handle in
      let data = handle.availableData
      outputText.value.withLock { $0 += String(decoding: data, as: UTF8.self) }
    }
    errors.fileHandleForReading.readabilityHandler = { handle in
      let data = handle.availableData
      errorText.value.withLock { $0 += String(decoding: data, as: UTF8.self) }
    }
    try process.run()
    process.killIfRunning(after: .seconds(60))
    defer {
      if process.isRunning { process.terminate() }
      output.fileHandleForReading.readabilityHandler = nil
      errors.fileHandleForReading.readabilityHandler = nil
    }
    let deadline = ContinuousClock.now + .seconds(20)
    while ContinuousClock.now < deadline
      && !outputText.value.withLock({ $0.contains("# iak-dead-letters") })
    {
      Thread.sleep(forTimeInterval: 0.05)
    }
    let announced = outputText.value.withLock { $0 }
    let lines = announced.split(separator: "\n").map(String.init)
    let servers = try #require(lines.first?.split(separator: "=").last.map(String.init))
    #expect(lines.first == "bootstrap.servers=\(servers)")
    #expect(announced.contains("keeps about 5 MiB of records per partition"))
    #expect(announced.contains("# iak-events: 3 partition(s), about 15 MiB"), "\(announced)")
    for topic in ["iak-kernels", "iak-state", "iak-alerts", "iak-dead-letters"] {
      #expect(announced.contains("# \(topic): 1 partition(s), about 5 MiB"), "\(topic)")
    }

    // serve's start-up step finds every topic, warns of nothing and creates nothing.
    var configuration = Configuration()
    try configuration.apply(override: "kafka.bootstrap.servers=\(servers)")
    let logged = Text()
    let logger = Logger(label: "topics", level: .debug) { line in
      logged.value.withLock { $0 += line + "\n" }
    }
    let statuses = try ServiceTopics.ensure(
      configuration: configuration, logger: logger, timeout: .seconds(10))
    #expect(statuses.count == 4)
    #expect(statuses.values.allSatisfy { $0 == .existed }, "\(statuses)")
    let log = logged.value.withLock { $0 }
    #expect(!log.contains("level=warning") && !log.contains("level=error"), "\(log)")
    #expect(!log.contains("consumer property"), "\(log)")

    // produce, through the binary, says when the broker dropped what it wrote, and how to avoid
    // it: 8 MB into one partition of a broker that keeps about 5 MiB of it.
    let big = folder + "/big.jsonl"
    let padding = String(repeating: "x", count: 1_000)
    try (0..<8_000).map { #"{"ts":\#($0),"region":"west","pad":"\#(padding)"}"# }
      .joined(separator: "\n").write(toFile: big, atomically: true, encoding: .utf8)
    let produced = try FirstContactTests.run(
      ["produce", "--input", big, "--topic", "iak-kernels", "--bootstrap-servers", servers],
      in: folder)
    #expect(produced.status == 0, "\(produced.errors)")
    #expect(produced.output.contains("sent 8000, delivered 8000, failed 0"))
    let dropped = try #require(
      produced.output.split(separator: "\n").first { $0.hasPrefix("warning: ") },
      "\(produced.output)")
    #expect(dropped.contains("of the 8000 records delivered are no longer on the broker"))
    #expect(
      dropped.contains("give the topic more partitions (iak-stream broker --topic iak-kernels:N)"))
    let badStamp = try FirstContactTests.run(
      ["produce", "--input", big, "--timestamp", "now", "--bootstrap-servers", servers], in: folder)
    #expect(badStamp.status == 2)
    #expect(badStamp.errors.contains("--timestamp expects send or event, got 'now'"))

    process.terminate()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    let brokerLog = errorText.value.withLock { $0 }
    #expect(!brokerLog.contains("bootstrap.servers"), "\(brokerLog)")
  }
}

/// Every log line of a pretrain, replay, export and score run, as an operator reads them.
@Suite struct LogLineTests {
  @Test func aReplaySaysWhyItRefusedRecordsWithoutFloodingTheLog() throws {
    let folder = try TemporaryFolder.make("iak-first-rejected")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let events = folder + "/events.jsonl"
    // 12 broken lines first, then the fixture's events (two more broken lines among them).
    let lines = Array(repeating: "{\"type\":", count: 12) + ServeFixture.events(impressions: 300)
    try (lines.joined(separator: "\n") + "\n").write(
      toFile: events, atomically: true, encoding: .utf8)
    let settings = [
      "--set", "backbone.fields=user,item", "--set", "backbone.buckets=64", "--set",
      "backbone.hidden=8", "--set", "backbone.epochs=1", "--set", "backbone.until=",
      "--set", "domain.window=every 1d", "--set", "label.wait=1m",
    ]
    let tool = CommandLineToolTests()
    #expect(tool.run(["pretrain", "--input", events, "--out", folder + "/bb"] + settings).0 == 0)
    let replay = try FirstContactTests.run(
      [
        "replay", "--input", events, "--backbone", folder + "/bb", "--checkpoint-dir",
        folder + "/c",
      ] + settings, in: folder)
    #expect(replay.status == 0, "\(replay.errors)")
    #expect(replay.output.contains("(14 rejected)"), "\(replay.output)")
    // No dead-letter topic keeps them: each of the first ten of a reason is logged with where
    // it was and why; the next of that reason logged would be the 100th.
    let logged = replay.errors.split(separator: "\n").filter {
      $0.contains("msg=\"record rejected (no dead-letter topic")
    }
    #expect(logged.count == 10, "\(logged)")
    for (index, line) in logged.enumerated() {
      #expect(line.contains("reason=malformed_json"), "\(line)")
      #expect(line.contains(" offset=\(index) "), "\(line)")
      #expect(line.contains("of_this_reason=\(index + 1)"), "\(line)")
    }
  }

  @Test func aReplayWhoseWaitEndsBeforeEveryClickSaysTheClicksLabelledNothing() throws {
    let folder = try TemporaryFolder.make("iak-first-late")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let events = folder + "/events.jsonl"
    // Every click comes 2 s after its impression.
    let lines = ServeFixture.events(impressions: 200)
    try (lines.joined(separator: "\n") + "\n").write(
      toFile: events, atomically: true, encoding: .utf8)
    let clicks = lines.count { $0.contains("\"type\":\"click\"") }
    let settings = [
      "--set", "backbone.fields=user,item", "--set", "backbone.buckets=64", "--set",
      "backbone.hidden=8", "--set", "backbone.epochs=1", "--set", "backbone.until=",
      "--set", "domain.window=every 1d",
    ]
    let tool = CommandLineToolTests()
    #expect(tool.run(["pretrain", "--input", events, "--out", folder + "/bb"] + settings).0 == 0)
    func replay(wait: String) -> String {
      let (status, captured) = tool.run(
        [
          "replay", "--input", events, "--backbone", folder + "/bb", "--checkpoint-dir",
          folder + "/c-" + wait, "--set", "label.wait=" + wait,
        ] + settings)
      #expect(status == 0, "\(captured.errors)")
      return captured.output
    }
    let instant = replay(wait: "0s")
    #expect(
      instant.contains(
        "; \(clicks) clicks labelled nothing (late \(clicks)): no click came within label.wait "
          + "of its impression"), "\(instant)")
    // With a wait longer than the clicks' delay every click labels its impression.
    let waited = replay(wait: "1m")
    #expect(!waited.contains("clicks labelled nothing"), "\(waited)")
  }

  @Test func logLinesCarryTheirZoneShortFiguresAndTrueCounts() throws {
    let folder = try TemporaryFolder.make("iak-first-logs")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let events = folder + "/events.jsonl"
    let lines = ServeFixture.events(impressions: 1200)
    try (lines.joined(separator: "\n") + "\n").write(
      toFile: events, atomically: true, encoding: .utf8)
    let settings = [
      "--set", "backbone.fields=user,item", "--set", "backbone.buckets=64", "--set",
      "backbone.hidden=8", "--set", "backbone.epochs=2", "--set", "backbone.until=",
      "--set", "domain.window=every 1d", "--set", "train.batch_max=8", "--set", "label.wait=1m",
      "--set", "log.level=debug",
    ]
    var logs: [String] = []
    func run(_ words: [String]) throws {
      let result = try FirstContactTests.run(words + settings, in: folder)
      #expect(result.status == 0, "\(words): \(result.errors)")
      logs += result.errors.split(separator: "\n").map(String.init)
    }
    try run(["pretrain", "--input", events, "--out", folder + "/bb"])
    try run([
      "replay", "--input", events, "--backbone", folder + "/bb", "--checkpoint-dir",
      folder + "/c", "--flush", "--summary", folder + "/runs/1/summary.json",
    ])
    try run(["kernels", "export", "--checkpoint-dir", folder + "/c", "--out", folder + "/k"])
    try run([
      "score", "--backbone", folder + "/bb", "--input", events, "--out",
      folder + "/new/scores.tsv",
    ])
    // Output files go into folders the commands make, as pretrain --out does.
    #expect(FileManager.default.fileExists(atPath: folder + "/runs/1/summary.json"))
    #expect(FileManager.default.fileExists(atPath: folder + "/new/scores.tsv"))
    #expect(logs.count > 10)
    let zoned = try Regex(#"^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level="#)
    let decimal = try Regex(#"\d+\.\d+"#)
    /// Whether `line` has a decimal with more than 7 significant digits (`80.55339638208125`).
    func hasLongFigure(_ line: String) -> Bool {
      line.matches(of: decimal).contains { match in
        line[match.range].filter { $0 != "." }.drop { $0 == "0" }.count > 7
      }
    }
    for line in logs {
      #expect(line.contains(zoned), "no zone: \(line)")
      #expect(!line.contains("[:]") && !line.contains("[\""), "a Swift literal: \(line)")
      #expect(!hasLongFigure(line), "a long figure: \(line)")
      #expect(!line.contains("=\"\""), "an empty value: \(line)")
    }
    // Each read of the events file counts all its non-empty lines.
    let reads = logs.filter { $0.contains("msg=\"read events.jsonl:") }
    #expect(reads.count == 2, "\(reads)")
    for read in reads { #expect(read.contains("read events.jsonl: \(lines.count) lines")) }
    #expect(
      logs.contains { $0.contains("msg=\"published kernels\"") && $0.contains("to=\"folder ") })
  }
}
