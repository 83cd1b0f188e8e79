import Foundation
import Observability
import Stream
import Testing

@testable import Service

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 8, security: metrics listen on loopback by default; secrets never appear in `config`
/// output or in the logs of a command run with librdkafka's debug output on; `kafka.*` security
/// settings from pipeline.conf reach the librdkafka client.
@Suite struct SecurityTests {
  static let secrets = [
    "kafka.sasl.password": "pw-sasl-1", "kafka.ssl.key.password": "pw-sslkey-2",
    // Properties this librdkafka build takes (its OIDC ones, such as
    // sasl.oauthbearer.client.secret, need libcurl): `config` refuses what a client would.
    "kafka.ssl.keystore.password": "pw-keystore-3", "kafka.sasl.oauthbearer.config": "s-4",
    "kafka.sasl.username": "user-5", "kafka.ssl.key.pem": "pem-6",
    "alert.webhook": "https://ops:pw-hook-7@alerts.example/hook",
  ]

  static var executable: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent(".build/debug/iak-stream")
  }

  // MARK: - Metrics on loopback

  /// The IPv4 addresses listening on `port`, from the kernel's socket table.
  static func listeningAddresses(port: UInt16) throws -> [String] {
    var addresses: [String] = []
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
      guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
      for line in text.split(separator: "\n").dropFirst() {
        let fields = line.split(separator: " ")
        guard fields.count > 3, fields[3] == "0A" else { continue }  // 0A: LISTEN
        let local = fields[1].split(separator: ":")
        guard local.count == 2, UInt16(local[1], radix: 16) == port else { continue }
        if local[0].count == 8, let raw = UInt32(local[0], radix: 16) {
          // Little-endian hex: 0100007F is 127.0.0.1.
          addresses.append(
            (0..<4).map { String((raw >> (8 * UInt32($0))) & 0xFF) }.joined(separator: "."))
        } else {
          addresses.append("ipv6:" + local[0])
        }
      }
    }
    return addresses
  }

  /// This machine's IPv4 addresses other than loopback.
  static func otherAddresses() -> [String] {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0, let first = list else { return [] }
    defer { freeifaddrs(list) }
    var result: [String] = []
    for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
      guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET)
      else { continue }
      var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
      address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { ipv4 in
        var raw = ipv4.pointee.sin_addr
        _ = inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
      }
      let name = String(
        decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      if !name.hasPrefix("127.") { result.append(name) }
    }
    return result
  }

  /// Whether a TCP connection to `host:port` is accepted.
  static func connects(to host: String, port: UInt16) -> Bool {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { return false }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    inet_pton(AF_INET, host, &address.sin_addr)
    return withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
  }

  @Test func metricsListenOnLoopbackByDefault() throws {
    let defaults = Configuration()
    let listen = defaults.settings.metrics.listen
    let (host, port) = (listen.host, listen.port)
    #expect(host == "127.0.0.1" && port == 9464)
    #expect(Configuration.renderDefaults().contains("\nmetrics.listen = 127.0.0.1:9464\n"))
    // The default host on a free port: the socket is bound to loopback and nothing else.
    var configuration = defaults
    try configuration.apply(override: "metrics.listen=\(host):0")
    let endpoint = try #require(
      try MetricsServer.start(
        configuration: configuration, registry: MetricsRegistry(), health: HealthState(maxLag: 1),
        logger: .disabled))
    #expect(try Self.listeningAddresses(port: endpoint.port) == ["127.0.0.1"])
    #expect(Self.connects(to: "127.0.0.1", port: endpoint.port))
    let others = Self.otherAddresses()
    for address in others {
      #expect(!Self.connects(to: address, port: endpoint.port), "reachable on \(address)")
    }
    print(
      "scenario metrics on loopback: started the metrics endpoint with the default host; checked "
        + "the kernel's listening sockets and connections; bound to 127.0.0.1 only, refused on "
        + "\(others.count) other address(es): pass")
  }

  // MARK: - Secrets

  @Test func configOutputMasksEverySecretButShowsTheRest() throws {
    var arguments = ["iak-stream", "config", "--set", "kafka.sasl.mechanisms=SCRAM-SHA-512"]
    for (key, value) in Self.secrets.sorted(by: { $0.key < $1.key }) {
      arguments += ["--set", "\(key)=\(value)"]
    }
    let out = CommandLineToolTests.Captured()
    let status = CommandLineTool.main(
      arguments: arguments, output: { out.write($0) }, errorOutput: { out.writeError($0) })
    #expect(status == 0, "\(out.errors)")
    for (key, value) in Self.secrets {
      #expect(!out.output.contains(value), "\(key)'s value is shown")
      if key == "alert.webhook" { continue }
      #expect(out.output.contains("\(key) = ********  # --set \(key)"), "\(key) is not listed")
    }
    // A URL is shown without its credentials (and query), so an operator can still check it.
    #expect(
      out.output.contains("alert.webhook = https://********@alerts.example/hook  # --set"))
    #expect(out.output.contains("kafka.sasl.mechanisms = SCRAM-SHA-512"))
    // Settings that merely sit near a secret are not secrets.
    #expect(out.output.contains("alert.webhook_timeout = 5s  #"))
    #expect(out.output.contains("alert.webhook_retries = 2  #"))
    #expect(out.output.contains("alert.webhook_min_severity = warning  #"))
    for key in ["my.api.token", "kafka.oauth.credentials", "x.private.key", "kafka.sasl.x"] {
      #expect(ConfigKey.isSecret(key), "\(key)")
    }
    for key in ["kafka.sasl.mechanisms", "kafka.security.protocol", "kafka.ssl.ca.location"] {
      #expect(!ConfigKey.isSecret(key), "\(key)")
    }
  }

  @Test func aCommandWithDebugLoggingNeverLogsTheSecrets() throws {
    guard FileManager.default.isExecutableFile(atPath: Self.executable.path) else {
      Issue.record("\(Self.executable.path) is not built (swift build)")
      return
    }
    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("events", partitions: 1)
    let input = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-secrets-\(UUID().uuidString).jsonl").path
    defer { try? FileManager.default.removeItem(atPath: input) }
    try (PretrainAndScoreTests.syntheticEvents(count: 20)).write(
      toFile: input, atomically: true, encoding: .utf8)
    var arguments = [
      "produce", "--input", input, "--topic", "events", "--bootstrap-servers",
      cluster.bootstrapServers, "--set", "kafka.debug=all", "--set", "log.level=trace",
    ]
    // Secrets librdkafka accepts without using them on a plaintext connection.
    for key in ["kafka.sasl.password", "kafka.sasl.username", "kafka.ssl.key.password"] {
      arguments += ["--set", "\(key)=\(Self.secrets[key]!)"]
    }
    let process = Process()
    process.executableURL = Self.executable
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let pid = process.processIdentifier
    DispatchQueue.global().asyncAfter(deadline: .now() + 60) {
      if process.isRunning && process.processIdentifier == pid { kill(pid, SIGKILL) }
    }
    let said = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(said.suffix(2000))")
    let lines = said.split(separator: "\n")
    #expect(lines.count > 50, "librdkafka's debug output is missing")
    #expect(said.contains("delivered 20"), "\(said.suffix(500))")
    for key in ["kafka.sasl.password", "kafka.sasl.username", "kafka.ssl.key.password"] {
      #expect(!said.contains(Self.secrets[key]!), "\(key) appears in the logs")
    }
    print(
      "scenario secrets in logs: ran produce with librdkafka debug=all, log.level=trace and 3 "
        + "secrets set; checked \(lines.count) log lines; 0 contain a secret: pass")
  }

  // MARK: - Security settings reach librdkafka

  @Test func securitySettingsFromPipelineConfReachTheClient() throws {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-security-\(UUID().uuidString).conf").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try """
    kafka.bootstrap.servers = 127.0.0.1:1
    kafka.security.protocol = SASL_PLAINTEXT
    kafka.sasl.mechanisms = SCRAM-SHA-256
    kafka.sasl.username = alice
    kafka.sasl.password = \(Self.secrets["kafka.sasl.password"]!)
    kafka.ssl.endpoint.identification.algorithm = none
    """.write(toFile: path, atomically: true, encoding: .utf8)
    let configuration = try Configuration.load(
      path: path, overrides: ["kafka.socket.timeout.ms=1234"])
    let consumer = try KafkaConsumer.make(
      configuration: configuration.kafkaConfiguration, groupID: "g")
    defer { consumer.close() }
    #expect(consumer.effectiveSetting("security.protocol") == "sasl_plaintext")
    #expect(consumer.effectiveSetting("sasl.mechanisms") == "SCRAM-SHA-256")
    #expect(consumer.effectiveSetting("ssl.endpoint.identification.algorithm") == "none")
    #expect(consumer.effectiveSetting("socket.timeout.ms") == "1234")
    #expect(consumer.effectiveSetting("sasl.password") == "********")
    // A mechanism librdkafka does not know is refused at start-up, naming the key.
    let error = #expect(throws: KafkaError.self) {
      try KafkaConsumer.make(
        configuration: configuration.kafkaConfiguration.setting("sasl.mechanisms", "MD5"),
        groupID: "g")
    }
    #expect(error?.message.contains("kafka.sasl.mechanisms=MD5") == true)
    #expect(error?.message.contains(Self.secrets["kafka.sasl.password"]!) == false)
  }
}
