// The socket type constants (SOCK_STREAM, SOCK_CLOEXEC) come through the shim's
// <sys/socket.h>: in whole-module builds Glibc alone does not make them visible.
internal import CMicroHTTPD
import Foundation
import Observability

#if canImport(Glibc)
  import Glibc
#endif

/// A minimal HTTP/1.1 client that does one thing: POST a body to an `http://` URL and return the
/// response's status code, within a hard deadline for the whole exchange (connect, send, first
/// line of the answer).
///
/// Why not `URLSession`: on Linux it lives in FoundationNetworking on top of libcurl, which would
/// add libcurl and its TLS stack to the service's runtime for a plain-HTTP POST; its timeouts are
/// idle timeouts rather than one deadline; and this is all we need. Limits: no TLS (put a
/// TLS-terminating proxy in front of an `https` receiver), no redirects, no proxies; the name
/// lookup (`getaddrinfo`) is outside the deadline, which is why the webhook posts from its own
/// queue and never from the training thread.
public struct HTTPPost: Sendable, Equatable {
  /// Where to post.
  public var host: String
  /// The TCP port (80 unless the URL says otherwise).
  public var port: UInt16
  /// The path and query, starting with "/".
  public var path: String

  /// Parses `http://host[:port][/path]` (an IPv6 host in brackets); `setting` names the
  /// configuration key the URL came from, for the errors to point at.
  ///
  /// - Throws: `HTTPURLError` naming the URL (without its credentials or query) when it is not
  ///   of that form.
  public init(url: String, setting: String? = nil) throws(HTTPURLError) {
    let named = (setting.map { "\($0) = " } ?? "") + "'\(Redaction.url(url))'"
    let text = url.trimmingCharacters(in: .whitespaces)
    guard text.lowercased().hasPrefix("http://") else {
      throw HTTPURLError(
        "\(named): only http:// URLs are supported (no TLS); put a TLS-terminating "
          + "proxy in front of an https receiver")
    }
    let rest = text.dropFirst("http://".count)
    let authority = rest.prefix { $0 != "/" && $0 != "?" }
    let path = String(rest.dropFirst(authority.count))
    guard !authority.contains("@") else {
      throw HTTPURLError(
        "\(named): user information (user:password@) is not supported; let "
          + "a proxy in front of the receiver add them")
    }
    var host = Substring(authority)
    var port: UInt16 = 80
    if host.hasPrefix("[") {
      guard let close = host.firstIndex(of: "]") else {
        throw HTTPURLError("\(named): an IPv6 host needs a closing ']'")
      }
      let after = host[host.index(after: close)...]
      host = host[host.index(after: host.startIndex)..<close]
      if !after.isEmpty {
        guard after.hasPrefix(":"), let number = UInt16(after.dropFirst()), number > 0 else {
          throw HTTPURLError("\(named): '\(after)' is not a port (1-65535)")
        }
        port = number
      }
    } else if let colon = host.lastIndex(of: ":") {
      guard let number = UInt16(host[host.index(after: colon)...]), number > 0 else {
        throw HTTPURLError(
          "\(named): '\(host[host.index(after: colon)...])' is not a port (1-65535)"
        )
      }
      port = number
      host = host[..<colon]
    }
    guard !host.isEmpty, !host.contains("@"), !host.contains(where: \.isWhitespace) else {
      throw HTTPURLError(
        "\(named): no host (expected http://host[:port]/path)")
    }
    self.host = String(host)
    self.port = port
    self.path = path.isEmpty ? "/" : (path.hasPrefix("/") ? path : "/" + path)
  }

  /// Why a POST did not get an answer.
  public struct Failure: Error, Sendable, CustomStringConvertible {
    /// What went wrong, with the address.
    public var description: String
  }

  /// Posts `body` and returns the status code of the answer.
  ///
  /// - Throws: `Failure` when the host cannot be resolved or reached, the deadline passes, or
  ///   the answer is not HTTP.
  public func send(
    _ body: [UInt8], contentType: String = "application/json", timeout: Duration
  ) throws(Failure) -> Int {
    let deadline = ContinuousClock.now + timeout
    let socket = try connect(before: deadline)
    defer { close(socket) }
    let hostHeader = host.contains(":") ? "[\(host)]" : host
    let head =
      "POST \(path) HTTP/1.1\r\nHost: \(hostHeader):\(port)\r\n"
      + "User-Agent: iak-stream\r\nContent-Type: \(contentType)\r\n"
      + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
    try write(Array(head.utf8) + body, to: socket, before: deadline)
    return try readStatus(from: socket, before: deadline)
  }

  private var address: String { "\(host):\(port)" }

  private func failure(_ what: String) -> Failure {
    Failure(description: "POST \(Redaction.url("http://\(address)\(path)")): \(what)")
  }

  /// Milliseconds left until `deadline` (0 when it has passed), for `poll`.
  private static func millisecondsLeft(_ deadline: ContinuousClock.Instant) -> Int32 {
    let left = ContinuousClock.now.duration(to: deadline)
    guard left > .zero else { return 0 }
    let (seconds, attoseconds) = left.components
    return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
  }

  /// Waits until `socket` is ready for `events` or the deadline passes.
  private func wait(
    _ socket: Int32, for events: Int16, before deadline: ContinuousClock.Instant, doing: String
  ) throws(Failure) {
    while true {
      let left = Self.millisecondsLeft(deadline)
      if left == 0 { throw failure("timed out \(doing)") }
      var entry = pollfd(fd: socket, events: events, revents: 0)
      let ready = poll(&entry, 1, left)
      if ready > 0 { return }
      if ready < 0, errno != EINTR { throw failure("poll failed \(doing): \(errnoText())") }
    }
  }

  private func connect(before deadline: ContinuousClock.Instant) throws(Failure) -> Int32 {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_family = AF_UNSPEC
    var found: UnsafeMutablePointer<addrinfo>?
    let lookup = getaddrinfo(host, String(port), &hints, &found)
    guard lookup == 0, found != nil else {
      throw failure("cannot resolve host: \(String(cString: gai_strerror(lookup)))")
    }
    defer { freeaddrinfo(found) }
    var lastError = "no address"
    var next = found
    while let info = next {
      next = info.pointee.ai_next
      let socket = Glibc.socket(
        info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
      guard socket >= 0 else {
        lastError = errnoText()
        continue
      }
      _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
      if Glibc.connect(socket, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
        return socket
      }
      guard errno == EINPROGRESS else {
        lastError = errnoText()
        close(socket)
        continue
      }
      do throws(Failure) {
        try wait(socket, for: Int16(POLLOUT), before: deadline, doing: "connecting")
      } catch {
        close(socket)
        throw error
      }
      var code: Int32 = 0
      var length = socklen_t(MemoryLayout<Int32>.size)
      getsockopt(socket, SOL_SOCKET, SO_ERROR, &code, &length)
      if code == 0 { return socket }
      lastError = String(cString: strerror(code))
      close(socket)
    }
    throw failure("cannot connect: \(lastError)")
  }

  private func write(
    _ bytes: [UInt8], to socket: Int32, before deadline: ContinuousClock.Instant
  ) throws(Failure) {
    var sent = 0
    while sent < bytes.count {
      try wait(socket, for: Int16(POLLOUT), before: deadline, doing: "sending")
      // MSG_NOSIGNAL: a receiver that hung up must not raise SIGPIPE in the service.
      let count = bytes.withUnsafeBytes { buffer in
        Glibc.send(
          socket, buffer.baseAddress! + sent, buffer.count - sent, Int32(MSG_NOSIGNAL))
      }
      if count > 0 {
        sent += count
      } else if count < 0, errno != EAGAIN, errno != EINTR {
        throw failure("send failed: \(errnoText())")
      }
    }
  }

  private func readStatus(from socket: Int32, before deadline: ContinuousClock.Instant)
    throws(Failure) -> Int
  {
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1024)
    while !received.contains(UInt8(ascii: "\n")) && received.count < 8192 {
      try wait(socket, for: Int16(POLLIN), before: deadline, doing: "waiting for the answer")
      let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
      if count > 0 {
        received += buffer[0..<count]
      } else if count == 0 {
        break
      } else if errno != EAGAIN, errno != EINTR {
        throw failure("receive failed: \(errnoText())")
      }
    }
    let line = String(decoding: received.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
    let words = line.split(separator: " ")
    guard words.count >= 2, words[0].hasPrefix("HTTP/1."), let status = Int(words[1]),
      (100...599).contains(status)
    else {
      throw failure(
        received.isEmpty
          ? "the receiver closed the connection without answering"
          : "the answer is not HTTP/1.x: '\(line.prefix(80))'")
    }
    return status
  }
}

private func errnoText() -> String { String(cString: strerror(errno)) }
