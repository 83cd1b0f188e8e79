import Base
import Observability
import Synchronization
import Testing

@testable import Stream

/// Issue 8, security: pass-through `security.protocol`, `sasl.*` and `ssl.*` settings reach the
/// librdkafka client, mistakes in them are refused naming the key, and secrets never appear in
/// errors or logs (librdkafka's own debug output included).
@Suite struct KafkaSecurityTests {
  static let password = "hunter2-s3cr3t"
  static let base = KafkaConfiguration(bootstrapServers: "127.0.0.1:1")

  /// A logger that keeps every line, at trace level.
  static func capturingLogger() -> (Logger, @Sendable () -> [String]) {
    let lines = Mutex<[String]>([])
    let logger = Logger(
      label: "kafka", level: .trace, sink: { line in lines.withLock { $0.append(line) } })
    return (logger, { lines.withLock { $0 } })
  }

  @Test func securitySettingsReachTheClientAndSecretsReadBackMasked() throws {
    let configuration = Self.base.setting("security.protocol", "SASL_PLAINTEXT")
      .setting("sasl.mechanisms", "SCRAM-SHA-512").setting("sasl.username", "alice")
      .setting("sasl.password", Self.password)
      .setting("ssl.endpoint.identification.algorithm", "none")
    let consumer = try KafkaConsumer.make(configuration: configuration, groupID: "g")
    defer { consumer.close() }
    let producer = try KafkaProducer.make(configuration: configuration)
    for client in [consumer.effectiveSetting, producer.effectiveSetting] {
      #expect(client("security.protocol") == "sasl_plaintext")
      #expect(client("sasl.mechanisms") == "SCRAM-SHA-512")
      #expect(client("ssl.endpoint.identification.algorithm") == "none")
      #expect(client("sasl.username") == "********")
      #expect(client("sasl.password") == "********")
      #expect(client("no.such.property") == nil)
    }
    // Unset, the same properties read back as librdkafka's defaults.
    let plain = try KafkaProducer.make(configuration: Self.base)
    #expect(plain.effectiveSetting("security.protocol") == "plaintext")
    #expect(plain.effectiveSetting("sasl.password") == nil)
    try? producer.close(timeout: .milliseconds(100))
    try? plain.close(timeout: .milliseconds(100))
  }

  @Test func aBadSecuritySettingIsRefusedNamingTheKey() {
    let cases: [(KafkaConfiguration, String)] = [
      (
        Self.base.setting("security.protocol", "sasl_plaintext").setting("sasl.mechanisms", "BOGUS")
          .setting("sasl.password", Self.password),
        "kafka.sasl.mechanisms=BOGUS"
      ),
      (
        Self.base.setting("security.protocol", "ssl")
          .setting("ssl.ca.location", "/nonexistent/ca.pem"),
        "ssl.ca.location"
      ),
      (Self.base.setting("security.protocol", "sasl_tls"), "'security.protocol'"),
    ]
    for (configuration, phrase) in cases {
      let error = #expect(throws: KafkaError.self) {
        try KafkaConsumer.make(configuration: configuration, groupID: "g")
      }
      let message = error?.message ?? ""
      #expect(error?.code == .invalidConfiguration)
      #expect(message.contains(phrase), "\(message)")
      #expect(!message.contains(Self.password), "\(message)")
    }
    let masked = #expect(throws: KafkaError.self) {
      try KafkaProducer.make(
        configuration: Self.base.setting("sasl.password", Self.password)
          .setting("security.protocol", "sasl_plaintext").setting("sasl.mechanisms", "NOPE"))
    }
    #expect(masked?.message.contains("kafka.sasl.password=********") == true)
  }

  @Test func aRefusedSecretKeyNeverShowsItsValue() {
    for key in ["my.secret.password", "ssl.key.passwd", "oauth.token", "sasl.nope"] {
      let error = #expect(throws: KafkaError.self) {
        try KafkaProducer.make(configuration: Self.base.setting(key, Self.password))
      }
      #expect(error?.message.contains("'\(key)' (value '********')") == true, "\(key)")
      #expect(error?.message.contains(Self.password) == false)
    }
  }

  @Test func librdkafkaDebugLogsNeverCarryTheSecrets() async throws {
    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("t", partitions: 1)
    let (logger, lines) = Self.capturingLogger()
    let configuration = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
      .setting("debug", "all").setting("sasl.username", "alice")
      .setting("sasl.password", Self.password).setting("ssl.key.password", Self.password + "2")
    let producer = try KafkaProducer.make(configuration: configuration, logger: logger)
    _ = try await producer.send(OutgoingRecord(topic: "t", value: Array("x".utf8)))
    try producer.close()
    let consumer = try KafkaConsumer.make(
      configuration: configuration, groupID: "g", logger: logger)
    try consumer.assign([TopicPartition(topic: "t", partition: 0): 0])
    _ = try consumer.poll(maxRecords: 1, timeout: .seconds(5))
    consumer.close()
    // The admin client logs too (the mock broker does not answer CreateTopics; that is fine).
    let admin = try KafkaAdmin.make(configuration: configuration, logger: logger)
    _ = try? admin.createTopics(
      [TopicSpecification(name: "u", partitions: 1)], timeout: .seconds(1))
    let logged = lines()
    #expect(logged.count > 50, "librdkafka's debug output was not captured")
    #expect(logged.filter { $0.contains(Self.password) }.isEmpty)
  }
}
