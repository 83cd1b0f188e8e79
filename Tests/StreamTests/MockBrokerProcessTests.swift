import Foundation
import Stream
import Testing

/// `iak-stream broker` as a separate process: our clients use it as a real cluster, and SIGTERM
/// stops it cleanly. Skipped, with a message, while the executable has no `broker` command.
@Suite struct MockBrokerProcessTests {
  private static var executable: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent(".build/debug/iak-stream")
  }

  @Test func aBrokerProcessServesClientsUntilSIGTERM() async throws {
    guard FileManager.default.isExecutableFile(atPath: Self.executable.path) else {
      print("skipping: \(Self.executable.path) is not built (swift build)")
      return
    }
    let process = Process()
    process.executableURL = Self.executable
    process.arguments = ["broker", "--brokers", "2", "--topic", "events:2"]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.killIfRunning(after: .seconds(60))
    defer { if process.isRunning { process.terminate() } }

    guard let line = Self.firstLine(of: output.fileHandleForReading, within: .seconds(10)),
      line.hasPrefix("bootstrap.servers=")
    else {
      print("skipping: iak-stream has no working `broker` command yet")
      return
    }
    let servers = String(line.dropFirst("bootstrap.servers=".count))
    #expect(servers.split(separator: ",").count == 2)
    // Named after its executable, re-executed at start or not (`ps`, `top`, `pgrep iak-stream`).
    let name = try String(
      contentsOfFile: "/proc/\(process.processIdentifier)/comm", encoding: .utf8)
    #expect(name == "iak-stream\n")
    let configuration = KafkaConfiguration(bootstrapServers: servers)
    let producer = try KafkaProducer.make(configuration: configuration)
    for index in 0..<10 {
      _ = try await producer.send(
        OutgoingRecord(
          topic: "events", key: Array("k\(index % 3)".utf8), value: Array("v\(index)".utf8)))
    }
    try producer.close()
    let consumer = try KafkaConsumer.make(configuration: configuration)
    try consumer.assign(try consumer.resolve(.earliest, topic: "events", timeout: .seconds(5)))
    let records = try MockClusterFixture.poll(consumer, count: 10)
    consumer.close()
    #expect(Set(MockClusterFixture.values(records)) == Set((0..<10).map { "v\($0)" }))

    process.terminate()  // SIGTERM
    process.killIfRunning(after: .seconds(10))  // a lost SIGTERM fails the test, never hangs it
    process.waitUntilExit()
    #expect(process.terminationReason == .exit)
    #expect(process.terminationStatus == 0)
  }

  /// Reads one line from `handle`, or nil if none arrives in time.
  private static func firstLine(of handle: FileHandle, within timeout: Duration) -> String? {
    let result = LineBox()
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
      var bytes: [UInt8] = []
      while true {
        let chunk = handle.readData(ofLength: 1)
        guard let byte = chunk.first, byte != UInt8(ascii: "\n") else { break }
        bytes.append(byte)
      }
      result.set(String(decoding: bytes, as: UTF8.self))
      done.signal()
    }
    let seconds = Double(timeout.components.seconds)
    guard done.wait(timeout: .now() + seconds) == .success else { return nil }
    return result.value
  }
}

/// A line handed from the reading thread. `@unchecked Sendable`: written once before the
/// semaphore is signalled, read after waiting on it.
private final class LineBox: @unchecked Sendable {
  private(set) var value: String?
  func set(_ line: String) { value = line }
}
