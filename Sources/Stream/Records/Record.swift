import Base

/// One record read from a topic partition (or a line of a file), copied out of librdkafka.
public struct Record: Sendable, Equatable {
  /// A record header: a name and opaque bytes.
  public struct Header: Sendable, Equatable {
    /// The header's name.
    public var name: String
    /// The header's bytes.
    public var value: [UInt8]

    /// Makes a header.
    public init(name: String, value: [UInt8]) {
      self.name = name
      self.value = value
    }

    /// Makes a header whose value is the UTF-8 bytes of `text`.
    public init(name: String, text: String) {
      self.init(name: name, value: Array(text.utf8))
    }
  }

  /// The topic the record came from (a synthetic name for files).
  public var topic: String
  /// The partition the record came from (0 for files).
  public var partition: Int32
  /// The record's offset in its partition (the line number, from 0, for files).
  public var offset: Int64
  /// The record's key, if any.
  public var key: [UInt8]?
  /// The record's value.
  public var value: [UInt8]
  /// The record's timestamp in milliseconds since the epoch, if it has one.
  public var timestampMs: Int64?
  /// The record's headers, in order.
  public var headers: [Header]

  /// Makes a record.
  public init(
    topic: String, partition: Int32, offset: Int64, key: [UInt8]? = nil, value: [UInt8],
    timestampMs: Int64? = nil, headers: [Header] = []
  ) {
    self.topic = topic
    self.partition = partition
    self.offset = offset
    self.key = key
    self.value = value
    self.timestampMs = timestampMs
    self.headers = headers
  }

  /// Where the record came from.
  public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }

  /// The value of the first header named `name`, if any.
  public func header(named name: String) -> [UInt8]? {
    headers.first { $0.name == name }?.value
  }
}

/// A record header; the same type as `Record.Header`.
public typealias Header = Record.Header
