/// A network address as `metrics.listen` gives it: a host (an IPv6 one without its brackets)
/// and a port.
public struct HostPort: Sendable, Equatable {
  /// The host name or address.
  public var host: String
  /// The TCP port.
  public var port: UInt16

  /// An address.
  public init(host: String, port: UInt16) {
    self.host = host
    self.port = port
  }
}
