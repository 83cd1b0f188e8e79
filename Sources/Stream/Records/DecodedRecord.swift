import Base

/// A record decoded ahead of the pipeline (on the consumer thread, in `serve`): where it came
/// from, and its event or why it was refused.
///
/// A refused record keeps the whole `Record`, for the dead-letter topic; a decoded one keeps only
/// its position and timestamp, so its bytes are freed where it was decoded.
public struct DecodedRecord: Sendable, Equatable {
  /// What decoding the record's value gave.
  public enum Outcome: Sendable, Equatable {
    /// A valid event.
    case event(Event)
    /// Refused, with the record as read.
    case rejected(EventRejection, Record)
    /// A control record (`ControlRecord`), applied by the pipeline at its position.
    case control(ControlRecord)
  }

  /// The topic the record came from.
  public var topic: String
  /// The partition the record came from.
  public var partition: Int32
  /// The record's offset in its partition.
  public var offset: Int64
  /// The record's timestamp in milliseconds since the epoch, if it has one.
  public var timestampMs: Int64?
  /// Its event, or why it was refused.
  public var outcome: Outcome
  /// For an impression, the backbone's part of its serving score when the decoding thread
  /// computed it (`ServingInput`); nil when the taker is to compute it.
  public var servingInput: ServingInput?
  /// Which of the pipeline's backbones `servingInput` was computed with (a backbone switch
  /// starts the next): an input of another backbone is not used.
  public var servingInputGeneration = 0

  /// Makes a decoded record.
  public init(
    topic: String, partition: Int32, offset: Int64, timestampMs: Int64? = nil, outcome: Outcome
  ) {
    self.topic = topic
    self.partition = partition
    self.offset = offset
    self.timestampMs = timestampMs
    self.outcome = outcome
  }

  /// Where the record came from.
  public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}
