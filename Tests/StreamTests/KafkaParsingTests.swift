import Stream
import Testing

@Suite struct KafkaParsingTests {
  @Test func startPositionsParse() throws {
    #expect(try StartPosition(parsing: "earliest") == .earliest)
    #expect(try StartPosition(parsing: " LATEST ") == .latest)
    #expect(try StartPosition(parsing: "0:12,3:40") == .offsets([0: 12, 3: 40]))
    #expect(try StartPosition(parsing: "2:0") == .offsets([2: 0]))
  }

  @Test(arguments: ["", "0:", ":5", "0:-1", "-1:3", "a:b", "0:1,0:2", "0:1,", "yesterday"])
  func badStartPositionsAreRefusedWithTheForms(text: String) {
    let error = #expect(throws: KafkaError.self) { try StartPosition(parsing: text) }
    #expect(error?.code == .invalidInput)
    #expect(error?.message.contains("'\(text)'") == true)
  }

  @Test func topicSpecificationsParse() throws {
    #expect(try TopicSpecification(parsing: "events:4").partitions == 4)
    #expect(try TopicSpecification(parsing: "events:4").name == "events")
    #expect(try TopicSpecification(parsing: "labels").partitions == 1)
    #expect(throws: KafkaError.self) { try TopicSpecification(parsing: "events:0") }
    #expect(throws: KafkaError.self) { try TopicSpecification(parsing: ":3") }
    #expect(throws: KafkaError.self) { try TopicSpecification(parsing: "events:x") }
    #expect(
      TopicSpecification.compacted(name: "models", partitions: 2).configuration
        == ["cleanup.policy": "compact"])
  }

  @Test func jsonFieldsAreScannedWithoutDecoding() {
    func value(_ name: String, _ line: String) -> String? {
      JSONLineField.value(named: name, in: Array(line.utf8))
    }
    #expect(value("region", #"{"user":1,"region":"west","x":2}"#) == "west")
    #expect(value("region", #"{"region" : "a \"b\" \\c"}"#) == #"a "b" \c"#)
    #expect(value("zip", #"{"zip": 94110, "r":1}"#) == "94110")
    #expect(value("region", #"{"note":"region","region":"east"}"#) == "east")
    #expect(value("region", #"{"region":null}"#) == nil)
    #expect(value("region", #"{"regions":"x"}"#) == nil)
    #expect(value("region", #"{"region":"unterminated"#) == nil)
    #expect(value("region", "") == nil)
    #expect(value("region", #"{"region":"#) == nil)
  }

  @Test func configurationErrorsNameTheKey() {
    let configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:1")
      .setting("no.such.property", "1")
    let error = #expect(throws: KafkaError.self) {
      try KafkaProducer.make(configuration: configuration)
    }
    #expect(error?.code == .invalidConfiguration)
    #expect(error?.message.contains("'no.such.property'") == true)

    let badValue = #expect(throws: KafkaError.self) {
      try KafkaConsumer.make(
        configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:1")
          .setting("security.protocol", "carrier-pigeon"))
    }
    #expect(badValue?.message.contains("'security.protocol'") == true)
    #expect(badValue?.message.contains("carrier-pigeon") == true)

    // Security settings pass through unchanged and are accepted.
    let producer = try? KafkaProducer.make(
      configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:1")
        .setting("security.protocol", "SASL_PLAINTEXT").setting("sasl.mechanism", "PLAIN")
        .setting("sasl.username", "u").setting("sasl.password", "p"))
    #expect(producer != nil)
    try? producer?.close(timeout: .zero)
  }

  @Test func prefixedConfigurationKeysPassThroughWithoutThePrefix() {
    let configuration = KafkaConfiguration(
      stripping: "kafka.",
      from: [
        ("kafka.security.protocol", "SASL_SSL"), ("train.batch_size", "64"),
        ("kafka.sasl.mechanism", "PLAIN"), ("kafka.", "x"),
      ])
    #expect(configuration.pairs.map(\.key) == ["security.protocol", "sasl.mechanism"])
    #expect(configuration.value(for: "sasl.mechanism") == "PLAIN")
  }

  @Test func laterConfigurationPairsWin() {
    let merged = KafkaConfiguration([("a", "1"), ("b", "2")]).merging(.init([("a", "3")]))
    #expect(merged.value(for: "a") == "3")
    #expect(merged.pairs.map(\.key) == ["b", "a"])
  }

  @Test func errorsCarryNamesAndFlags() {
    let error = KafkaError(code: .messageTimedOut, message: "x", isRetriable: true)
    #expect(error.name == "_MSG_TIMED_OUT")
    #expect(error.description.contains("[retriable]"))
    #expect(error.file.hasSuffix("KafkaParsingTests.swift"))
    #expect(KafkaError.Code.notLeaderForPartition.name == "NOT_LEADER_FOR_PARTITION")
  }
}
