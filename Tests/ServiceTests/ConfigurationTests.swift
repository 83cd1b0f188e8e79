import Foundation
import Learner
import Stream
import Testing

@testable import Service

@Suite struct ConfigurationTests {
  @Test func parsesTypedValuesCommentsAndOverrides() throws {
    var configuration = Configuration()
    try configuration.apply(
      text: """
        # a comment
        train.batch_max = 32   # trailing comment
        label.wait = 250ms
        event.max_bytes = 10MiB
        domain.window = "slots 06:00 10:00 tz=Asia/Shanghai"
        backbone.hidden = 256, 128 ,64
        metrics.listen = [::1]:9000
        checkpoint.interval = 5000 events
        publish.create_topics = off
        kafka.security.protocol = SASL_SSL
        kafka.sasl.password = hunter2
        """, source: "test.conf")
    try configuration.apply(override: "train.learning_rate=3e-4")
    let settings = configuration.settings
    #expect(settings.train.batchMax == 32)
    #expect(settings.label.wait == .milliseconds(250))
    #expect(settings.event.maxBytes == 10 * 1_048_576)
    #expect(configuration.string("domain.window") == "slots 06:00 10:00 tz=Asia/Shanghai")
    #expect(
      settings.domain.window == (try DomainWindow(parsing: "slots 06:00 10:00 tz=Asia/Shanghai")))
    #expect(settings.backbone.hidden == [256, 128, 64])
    #expect(settings.metrics.listen == HostPort(host: "::1", port: 9000))
    #expect(settings.checkpoint.interval == .events(5000))
    #expect(settings.publish.createTopics == false)
    #expect(settings.train.learningRate == 3e-4)
    #expect(configuration.kafkaSetting("security.protocol") == "SASL_SSL")
    #expect(configuration.kafkaSetting("bootstrap.servers") == "127.0.0.1:9092")
    #expect(configuration.origins["train.batch_max"] == "test.conf line 2")
  }

  @Test func unknownKeyNamesFileLineAndClosestKey() {
    var configuration = Configuration()
    #expect(
      throws: ConfigError(
        location: "p.conf line 3",
        message: "unknown key 'train.batch_mx' (did you mean 'train.batch_max'?)")
    ) {
      try configuration.apply(text: "\n# x\ntrain.batch_mx = 8\n", source: "p.conf")
    }
  }

  @Test func badValueSaysWhatWasExpected() {
    var configuration = Configuration()
    #expect(
      throws: ConfigError(
        location: "--set label.wait",
        message: "'label.wait' expects a duration such as 250ms, 30s, 10m, 2h or 7d, got '10 min'")
    ) {
      try configuration.apply(override: "label.wait=10 min")
    }
    #expect(throws: ConfigError.self) { try configuration.apply(override: "train.batch_max=0") }
    #expect(throws: ConfigError.self) { try configuration.apply(override: "iak.beta=nan") }
    #expect(throws: ConfigError.self) { try configuration.apply(override: "no-equals-sign") }
    #expect(throws: ConfigError.self) {
      try configuration.apply(text: "a line without equals", source: "x")
    }
    #expect(throws: ConfigError.self) {
      try configuration.apply(text: "log.level = info\nlog.level = debug", source: "x")
    }
  }

  @Test func maxPendingBytesIsASizeWithinItsRange() throws {
    var configuration = Configuration()
    #expect(configuration.joinerConfiguration.maxPendingBytes == 256 * 1_048_576)
    try configuration.apply(override: "label.max_pending_bytes=16MiB")
    #expect(configuration.joinerConfiguration.maxPendingBytes == 16 * 1_048_576)
    try configuration.apply(override: "label.max_pending_bytes=1TiB")
    #expect(configuration.joinerConfiguration.maxPendingBytes == 1_099_511_627_776)
    #expect(
      throws: ConfigError(
        location: "--set label.max_pending_bytes",
        message:
          "'label.max_pending_bytes' expects a size from 1MiB to 1TiB, in bytes or with a unit "
          + "(KiB, MiB, GiB, TiB, KB, MB, GB), got '512KiB'")
    ) {
      try configuration.apply(override: "label.max_pending_bytes=512KiB")
    }
    #expect(throws: ConfigError.self) {
      try configuration.apply(override: "label.max_pending_bytes=2TiB")
    }
    // Sizes without a narrower range take any size, as before.
    try configuration.apply(override: "event.max_bytes=0")
    #expect(
      ConfigKind.size(ConfigKind.anySize).expectation == "a size such as 512, 64KiB, 10MiB or 1GB")
  }

  @Test func secretsAreMaskedInTheEffectiveConfiguration() throws {
    var configuration = Configuration()
    try configuration.apply(override: "kafka.sasl.password=hunter2")
    try configuration.apply(override: "kafka.ssl.key.password=s3cret")
    try configuration.apply(override: "kafka.sasl.username=alice")
    let text = configuration.renderEffective()
    #expect(!text.contains("hunter2"))
    #expect(!text.contains("s3cret"))
    #expect(!text.contains("alice"))
    #expect(text.contains("kafka.sasl.password = ********  # --set kafka.sasl.password"))
  }

  @Test func durationsSizesAndIntervalsParse() {
    #expect(ConfigValueParser.milliseconds("30s") == 30_000)
    #expect(ConfigValueParser.milliseconds("10m") == 600_000)
    #expect(ConfigValueParser.milliseconds("1.5h") == 5_400_000)
    #expect(ConfigValueParser.milliseconds("7d") == 604_800_000)
    #expect(ConfigValueParser.milliseconds("5") == nil)
    #expect(ConfigValueParser.milliseconds("-1s") == nil)
    #expect(ConfigValueParser.bytes("64KiB") == 65_536)
    #expect(ConfigValueParser.bytes("5MB") == 5_000_000)
    #expect(ConfigValueParser.bytes("12") == 12)
    #expect(ConfigValueParser.bytes("lots") == nil)
    #expect(ConfigValueParser.interval("30s") == .milliseconds(30_000))
    #expect(ConfigValueParser.interval("0 events") == nil)
    #expect(ConfigValueParser.hostPort("localhost") == nil)
  }

  @Test func rootPipelineConfDocumentsEveryKeyWithItsDefault() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    let path = root.appendingPathComponent("pipeline.conf").path
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var fromFile = Configuration()
    try fromFile.apply(text: text, source: path)
    #expect(fromFile == Configuration())
    for key in ConfigSchema.keys {
      #expect(
        fromFile.origins[key.name]?.hasPrefix(path) == true,
        "pipeline.conf does not set \(key.name); regenerate it with iak-stream config --defaults")
    }
    #expect(text == Configuration.renderDefaults())
  }

  @Test func everySchemaKeyHasATypedSetting() {
    let read = Settings.keyNames
    #expect(Set(read).count == read.count, "a key is read into two typed settings")
    let schema = ConfigSchema.keys.map(\.name)
    for name in schema {
      #expect(read.contains(name), "\(name) has no typed field in Settings")
    }
    for name in read {
      #expect(schema.contains(name), "Settings reads \(name), which the schema does not know")
    }
  }

  @Test func trainThreadsDefaultToTheCoresLeftAfterTheConsumer() throws {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    var configuration = Configuration()
    #expect(configuration.settings.train.threads == 0)
    #expect(configuration.trainConfig.threads == max(1, cores - 1))
    try configuration.apply(override: "train.threads=3")
    try configuration.apply(override: "train.blas_threads=4")
    #expect(configuration.trainConfig.threads == 3)
    // Above one training thread, each BLAS call runs on its caller's thread.
    #expect(configuration.blasThreads == 1)
    try configuration.apply(override: "train.mode=full_fine_tuning")
    #expect(configuration.trainConfig.effectiveThreads == 1)
    #expect(configuration.blasThreads == 4)
    #expect(throws: ConfigError.self) { try configuration.apply(override: "train.threads=-1") }
  }

  @Test func typedSettingsFollowEveryOverride() throws {
    var configuration = Configuration()
    #expect(configuration.settings.iak.insertAt == .last)
    #expect(configuration.settings.drift.onHarm == .deactivate)
    #expect(configuration.settings.backbone.until == 883_612_800_000)
    try configuration.apply(override: "iak.insert_at=hidden1")
    try configuration.apply(override: "drift.on_collapse=rollback")
    try configuration.apply(override: "label.release=on_click")
    try configuration.apply(override: "backbone.until=")
    try configuration.apply(override: "metrics.silent_after=90m")
    #expect(configuration.settings.iak.insertAt == .layer(.hidden(1)))
    #expect(configuration.settings.drift.onCollapse == .rollback)
    #expect(configuration.settings.label.release == .onClick)
    #expect(configuration.settings.backbone.until == nil)
    #expect(configuration.settings.metrics.silentAfter == .seconds(5400))
    #expect(configuration.settings.metrics.silentAfter.wholeMilliseconds == 5_400_000)
  }

  @Test func valuesTheirTypedSettingCannotReadAreRefusedWhereTheyAreSet() {
    var configuration = Configuration()
    #expect(
      throws: ConfigError(
        location: "--set iak.insert_at",
        message: "'iak.insert_at' expects 'embedding', 'hidden1'..'hiddenL' or 'last', got "
          + "'hidden'")
    ) {
      try configuration.apply(override: "iak.insert_at=hidden")
    }
    #expect(
      throws: ConfigError(
        location: "--set backbone.hidden",
        message: "'backbone.hidden' expects positive widths such as '128, 64', got 'x'")
    ) {
      try configuration.apply(override: "backbone.hidden=16, x")
    }
    #expect(throws: ConfigError.self) { try configuration.apply(override: "domain.window=often") }
    #expect(configuration == Configuration())
    #expect(configuration.settings.iak.insertAt == .last)
  }
}

/// The cross-key checks of `label.mode`, as `iak-stream config` reports them.
@Suite struct LabelModeConfigurationTests {
  @Test func aWindowLongerThanTheWaitIsRefusedAtTheWindow() throws {
    var configuration = Configuration()
    try configuration.apply(override: "label.mode=es_dfm")
    try configuration.apply(override: "label.window=1h")
    let problems = configuration.problems()
    #expect(problems.count == 1)
    #expect(problems.first?.description.contains("label.window = 1h: must be at most") == true)
    try configuration.apply(override: "label.window=30m")
    #expect(configuration.problems().isEmpty)
    #expect(configuration.joinerConfiguration.observationWindowMilliseconds == 1_800_000)
    #expect(configuration.trainConfig.delayedFeedback?.windowMs == 1_800_000)
  }

  @Test func delayedFeedbackNeedsKernelMode() throws {
    var configuration = Configuration()
    try configuration.apply(override: "label.mode=fake_negative")
    #expect(configuration.problems().isEmpty)
    #expect(configuration.trainConfig.delayedFeedback?.windowMs == 0)
    try configuration.apply(override: "train.mode=output_bias")
    #expect(
      configuration.problems().map(\.description).contains {
        $0.contains("it needs train.mode = kernel, not output_bias")
      })
    var wait = Configuration()
    try wait.apply(override: "train.mode=output_bias")
    #expect(wait.problems().isEmpty && wait.trainConfig.delayedFeedback == nil)
  }
}

extension ConfigurationTests {
  @Test func aFileWithWindowsLineEndingsReadsLikeAnyOther() throws {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-crlf-\(UUID().uuidString).conf").path
    try Data("train.batch_max=16\r\n# a note\r\nlog.level = debug\r\n".utf8)
      .write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let configuration = try Configuration.load(path: path, overrides: [])
    #expect(configuration.settings.train.batchMax == 16)
    #expect(configuration.string("log.level") == "debug")
    #expect(configuration.origins["log.level"] == "\(path) line 3")
    // Saved as UTF-8 with a byte order mark, as Windows editors may.
    try Data([0xEF, 0xBB, 0xBF] + Array("train.batch_max=24\r\n".utf8))
      .write(to: URL(fileURLWithPath: path))
    #expect(try Configuration.load(path: path, overrides: []).settings.train.batchMax == 24)
  }

  @Test func aFileThatIsNotUTF8IsSaidToBeSo() throws {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-latin1-\(UUID().uuidString).conf").path
    try Data([UInt8]("train.batch_max=16\n# caf".utf8) + [0xE9] + [UInt8]("\n".utf8))
      .write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect(
      throws: ConfigError(
        location: path,
        message: "the file exists but is not UTF-8 text (byte 24 is 0xE9); save it as UTF-8")
    ) { try Configuration.load(path: path, overrides: []) }
  }
}
