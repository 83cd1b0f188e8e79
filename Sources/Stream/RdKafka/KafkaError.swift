internal import CRdKafka

/// An error reported by librdkafka or by this wrapper, with where it was raised.
///
/// `isFatal` errors leave the client unusable: the service stops cleanly. `isRetriable` errors
/// are transient: the caller (or librdkafka itself) tries again.
public struct KafkaError: Error, Sendable, Equatable, CustomStringConvertible {
  /// A librdkafka error code (`rd_kafka_resp_err_t`): negative values are local, positive values
  /// come from the Kafka protocol.
  public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The numeric `rd_kafka_resp_err_t` value.
    public var rawValue: Int32
    /// Wraps a numeric `rd_kafka_resp_err_t` value.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// No error.
    public static let noError = Code(rawValue: 0)
    /// The topic or partition does not exist on the broker.
    public static let unknownTopicOrPartition = Code(rawValue: 3)
    /// The partition has no leader right now (retriable).
    public static let leaderNotAvailable = Code(rawValue: 5)
    /// The broker is not the partition's leader (retriable).
    public static let notLeaderForPartition = Code(rawValue: 6)
    /// The request timed out on the broker (retriable).
    public static let requestTimedOut = Code(rawValue: 7)
    /// The broker is not available.
    public static let brokerNotAvailable = Code(rawValue: 8)
    /// Not enough in-sync replicas (retriable).
    public static let notEnoughReplicas = Code(rawValue: 19)
    /// `MSG_SIZE_TOO_LARGE`: a record over `message.max.bytes` (the client's or the broker's).
    public static let messageSizeTooLarge = Code(rawValue: 10)
    /// The group coordinator is still loading (retriable).
    public static let coordinatorLoadInProgress = Code(rawValue: 14)
    /// The group coordinator is not available (retriable).
    public static let coordinatorNotAvailable = Code(rawValue: 15)
    /// The broker is not the group's coordinator (retriable).
    public static let notCoordinator = Code(rawValue: 16)
    /// The group is rebalancing; a commit refused with it can be tried again (retriable).
    public static let rebalanceInProgress = Code(rawValue: 27)
    /// The group's generation moved on without this member (it was evicted and a rebalance
    /// completed).
    public static let illegalGeneration = Code(rawValue: 22)
    /// The group coordinator does not know this member (its session timed out).
    public static let unknownMemberID = Code(rawValue: 25)
    /// Another member with the same static `group.instance.id` replaced this one.
    public static let fencedInstanceID = Code(rawValue: 82)
    /// A newer producer with the same `transactional.id` has registered: this one is fenced.
    public static let producerFenced = Code(rawValue: 90)
    /// The topic already exists (from CreateTopics).
    public static let topicAlreadyExists = Code(rawValue: 36)
    /// A message was not delivered within `message.timeout.ms`.
    public static let messageTimedOut = Code(rawValue: -192)
    /// A local operation timed out.
    public static let timedOut = Code(rawValue: -185)
    /// The local queue is full.
    public static let queueFull = Code(rawValue: -184)
    /// An invalid argument was given.
    public static let invalidArgument = Code(rawValue: -186)
    /// The topic is not known to the client (local).
    public static let unknownTopic = Code(rawValue: -188)
    /// The partition is not known to the client (local).
    public static let unknownPartition = Code(rawValue: -190)
    /// A fatal error was raised; see the error's message for the underlying cause.
    public static let fatal = Code(rawValue: -150)
    /// All brokers are down (transient: librdkafka keeps reconnecting).
    public static let allBrokersDown = Code(rawValue: -187)
    /// The client or this wrapper was in the wrong state for the operation.
    public static let state = Code(rawValue: -172)
    /// A configuration property was not known or not valid.
    public static let invalidConfiguration = Code(rawValue: -1000)
    /// Bad input to this wrapper (a file, a position string).
    public static let invalidInput = Code(rawValue: -1001)

    /// librdkafka's symbolic name for the code, such as `_MSG_TIMED_OUT`.
    public var name: String {
      switch rawValue {
      case Code.invalidConfiguration.rawValue: return "IAK_INVALID_CONFIGURATION"
      case Code.invalidInput.rawValue: return "IAK_INVALID_INPUT"
      default: return String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue)))
      }
    }

    /// The code's name and number.
    public var description: String { "\(name) (\(rawValue))" }
  }

  /// What went wrong, as a code.
  public var code: Code
  /// What went wrong, where, and what to do, in words.
  public var message: String
  /// Whether the client is unusable after this error.
  public var isFatal: Bool
  /// Whether trying the operation again may succeed.
  public var isRetriable: Bool
  /// The source file where the error was made.
  public var file: String
  /// The source line where the error was made.
  public var line: UInt

  /// Makes an error; `file` and `line` default to the caller's.
  public init(
    code: Code, message: String, isFatal: Bool = false, isRetriable: Bool = false,
    file: String = #fileID, line: UInt = #line
  ) {
    self.code = code
    self.message = message
    self.isFatal = isFatal
    self.isRetriable = isRetriable
    self.file = file
    self.line = line
  }

  /// librdkafka's symbolic name for the code.
  public var name: String { code.name }

  /// Whether the group coordinator refused this member as no longer part of the group
  /// (unknown member, old generation, replaced static instance): its partitions may already be
  /// another member's.
  public var isFencedMember: Bool {
    [Code.illegalGeneration, .unknownMemberID, .fencedInstanceID].contains(code)
  }

  /// `name (code): message`, plus `[fatal]` or `[retriable]`.
  public var description: String {
    var text = "kafka error \(code): \(message)"
    if isFatal { text += " [fatal]" } else if isRetriable { text += " [retriable]" }
    return text
  }

  /// Two errors are equal when code, message and flags match; where they were made is ignored.
  public static func == (lhs: KafkaError, rhs: KafkaError) -> Bool {
    lhs.code == rhs.code && lhs.message == rhs.message && lhs.isFatal == rhs.isFatal
      && lhs.isRetriable == rhs.isRetriable
  }
}

extension KafkaError {
  /// Makes an error from a response code, with librdkafka's description and `context` prepended.
  init(
    _ err: rd_kafka_resp_err_t, context: String, isFatal: Bool = false,
    file: String = #fileID, line: UInt = #line
  ) {
    let description = String(cString: rd_kafka_err2str(err))
    self.init(
      code: Code(rawValue: err.rawValue), message: "\(context): \(description)",
      isFatal: isFatal || err == RD_KAFKA_RESP_ERR__FATAL,
      isRetriable: KafkaError.isTransient(err), file: file, line: line)
  }

  /// Makes an error from an `rd_kafka_error_t`, destroying it.
  init(consuming error: OpaquePointer, context: String, file: String = #fileID, line: UInt = #line)
  {
    defer { rd_kafka_error_destroy(error) }
    self.init(
      code: Code(rawValue: rd_kafka_error_code(error).rawValue),
      message: "\(context): \(String(cString: rd_kafka_error_string(error)))",
      isFatal: rd_kafka_error_is_fatal(error) != 0,
      isRetriable: rd_kafka_error_is_retriable(error) != 0, file: file, line: line)
  }

  /// Whether librdkafka treats this code as transient (it reconnects or retries by itself).
  static func isTransient(_ err: rd_kafka_resp_err_t) -> Bool {
    switch err {
    case RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
      RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__RESOLVE,
      RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
      RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
      RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
      RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
      RD_KAFKA_RESP_ERR__WAIT_COORD, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
      return true
    default:
      return false
    }
  }
}
