import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A real HTTP/1.1 receiver on loopback for webhook tests: accepts connections on its own
/// thread, reads one request each (headers and a Content-Length body), records it and answers
/// with the next scripted status (200 when the script is empty). A `hold` script entry keeps
/// the connection open without answering until `release()` is called. Call `stop()` when done
/// (the accepting thread holds the receiver until then).
final class WebhookReceiver: Sendable {
  struct Request: Sendable {
    var method: String
    var path: String
    var headers: [String: String]
    var body: Data
  }

  enum Answer: Sendable {
    case status(Int)
    case hold
  }

  let port: UInt16
  private let socket: Int32
  private let state = Mutex<(requests: [Request], script: [Answer], stopped: Bool)>(
    ([], [], false))
  private let received = DispatchSemaphore(value: 0)
  private let released = DispatchSemaphore(value: 0)
  private let finished = DispatchSemaphore(value: 0)

  init(script: [Answer] = []) throws {
    let listener = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var on: Int32 = 1
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0, listen(listener, 16) == 0 else {
      close(listener)
      throw POSIXError(.EADDRINUSE)
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
    }
    port = UInt16(bigEndian: address.sin_port)
    socket = listener
    state.withLock { $0.script = script }
    let thread = Thread { [self] in serve() }
    thread.start()
  }

  var url: String { "http://127.0.0.1:\(port)/hook" }

  var requests: [Request] { state.withLock { $0.requests } }

  /// Waits for the next request to be read (at most 30 s); false on timeout.
  func waitForRequest() -> Bool { received.wait(timeout: .now() + 30) == .success }

  /// Lets a held connection answer 200.
  func release() { released.signal() }

  /// Stops accepting and waits (at most 5 s) for the accepting thread to close the listener.
  /// Only that thread closes it: closed here, its descriptor number could be reused by the next
  /// test's listener while the old thread still calls `accept` on it, stealing that test's
  /// requests.
  func stop() {
    state.withLock { $0.stopped = true }
    shutdown(socket, Int32(SHUT_RDWR))
    _ = finished.wait(timeout: .now() + 5)
  }

  private func serve() {
    defer {
      close(socket)
      finished.signal()
    }
    while true {
      let connection = accept(socket, nil, nil)
      if state.withLock({ $0.stopped }) {
        if connection >= 0 { close(connection) }
        return
      }
      if connection < 0 { continue }
      handle(connection)
      close(connection)
    }
  }

  private func handle(_ connection: Int32) {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    var headerEnd: Int?
    var contentLength = 0
    while true {
      if let end = headerEnd, bytes.count >= end + contentLength { break }
      let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
      if count <= 0 { return }
      bytes += buffer[0..<count]
      if headerEnd == nil, let range = Data(bytes).range(of: Data("\r\n\r\n".utf8)) {
        headerEnd = range.upperBound
        let head = String(decoding: bytes[0..<range.lowerBound], as: UTF8.self)
        for line in head.split(separator: "\r\n").dropFirst()
        where line.lowercased().hasPrefix("content-length:") {
          contentLength =
            Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
            ?? 0
        }
      }
    }
    let end = headerEnd!
    let lines = String(decoding: bytes[0..<end], as: UTF8.self).split(separator: "\r\n")
    let first = lines.first?.split(separator: " ") ?? []
    var headers: [String: String] = [:]
    for line in lines.dropFirst() {
      guard let colon = line.firstIndex(of: ":") else { continue }
      headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
        .trimmingCharacters(in: .whitespaces)
    }
    let request = Request(
      method: first.count > 0 ? String(first[0]) : "",
      path: first.count > 1 ? String(first[1]) : "", headers: headers,
      body: Data(bytes[end..<(end + contentLength)]))
    let answer = state.withLock { state -> Answer in
      state.requests.append(request)
      return state.script.isEmpty ? .status(200) : state.script.removeFirst()
    }
    received.signal()
    var status = 200
    switch answer {
    case .status(let code): status = code
    case .hold: _ = released.wait(timeout: .now() + 30)
    }
    let response = Array(
      "HTTP/1.1 \(status) X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
    _ = response.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
  }
}
