import Foundation

extension Configuration {
  /// The raw text of a schema key.
  public func string(_ key: String) -> String {
    guard let value = values[key] else { preconditionFailure("no configuration key '\(key)'") }
    return value
  }

  /// A whole-number key.
  public func int(_ key: String) -> Int { Int(string(key).trimmingCharacters(in: .whitespaces))! }

  /// A real-number key.
  public func double(_ key: String) -> Double {
    Double(string(key).trimmingCharacters(in: .whitespaces))!
  }

  /// A boolean key.
  public func bool(_ key: String) -> Bool { ConfigValueParser.boolean(string(key))! }

  /// A duration key, in milliseconds.
  public func milliseconds(_ key: String) -> Int64 { ConfigValueParser.milliseconds(string(key))! }

  /// A size key, in bytes.
  public func bytes(_ key: String) -> Int { ConfigValueParser.bytes(string(key))! }

  /// A list key.
  public func list(_ key: String) -> [String] { ConfigValueParser.list(string(key)) }

  /// A `host:port` key.
  public func hostPort(_ key: String) -> (host: String, port: UInt16) {
    ConfigValueParser.hostPort(string(key))!
  }

  /// An interval key (duration or event count).
  public func interval(_ key: String) -> CheckpointInterval {
    ConfigValueParser.interval(string(key))!
  }

  /// A `kafka.*` setting (without the prefix), if given.
  public func kafkaSetting(_ name: String) -> String? {
    kafka.last { $0.key == name }?.value
  }
}
