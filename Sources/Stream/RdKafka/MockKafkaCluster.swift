internal import CRdKafka
import Observability

/// Owns librdkafka's in-process mock Kafka cluster, listening on loopback: real clients (ours,
/// kcat, another process) connect to `bootstrapServers` as to any cluster.
///
/// For tests and the `broker` command: topics, broker outages, latency, injected request errors
/// and leader changes. Clients connected to it should be closed before it is released.
///
/// `@unchecked Sendable`: the mock cluster's API is thread-safe (it posts to the cluster thread).
public final class MockKafkaCluster: @unchecked Sendable {
  /// A Kafka protocol request type (ApiKey), for injecting errors.
  public struct RequestKind: RawRepresentable, Hashable, Sendable {
    /// The protocol's ApiKey number.
    public var rawValue: Int16
    /// Wraps a protocol ApiKey number.
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// Produce (0).
    public static let produce = RequestKind(rawValue: 0)
    /// Fetch (1).
    public static let fetch = RequestKind(rawValue: 1)
    /// ListOffsets (2).
    public static let listOffsets = RequestKind(rawValue: 2)
    /// Metadata (3).
    public static let metadata = RequestKind(rawValue: 3)
    /// OffsetCommit (8).
    public static let offsetCommit = RequestKind(rawValue: 8)
    /// OffsetFetch (9).
    public static let offsetFetch = RequestKind(rawValue: 9)
    /// FindCoordinator (10).
    public static let findCoordinator = RequestKind(rawValue: 10)
    /// JoinGroup (11).
    public static let joinGroup = RequestKind(rawValue: 11)
    /// Heartbeat (12).
    public static let heartbeat = RequestKind(rawValue: 12)
    /// SyncGroup (14).
    public static let syncGroup = RequestKind(rawValue: 14)
    /// InitProducerId (22), used by idempotent producers.
    public static let initProducerID = RequestKind(rawValue: 22)
    /// AddPartitionsToTxn (24), a transaction's first write to a partition.
    public static let addPartitionsToTxn = RequestKind(rawValue: 24)
    /// EndTxn (26), a transaction's commit or abort.
    public static let endTxn = RequestKind(rawValue: 26)
  }

  private let handle: OpaquePointer
  private let cluster: OpaquePointer
  private let context: KafkaClientContext
  /// The number of brokers; their ids are 1 through `brokerCount`.
  public let brokerCount: Int
  /// `HOST:PORT,...` of every broker, for `bootstrap.servers`.
  public let bootstrapServers: String

  private init(
    handle: OpaquePointer, cluster: OpaquePointer, context: KafkaClientContext, brokerCount: Int
  ) {
    self.handle = handle
    self.cluster = cluster
    self.context = context
    self.brokerCount = brokerCount
    self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
  }

  /// Starts a mock cluster of `brokers` brokers on loopback.
  /// - Throws: `KafkaError` if the handle or the cluster cannot be created.
  public static func make(brokers: Int = 1, logger: Logger = .disabled) throws(KafkaError)
    -> MockKafkaCluster
  {
    guard brokers >= 1 else {
      throw KafkaError(
        code: .invalidArgument, message: "a mock cluster needs at least 1 broker, got \(brokers)")
    }
    // The cluster lives on a handle of its own; a producer handle needs no group or topic, and
    // it connects to no cluster (librdkafka says so at creation: not worth a line).
    let context = KafkaClientContext(
      logger: logger, metrics: nil, ignoringLogsContaining: ["No `bootstrap.servers` configured"])
    let conf = try KafkaConfiguration([("client.id", "iak-mock-cluster")])
      .makeNativeConfiguration()
    context.install(on: conf)
    var errorText = [CChar](repeating: 0, count: 512)
    guard let handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errorText, errorText.count) else {
      rd_kafka_conf_destroy(conf)
      throw KafkaError(
        code: .state,
        message: "could not create the mock cluster's handle: \(string(fromBuffer: errorText))")
    }
    guard let cluster = rd_kafka_mock_cluster_new(handle, Int32(brokers)) else {
      rd_kafka_destroy(handle)
      throw KafkaError(
        code: .state,
        message: "could not start a mock cluster of \(brokers) brokers (no free loopback ports?)")
    }
    return MockKafkaCluster(
      handle: handle, cluster: cluster, context: context, brokerCount: brokers)
  }

  deinit {
    rd_kafka_mock_cluster_destroy(cluster)
    rd_kafka_destroy(handle)
  }

  /// Creates `name` with `partitions` partitions.
  /// - Throws: `KafkaError` if the mock cluster refuses (bad name or count).
  public func createTopic(
    _ name: String, partitions: Int, replicationFactor: Int = 1
  ) throws(KafkaError) {
    let code = rd_kafka_mock_topic_create(
      cluster, name, Int32(partitions), Int32(min(replicationFactor, brokerCount)))
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
      throw KafkaError(code, context: "creating mock topic \(name) with \(partitions) partitions")
    }
  }

  /// Takes broker `id` (1...brokerCount) down: its connections are closed and refused.
  /// - Throws: `KafkaError` if there is no such broker.
  public func setBrokerDown(_ id: Int32) throws(KafkaError) {
    try check(rd_kafka_mock_broker_set_down(cluster, id), "taking mock broker \(id) down")
  }

  /// Brings broker `id` back up.
  /// - Throws: `KafkaError` if there is no such broker.
  public func setBrokerUp(_ id: Int32) throws(KafkaError) {
    try check(rd_kafka_mock_broker_set_up(cluster, id), "bringing mock broker \(id) up")
  }

  /// Delays every response of broker `id` by `roundTripTime`.
  /// - Throws: `KafkaError` if there is no such broker.
  public func setRoundTripTime(_ roundTripTime: Duration, broker id: Int32) throws(KafkaError) {
    try check(
      rd_kafka_mock_broker_set_rtt(cluster, id, milliseconds(roundTripTime)),
      "setting the round-trip time of mock broker \(id)")
  }

  /// Makes broker `broker` the leader of `topic`'s `partition`.
  /// - Throws: `KafkaError` if the topic, partition or broker is unknown.
  public func setLeader(topic: String, partition: Int32, broker: Int32) throws(KafkaError) {
    try check(
      rd_kafka_mock_partition_set_leader(cluster, topic, partition, broker),
      "moving the leader of \(topic)[\(partition)] to broker \(broker)")
  }

  /// Makes the next `errors.count` requests of `kind` (on any broker) fail with these codes,
  /// in order.
  public func pushRequestErrors(_ kind: RequestKind, _ errors: [KafkaError.Code]) {
    let codes = errors.map { rd_kafka_resp_err_t(rawValue: $0.rawValue) }
    codes.withUnsafeBufferPointer {
      rd_kafka_mock_push_request_errors_array(cluster, kind.rawValue, $0.count, $0.baseAddress)
    }
  }

  /// Makes the next `errors.count` requests of `kind` that reach broker `broker` fail with
  /// these codes, in order, each answered after `delay` (these come before errors pushed for
  /// the whole cluster). Lets a test fail one client's requests: the one whose topics that
  /// broker leads.
  /// - Throws: `KafkaError` if there is no such broker.
  public func pushRequestErrors(
    _ kind: RequestKind, _ errors: [KafkaError.Code], broker: Int32, delay: Duration = .zero
  ) throws(KafkaError) {
    for error in errors {
      try check(
        iak_mock_broker_push_request_error(
          cluster, broker, kind.rawValue, rd_kafka_resp_err_t(rawValue: error.rawValue),
          Int32(milliseconds(delay))),
        "pushing \(error) for requests \(kind.rawValue) on mock broker \(broker)")
    }
  }

  /// How many errors pushed for `kind` on broker `broker` (with
  /// `pushRequestErrors(_:_:broker:delay:)`) are not used yet.
  /// - Throws: `KafkaError` if there is no such broker.
  public func pendingRequestErrors(_ kind: RequestKind, broker: Int32) throws(KafkaError) -> Int {
    var count = 0
    try check(
      rd_kafka_mock_broker_error_stack_cnt(cluster, broker, kind.rawValue, &count),
      "counting the errors pushed for requests \(kind.rawValue) on mock broker \(broker)")
    return count
  }

  /// Moves the coordinator of consumer group `group` to broker `broker`.
  /// - Throws: `KafkaError` if the mock cluster refuses.
  public func setGroupCoordinator(group: String, broker: Int32) throws(KafkaError) {
    try check(
      rd_kafka_mock_coordinator_set(cluster, "group", group, broker),
      "moving the coordinator of group \(group) to broker \(broker)")
  }

  /// Forgets errors pushed for `kind` that were not used yet.
  public func clearRequestErrors(_ kind: RequestKind) {
    rd_kafka_mock_clear_request_errors(cluster, kind.rawValue)
  }

  private func check(_ code: rd_kafka_resp_err_t, _ what: String) throws(KafkaError) {
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, context: what) }
  }
}
