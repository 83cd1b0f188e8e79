/// A record to produce: where it goes, its key, value and headers.
public struct OutgoingRecord: Sendable, Equatable {
  /// The destination topic.
  public var topic: String
  /// The destination partition, or nil to let the partitioner choose from the key.
  public var partition: Int32?
  /// The key (records with equal keys go to the same partition), if any.
  public var key: [UInt8]?
  /// The value; an empty one is sent as null, a tombstone that deletes its key from a compacted
  /// topic.
  public var value: [UInt8]
  /// Headers, in order.
  public var headers: [Record.Header]
  /// The record timestamp in milliseconds since the epoch, or nil for the time of sending.
  public var timestampMs: Int64?

  /// Makes a record to produce.
  public init(
    topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8],
    headers: [Record.Header] = [], timestampMs: Int64? = nil
  ) {
    self.topic = topic
    self.partition = partition
    self.key = key
    self.value = value
    self.headers = headers
    self.timestampMs = timestampMs
  }
}
