import Foundation
import Testing

@testable import Service

@Suite struct CommandLineToolTests {
  final class Captured: @unchecked Sendable {
    private let lock = NSLock()
    private var out = ""
    private var err = ""
    var output: String { lock.withLock { out } }
    var errors: String { lock.withLock { err } }
    func write(_ text: String) { lock.withLock { out += text } }
    func writeError(_ text: String) { lock.withLock { err += text + "\n" } }
  }

  func run(_ words: [String]) -> (Int32, Captured) {
    let captured = Captured()
    let status = CommandLineTool.main(
      arguments: ["iak-stream"] + words, output: { captured.write($0) },
      errorOutput: { captured.writeError($0) })
    return (status, captured)
  }

  @Test func helpListsEverySubcommandOfTheDesign() {
    let (status, captured) = run(["--help"])
    #expect(status == 0)
    for name in [
      "serve", "replay", "pretrain", "score", "produce", "dataset", "broker", "kernels", "bench",
    ] {
      #expect(captured.output.contains("\n  \(name) "), "--help does not list \(name)")
    }
  }

  @Test func eachCommandDocumentsItsOptions() {
    for command in Commands.all {
      let (status, captured) = run([command.name, "--help"])
      #expect(status == 0)
      #expect(captured.output.contains("Usage: iak-stream \(command.name)"))
      #expect(captured.output.contains("--config PATH"))
    }
  }

  @Test func usageAndConfigurationErrorsExitWithTwoAndAHint() {
    let (unknownCommand, first) = run(["confgi"])
    #expect(unknownCommand == 2)
    #expect(first.errors.contains("unknown command 'confgi' (did you mean 'config'?)"))
    let (unknownOption, second) = run(["config", "--defualts"])
    #expect(unknownOption == 2)
    #expect(second.errors.contains("unknown option '--defualts' (did you mean '--defaults'?)"))
    let (badKey, third) = run(["config", "--config", "/nonexistent/x.conf"])
    #expect(badKey == 2)
    #expect(third.errors.contains("/nonexistent/x.conf: cannot read the configuration file"))
    let (badValue, fourth) = run(["config", "--set", "train.steps_per_batch=many"])
    #expect(badValue == 2)
    #expect(fourth.errors.contains("'train.steps_per_batch' expects a whole number"))
  }

  @Test func configValidatesAFileAndMasksSecrets() throws {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-config-\(UUID().uuidString).conf").path
    try "kafka.sasl.password = topsecret\ntrain.batch_max = 12\n".write(
      toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let (status, captured) = run(["config", "--config", path])
    #expect(status == 0)
    #expect(captured.output.contains("train.batch_max = 12  # \(path) line 2"))
    #expect(!captured.output.contains("topsecret"))
  }
}

extension CommandLineToolTests {
  @Test func kafkaKeysThatLibrdkafkaRefusesAreConfigurationErrors() throws {
    let (status, set) = run(["config", "--set", "kafka.bootstrap.server=x"])
    #expect(status == 2)
    #expect(
      set.errors.hasPrefix(
        "iak-stream config: --set kafka.bootstrap.server: librdkafka refuses "
          + "'kafka.bootstrap.server' (value 'x'): No such configuration property"),
      "\(set.errors)")
    // From a file: its line, every refused key, and a secret's value stays masked.
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-config-\(UUID().uuidString).conf").path
    try "train.batch_max = 12\nkafka.sasl.passwrd = hunter2\nkafka.session.timeout.ms = soon\n"
      .write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let (fileStatus, file) = run(["config", "--config", path])
    #expect(fileStatus == 2)
    #expect(
      file.errors.contains(
        "\(path) line 2: librdkafka refuses 'kafka.sasl.passwrd' (value '********'): "
          + "No such configuration property"), "\(file.errors)")
    #expect(
      file.errors.contains(
        "\(path) line 3: librdkafka refuses 'kafka.session.timeout.ms' (value 'soon'): "
          + "Invalid value"), "\(file.errors)")
    #expect(!file.errors.contains("hunter2"))
    // serve refuses it the same way, before it makes any client.
    let (serveStatus, serve) = run([
      "serve", "--set", "kafka.bootstrap.server=x", "--set",
      "checkpoint.dir=/nonexistent-\(UUID().uuidString)",
    ])
    #expect(serveStatus == 2)
    #expect(
      serve.errors.hasPrefix(
        "iak-stream serve: --set kafka.bootstrap.server: librdkafka refuses"), "\(serve.errors)")
    // A name only a plugin knows passes when kafka.plugin.library.paths loads plugins (the
    // client checks it then; config loads nothing), and is refused without it.
    let interceptor = "kafka.confluent.monitoring.interceptor.topic=_monitoring"
    let (plugged, withPlugin) = run([
      "config", "--set", interceptor, "--set", "kafka.plugin.library.paths=monitoring-interceptor",
    ])
    #expect(plugged == 0, "\(withPlugin.errors)")
    #expect(run(["config", "--set", interceptor]).0 == 2)
    // Properties librdkafka knows, with values it takes, pass as before.
    let (good, accepted) = run([
      "config", "--set", "kafka.bootstrap.servers=h:9092", "--set",
      "kafka.session.timeout.ms=30000", "--set", "kafka.sasl.password=hunter2",
    ])
    #expect(good == 0, "\(accepted.errors)")
    #expect(accepted.output.contains("kafka.session.timeout.ms = 30000  # --set"))
  }
}

extension CommandLineToolTests {
  @Test func replayAndServeNameAnInputThatIsMissingOrAFolder() throws {
    let folder = try TemporaryFolder.make("iak-input")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let missing = folder + "/none.jsonl"
    let (status, out) = run(["replay", "--input", missing, "--checkpoint-dir", folder + "/c"])
    #expect(status == 2)
    #expect(
      out.errors == "iak-stream replay: --input \(missing) does not exist\n", "\(out.errors)")
    let (folderStatus, folderOut) = run([
      "replay", "--input", folder, "--checkpoint-dir", folder + "/c",
    ])
    #expect(folderStatus == 2)
    #expect(
      folderOut.errors
        == "iak-stream replay: --input \(folder) is a folder, not a JSON-lines file\n",
      "\(folderOut.errors)")
    // pretrain and score read their events through the same check.
    let (pretrainStatus, pretrain) = run(["pretrain", "--input", folder, "--out", folder + "/bb"])
    #expect(pretrainStatus == 2)
    #expect(
      pretrain.errors
        == "iak-stream pretrain: events file \(folder) is a folder, not a JSON-lines file\n",
      "\(pretrain.errors)")
    let (serveStatus, serve) = run([
      "serve", "--set", "input.source=file", "--set", "input.file=\(missing)", "--set",
      "checkpoint.dir=\(folder)/c", "--set", "metrics.listen=127.0.0.1:0",
    ])
    #expect(serveStatus == 2)
    #expect(
      serve.errors == "iak-stream serve: input.file \(missing) does not exist\n",
      "\(serve.errors)")
  }
}

extension CommandLineToolTests {
  @Test func pretrainOnAnInputWithNoUsableExampleSaysSoAboutTheInput() throws {
    let folder = try TemporaryFolder.make("iak-pretrain-input")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let empty = folder + "/empty.jsonl"
    try "".write(toFile: empty, atomically: true, encoding: .utf8)
    let (status, out) = run(["pretrain", "--input", empty, "--out", folder + "/bb"])
    #expect(status == 2)
    #expect(
      out.errors
        == "iak-stream pretrain: no usable example in --input \(empty): it has no event line\n",
      "\(out.errors)")
    let malformed = folder + "/malformed.jsonl"
    try "not json\n{\"type\":\"impression\"}\n\n{\"type\":\"view\",\"id\":\"a\",\"ts\":1}\n"
      .write(toFile: malformed, atomically: true, encoding: .utf8)
    let (badStatus, bad) = run(["pretrain", "--input", malformed, "--out", folder + "/bb"])
    #expect(badStatus == 2)
    #expect(
      bad.errors
        == "iak-stream pretrain: no usable example in --input \(malformed): 3 lines read, 3 "
        + "rejected (first, line 1: malformed_json at byte 0)\n", "\(bad.errors)")
    #expect(!FileManager.default.fileExists(atPath: folder + "/bb"))
  }

  @Test func scoreOnAnInputWithNothingReadableAndBenchOnAFolderSaySo() throws {
    let folder = try TemporaryFolder.make("iak-score-input")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let events = folder + "/events.jsonl"
    try (ServeFixture.events(impressions: 60).joined(separator: "\n") + "\n")
      .write(toFile: events, atomically: true, encoding: .utf8)
    let settings = [
      "--set", "backbone.fields=user,item", "--set", "backbone.buckets=64", "--set",
      "backbone.hidden=8", "--set", "backbone.epochs=1", "--set", "backbone.until=",
    ]
    #expect(run(["pretrain", "--input", events, "--out", folder + "/bb"] + settings).0 == 0)
    let malformed = folder + "/malformed.jsonl"
    try "not json\n{\"type\":\"impression\"}\n".write(
      toFile: malformed, atomically: true, encoding: .utf8)
    let (status, out) = run(
      ["score", "--backbone", folder + "/bb", "--input", malformed, "--out", folder + "/s.tsv"]
        + settings)
    #expect(status == 2)
    #expect(
      out.errors
        == "iak-stream score: no event to score in --input \(malformed): 2 lines read, 2 "
        + "rejected (first, line 1: malformed_json at byte 0)\n", "\(out.errors)")
    #expect(!FileManager.default.fileExists(atPath: folder + "/s.tsv"))
    // An empty file is an empty stream: nothing to score, and no error.
    let empty = folder + "/empty.jsonl"
    try "".write(toFile: empty, atomically: true, encoding: .utf8)
    #expect(
      run(
        ["score", "--backbone", folder + "/bb", "--input", empty, "--out", folder + "/e.tsv"]
          + settings
      ).0 == 0)
    let (benchStatus, bench) = run(["bench", "kafka", "--input", folder])
    #expect(benchStatus == 2)
    #expect(
      bench.errors == "iak-stream bench: --input \(folder) is a folder, not a JSON-lines file\n",
      "\(bench.errors)")
  }
}

extension CommandLineToolTests {
  @Test func benchAndServeHelpAndErrorsNameWhatTheyRun() throws {
    let (helpStatus, help) = run(["bench", "--help"])
    #expect(helpStatus == 0)
    #expect(
      help.output.contains("Partitions of the mock topic (kafka: default 64, serve: 12, soak: 4;"),
      "\(help.output)")
    let every = "learner, steps, decode, kafka, checkpoint, serve, soak or guard"
    let (unknown, nope) = run(["bench", "nope"])
    #expect(unknown == 2)
    #expect(nope.errors == "iak-stream bench: unknown benchmark 'nope': give \(every)\n")
    let (none, missing) = run(["bench"])
    #expect(none == 2)
    #expect(missing.errors == "iak-stream bench: bench takes one benchmark: \(every)\n")
    // soak names itself when its input is empty (it said bench serve).
    let folder = try TemporaryFolder.make("iak-bench")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try "".write(toFile: folder + "/empty.jsonl", atomically: true, encoding: .utf8)
    let (soakStatus, soak) = run(["bench", "soak", "--input", folder + "/empty.jsonl"])
    #expect(soakStatus == 2)
    #expect(
      soak.errors == "iak-stream bench: bench soak: --input \(folder)/empty.jsonl is empty\n",
      "\(soak.errors)")
    let (serveStatus, serve) = run(["serve", "--help"])
    #expect(serveStatus == 0)
    #expect(serve.output.contains("[--on-offset-reset POLICY]"))
  }
}
