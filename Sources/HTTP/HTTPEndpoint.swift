internal import CMicroHTTPD
import Foundation

/// A small HTTP server answering GET and HEAD through one handler (the service's `/metrics` and
/// `/healthz`), on libmicrohttpd (Debian's embedded HTTP library: HTTP/1.1 parsing, keep-alive and
/// timeouts done by a maintained implementation).
///
/// We bind and listen on the socket ourselves, so that an address in use is a clear error and
/// port 0 tells us the port the kernel chose, then hand the socket to libmicrohttpd.
public final class HTTPEndpoint: @unchecked Sendable {
  // @unchecked: the daemon pointer is written once in init and read only by deinit; the
  // route table is immutable.

  /// A response: status code, content type and body.
  public struct Response: Sendable {
    /// The HTTP status code.
    public var status: Int
    /// The `Content-Type` header.
    public var contentType: String
    /// The body.
    public var body: String

    /// Creates a response.
    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String) {
      self.status = status
      self.contentType = contentType
      self.body = body
    }
  }

  /// Answers a GET for a path.
  public typealias Handler = @Sendable (_ path: String) -> Response

  /// The port the server listens on.
  public let port: UInt16
  /// The host it was bound to.
  public let host: String
  private let daemon: OpaquePointer
  private let context: Unmanaged<RouteBox>

  /// Binds `host:port` (port 0 picks a free one) and starts serving `handler` on its own thread;
  /// `setting` names the configuration key that holds the address, for the errors to point at.
  ///
  /// - Throws: `HTTPEndpointError` when the address is invalid, in use, or the server cannot
  ///   start.
  public init(
    host: String, port: UInt16, setting: String? = nil, handler: @escaping Handler
  ) throws {
    let (socket, boundPort) = try Self.listen(host: host, port: port, setting: setting)
    let box = Unmanaged.passRetained(RouteBox(handler: handler))
    let flags = UInt32(MHD_USE_INTERNAL_POLLING_THREAD.rawValue)
    let started = withVaList([
      CInt(MHD_OPTION.LISTEN_SOCKET.rawValue), CInt(socket),
      CInt(MHD_OPTION.CONNECTION_TIMEOUT.rawValue), CUnsignedInt(10),
      CInt(MHD_OPTION.END.rawValue),
    ]) { arguments in
      MHD_start_daemon_va(flags, 0, nil, nil, answer, box.toOpaque(), arguments)
    }
    guard let started else {
      box.release()
      close(socket)
      throw HTTPEndpointError(message: "libmicrohttpd could not start on \(host):\(boundPort)")
    }
    self.daemon = started
    self.context = box
    self.port = boundPort
    self.host = host
  }

  deinit {
    MHD_stop_daemon(daemon)
    context.release()
  }

  private static func listen(host: String, port: UInt16, setting: String?) throws -> (
    Int32, UInt16
  ) {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
    var found: UnsafeMutablePointer<addrinfo>?
    let lookup = getaddrinfo(host, String(port), &hints, &found)
    guard lookup == 0, let info = found else {
      throw HTTPEndpointError(
        message: (setting.map { "\($0): " } ?? "")
          + "'\(host)' is not a numeric IPv4 or IPv6 address")
    }
    defer { freeaddrinfo(found) }
    let socket = Glibc.socket(info.pointee.ai_family, info.pointee.ai_socktype, 0)
    guard socket >= 0 else { throw HTTPEndpointError(message: "socket(): \(errnoText())") }
    var on: Int32 = 1
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
    guard bind(socket, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
      let reason = errnoText()
      close(socket)
      throw HTTPEndpointError(
        message: "cannot listen on \(host):\(port): \(reason)"
          + (setting.map { " (change \($0))" } ?? ""))
    }
    guard Glibc.listen(socket, 64) == 0 else {
      let reason = errnoText()
      close(socket)
      throw HTTPEndpointError(message: "listen() on \(host):\(port): \(reason)")
    }
    var address = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
    }
    let family = Int32(address.ss_family)
    let bound: UInt16 = withUnsafePointer(to: &address) { pointer in
      if family == AF_INET6 {
        return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
          UInt16(bigEndian: $0.pointee.sin6_port)
        }
      }
      return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
        UInt16(bigEndian: $0.pointee.sin_port)
      }
    }
    return (socket, bound)
  }
}

private final class RouteBox: Sendable {
  let handler: HTTPEndpoint.Handler
  init(handler: @escaping HTTPEndpoint.Handler) { self.handler = handler }
}

private func errnoText() -> String { String(cString: strerror(errno)) }

private func answer(
  _ context: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
  _ url: UnsafePointer<CChar>?, _ method: UnsafePointer<CChar>?,
  _ version: UnsafePointer<CChar>?, _ uploadData: UnsafePointer<CChar>?,
  _ uploadSize: UnsafeMutablePointer<Int>?,
  _ state: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> MHD_Result {
  guard let context, let connection, let url, let method else { return .NO }
  let verb = String(cString: method)
  var response: HTTPEndpoint.Response
  if verb == "GET" || verb == "HEAD" {
    let box = Unmanaged<RouteBox>.fromOpaque(context).takeUnretainedValue()
    response = box.handler(String(cString: url))
  } else {
    response = HTTPEndpoint.Response(status: 405, body: "only GET and HEAD are served\n")
  }
  var bytes = Array(response.body.utf8)
  let made = bytes.withUnsafeMutableBytes { buffer in
    MHD_create_response_from_buffer(
      buffer.count, buffer.baseAddress, .RESPMEM_MUST_COPY)
  }
  guard let made else { return .NO }
  defer { MHD_destroy_response(made) }
  _ = MHD_add_response_header(made, "Content-Type", response.contentType)
  return MHD_queue_response(connection, UInt32(response.status), made)
}
