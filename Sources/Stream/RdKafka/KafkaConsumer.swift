import Base
internal import CRdKafka
import Foundation
import Observability
import Synchronization

/// Owns one librdkafka consumer handle: subscribe or assign, poll records, commit explicit
/// offsets, pause and resume, and report partition gains and losses to the pipeline.
///
/// Offsets are never committed or stored automatically: the pipeline commits the offsets of its
/// snapshots with `commit(_:)`. `poll` (and so the rebalance handler, which runs inside it) must
/// be called from one thread at a time; the other methods may be called from any thread.
///
/// `@unchecked Sendable`: the C handle is thread-safe for everything but polling, which is
/// documented as single-threaded; the topic-name cache is touched only by `poll`.
public final class KafkaConsumer: @unchecked Sendable {
  /// A change of assignment, reported from inside `poll`.
  public enum RebalanceEvent: Sendable, Equatable {
    /// These partitions were added; consumption starts at the offsets the provider gave.
    case assigned([TopicPartition])
    /// These partitions are about to be released (commit their offsets now), or were already
    /// lost (`isLost`: another member may own them; do not commit).
    case revoked([TopicPartition], isLost: Bool)
  }

  /// Called on the polling thread for each rebalance; on `revoked` the partitions are still
  /// owned, so a handler may snapshot and `commit` before returning.
  public typealias RebalanceHandler = @Sendable (RebalanceEvent, KafkaConsumer) -> Void

  /// Consulted for each gained partition: the next offset to read (a snapshot's), or nil to use
  /// the committed offset (or `auto.offset.reset` when there is none).
  public typealias OffsetProvider = @Sendable (TopicPartition) -> Int64?

  let handle: OpaquePointer
  let context: KafkaClientContext
  /// The caller's configuration, for helper consumers (timestamp probes).
  let configuration: KafkaConfiguration
  private let logger: Logger
  private let lagGauge: MetricFamily?
  private let isClosed = Atomic<Bool>(false)
  private var topicNames: [OpaquePointer: String] = [:]
  private var lastLagUpdate = ContinuousClock.now

  private init(
    handle: OpaquePointer, context: KafkaClientContext, configuration: KafkaConfiguration,
    metrics: MetricsRegistry?
  ) {
    self.handle = handle
    self.configuration = configuration
    self.context = context
    self.logger = context.logger
    self.lagGauge = metrics?.gauge(
      "iak_consumer_lag", help: "High watermark minus the consumer's position, per partition.",
      labels: ["topic", "partition"])
  }

  /// Creates a consumer; without `groupID` it can only `assign` (for replays).
  ///
  /// `configuration` holds `bootstrap.servers` and any pass-through `kafka.*` pairs; it is applied
  /// over our defaults (`partition.assignment.strategy=cooperative-sticky`,
  /// `auto.offset.reset=earliest`, `isolation.level=read_committed`), and auto commit and auto
  /// offset store are then forced off.
  /// - Throws: `KafkaError` naming the refused configuration key, or why the handle failed.
  public static func make(
    configuration: KafkaConfiguration, groupID: String? = nil, logger: Logger = .disabled,
    metrics: MetricsRegistry? = nil, onRebalance: RebalanceHandler? = nil,
    startOffset: OffsetProvider? = nil
  ) throws(KafkaError) -> KafkaConsumer {
    var settings = KafkaConfiguration([
      ("partition.assignment.strategy", "cooperative-sticky"),
      ("auto.offset.reset", "earliest"),
      // Records of aborted transactions (a fenced checkpoint's) are never read; librdkafka's
      // default, stated so that a `kafka.*` pass-through must override it on purpose.
      ("isolation.level", "read_committed"),
      // librdkafka 2.0 stops fetching for up to a second (its fetch backoff, not configurable
      // before 2.2) once the consumer's local queue, all partitions together, holds
      // `queued.min.messages` records (100,000 by default). A consumer that takes more than
      // that a second then empties the queue before fetching starts again: `bench serve`
      // starved for up to 200 ms at a time that way, at 130,000 events/s. See
      // `queuedMinMessages` and docs/performance.md.
      ("queued.min.messages", String(Self.queuedMinMessages)),
    ])
    // librdkafka needs a group id even for `assign`; an unmanaged consumer gets a private one.
    settings.set("group.id", "iak-unmanaged-\(UUID().uuidString.lowercased())")
    settings = settings.merging(configuration)
    if let groupID { settings.set("group.id", groupID) }
    settings.set("enable.auto.commit", "false")
    settings.set("enable.auto.offset.store", "false")

    let context = KafkaClientContext(
      logger: logger, metrics: metrics, onRebalance: onRebalance, startOffset: startOffset)
    let conf = try settings.makeNativeConfiguration()
    context.install(on: conf)
    rd_kafka_conf_set_rebalance_cb(conf) { handle, code, partitions, opaque in
      guard let handle, let context = KafkaClientContext.from(opaque) else { return }
      context.rebalance(handle: handle, code: code, partitions: partitions)
    }
    var errorText = [CChar](repeating: 0, count: 512)
    guard let handle = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errorText, errorText.count) else {
      rd_kafka_conf_destroy(conf)  // rd_kafka_new takes the conf only when it succeeds
      throw settings.creationError("consumer", reason: string(fromBuffer: errorText))
    }
    rd_kafka_poll_set_consumer(handle)
    let consumer = KafkaConsumer(
      handle: handle, context: context, configuration: configuration, metrics: metrics)
    context.consumer = consumer
    return consumer
  }

  /// The value librdkafka runs this client with for property `key` (normalised, e.g. `sasl_ssl`),
  /// masked as `********` when the key is secret; nil for an unknown or unset property. Shows that
  /// pass-through settings such as `kafka.security.protocol` reached the client.
  public func effectiveSetting(_ key: String) -> String? {
    KafkaConfiguration.value(of: key, on: handle).map { KafkaConfiguration.displayed(key, $0) }
  }

  deinit {
    if !isClosed.exchange(true, ordering: .acquiringAndReleasing) {
      rd_kafka_consumer_close(handle)
    }
    rd_kafka_destroy(handle)
  }

  /// Joins the consumer group (`groupID` given to `make`) on `topics`.
  /// - Throws: `KafkaError` if the subscription is refused (no group id, bad topic name).
  public func subscribe(topics: [String]) throws(KafkaError) {
    let list = TopicPartitionList(capacity: topics.count)
    for topic in topics {
      list.add(TopicPartition(topic: topic, partition: Int32(RD_KAFKA_PARTITION_UA)), offset: 0)
    }
    let code = rd_kafka_subscribe(handle, list.pointer)
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
      throw KafkaError(code, context: "subscribing to \(topics.joined(separator: ","))")
    }
  }

  /// Reads exactly these partitions from these offsets (replay), without group management.
  ///
  /// Offsets may be real offsets or `KafkaOffset.beginning` / `KafkaOffset.end`.
  /// - Throws: `KafkaError` if librdkafka refuses the assignment.
  public func assign(_ offsets: [TopicPartition: Int64]) throws(KafkaError) {
    let list = TopicPartitionList(offsets.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    let code = rd_kafka_assign(handle, list.pointer)
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
      throw KafkaError(code, context: "assigning \(offsets.count) partitions")
    }
  }

  /// Waits up to `timeout` for a first record, then takes what is already fetched, up to
  /// `maxRecords`. Rebalance handlers run inside this call, and the lag gauge is refreshed at
  /// most once a second.
  /// - Throws: a fatal `KafkaError` (the service must stop), or `.state` after `close()`.
  public func poll(maxRecords: Int, timeout: Duration) throws(KafkaError) -> [Record] {
    guard !isClosed.load(ordering: .acquiring) else {
      throw KafkaError(code: .state, message: "poll called on a closed Kafka consumer")
    }
    if let fatal = context.fatalError { throw fatal }
    var records: [Record] = []
    records.reserveCapacity(min(maxRecords, 4096))
    var wait = milliseconds(timeout)
    while records.count < maxRecords {
      guard let message = rd_kafka_consumer_poll(handle, wait) else { break }
      wait = 0
      let error = message.pointee.err
      if error == RD_KAFKA_RESP_ERR_NO_ERROR {
        records.append(copyRecord(message))
        rd_kafka_message_destroy(message)
      } else {
        let context = describe(message)
        rd_kafka_message_destroy(message)
        try handleConsumeError(error, context: context)
        break  // return what we have; the next poll waits again
      }
    }
    if let fatal = context.fatalError { throw fatal }
    if lagGauge != nil && ContinuousClock.now - lastLagUpdate > .seconds(1) {
      lastLagUpdate = ContinuousClock.now
      updateLag()
    }
    return records
  }

  /// Commits `offsets` synchronously: each value is the next offset to read (last processed + 1).
  ///
  /// A commit refused for a passing reason (a rebalance in progress, the coordinator moving or
  /// loading, a timeout) is retried with a short growing backoff, at most `commitAttempts` times
  /// within `commitRetryWindow`; librdkafka keeps the group session alive meanwhile, so this is
  /// safe inside a rebalance handler. Fenced commits (the generation or member is gone) are not
  /// retried: the partitions belong to someone else.
  /// - Throws: `KafkaError` if the commit or any partition's commit failed, or still failed
  ///   retriably after the last attempt (`isRetriable`: commit again at the next opportunity).
  public func commit(_ offsets: [TopicPartition: Int64]) throws(KafkaError) {
    guard !offsets.isEmpty else { return }
    var backoff = Duration.milliseconds(20)
    var attempt = 1
    let retryDeadline = ContinuousClock.now + Self.commitRetryWindow
    while true {
      do throws(KafkaError) {
        try commitOnce(offsets)
        return
      } catch
        where error.isRetriable && attempt < Self.commitAttempts
        && ContinuousClock.now + backoff < retryDeadline
      {
        logger.info(
          "commit refused for now; retrying",
          [
            "attempt": String(attempt), "backoff_seconds": Logger.seconds(backoff),
            "error": error.description,
          ])
        Thread.sleep(forTimeInterval: Double(milliseconds(backoff)) / 1000)
        backoff = min(backoff * 2, .milliseconds(500))
        attempt += 1
      }
    }
  }

  /// Rebalances so far that took partitions from this consumer (revoked or lost).
  public var revocationCount: Int { context.revocations.load(ordering: .sequentiallyConsistent) }

  /// Asks the group coordinator whether this consumer still owns `partitions`, which it held
  /// when `revocationCount` was `revocations`: reads the group's committed offsets of
  /// `partitions` and commits the same values back, then checks that no rebalance took
  /// partitions away meanwhile and that all of `partitions` are still assigned.
  ///
  /// Kafka checks an offset commit's member id and generation and refuses a member whose
  /// session timed out (UNKNOWN_MEMBER_ID) or whose generation is over (ILLEGAL_GENERATION),
  /// even while its own client has not noticed yet (a process paused past its session timeout,
  /// then resumed); committing the values already committed changes nothing for a member that
  /// is still current. A commit does not check which partitions a member owns, so a member
  /// that has meanwhile rejoined is caught by the revocation count instead. Partitions with
  /// nothing committed are left out of the commit.
  /// - Throws: `KafkaError` with `isFencedMember` when the coordinator refused this member,
  ///   `.state` when partitions were taken away meanwhile; any other error when the coordinator
  ///   could not be asked.
  public func confirmMembership(
    for partitions: [TopicPartition], heldAtRevocation revocations: Int
  ) throws(KafkaError) {
    guard !partitions.isEmpty else { return }
    try checkStillHeld(partitions, heldAtRevocation: revocations)
    let current = try committed(partitions, timeout: Self.commitAttemptTimeout)
    try commit(current)
    try checkStillHeld(partitions, heldAtRevocation: revocations)
  }

  private func checkStillHeld(
    _ partitions: [TopicPartition], heldAtRevocation revocations: Int
  ) throws(KafkaError) {
    let now = revocationCount
    let missing = Set(partitions).subtracting(assignment)
    guard now == revocations, missing.isEmpty else {
      throw KafkaError(
        code: .state,
        message:
          "\(now - revocations) rebalance(s) took partitions from this member since it began "
          + "the checkpoint; no longer assigned: "
          + (missing.isEmpty ? "none" : missing.sorted().map(\.description).joined(separator: ",")))
    }
  }

  /// The consumer's default `queued.min.messages`: more than three seconds of `serve` at the
  /// 140,000 records a second measured here (librdkafka's 100,000 is less than one), so the
  /// one-second fetch backoff (see `make`) never empties the queue. Not librdkafka's highest
  /// (10,000,000): `queued.max.messages.kbytes` (64 MB) counts only the records' values, and
  /// each queued record also costs librdkafka about 320-360 bytes (RSS of a consumer that
  /// prefetched 100,000 and 500,000 records of 7-byte values: 36 and 157 MB), so the count is
  /// what bounds the memory of small records. A `kafka.*` setting overrides it.
  public static let queuedMinMessages = 500_000

  /// How many times `commit` tries before giving up on a retriable error.
  static let commitAttempts = 10
  /// No new attempt starts after this long.
  static let commitRetryWindow = Duration.seconds(5)

  /// How long one commit attempt waits for the coordinator's answer.
  static let commitAttemptTimeout = Duration.seconds(10)

  /// One commit, answered on a queue of its own and waited for at most
  /// `commitAttemptTimeout` (librdkafka's synchronous commit waits without limit, which hangs
  /// the polling thread when the answer never comes, for example while the group terminates).
  private func commitOnce(_ offsets: [TopicPartition: Int64]) throws(KafkaError) {
    let list = TopicPartitionList(offsets.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    guard let queue = rd_kafka_queue_new(handle) else {
      throw KafkaError(code: .state, message: "could not create a queue for a commit's result")
    }
    defer { rd_kafka_queue_destroy(queue) }
    let code = rd_kafka_commit_queue(handle, list.pointer, queue, nil, nil)
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
      throw KafkaError(code, context: "committing offsets for \(offsets.count) partitions")
    }
    let deadline = ContinuousClock.now + Self.commitAttemptTimeout
    while ContinuousClock.now < deadline {
      guard let event = rd_kafka_queue_poll(queue, 100) else { continue }
      defer { rd_kafka_event_destroy(event) }
      guard rd_kafka_event_type(event) == RD_KAFKA_EVENT_OFFSET_COMMIT else { continue }
      let error = rd_kafka_event_error(event)
      guard error == RD_KAFKA_RESP_ERR_NO_ERROR || error == RD_KAFKA_RESP_ERR__NO_OFFSET else {
        throw KafkaError(error, context: "committing offsets for \(offsets.count) partitions")
      }
      let results = rd_kafka_event_topic_partition_list(event)
      for entry in TopicPartitionList.entries(of: results)
      where entry.error != RD_KAFKA_RESP_ERR_NO_ERROR {
        throw KafkaError(entry.error, context: "committing offset of \(entry.topicPartition)")
      }
      return
    }
    throw KafkaError(
      code: .timedOut,
      message:
        "committing offsets for \(offsets.count) partitions: no answer from the group "
        + "coordinator within \(Self.commitAttemptTimeout); commit again later",
      isRetriable: true)
  }

  /// The group's committed offsets for `partitions` (absent when nothing was committed).
  /// - Throws: `KafkaError` if the coordinator cannot be asked within `timeout`.
  public func committed(
    _ partitions: [TopicPartition], timeout: Duration
  ) throws(KafkaError) -> [TopicPartition: Int64] {
    let list = TopicPartitionList(partitions.map { ($0, nil) })
    let code = rd_kafka_committed(handle, list.pointer, milliseconds(timeout))
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
      throw KafkaError(code, context: "reading committed offsets")
    }
    var result: [TopicPartition: Int64] = [:]
    for entry in list.entries where entry.offset >= 0 {
      result[entry.topicPartition] = entry.offset
    }
    return result
  }

  /// Stops fetching from `partitions` (backpressure); their positions are kept.
  /// - Throws: `KafkaError` if librdkafka refuses.
  public func pause(_ partitions: [TopicPartition]) throws(KafkaError) {
    let list = TopicPartitionList(partitions.map { ($0, nil) })
    let code = rd_kafka_pause_partitions(handle, list.pointer)
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
      throw KafkaError(code, context: "pausing \(partitions.count) partitions")
    }
  }

  /// Resumes fetching from `partitions`.
  /// - Throws: `KafkaError` if librdkafka refuses.
  public func resume(_ partitions: [TopicPartition]) throws(KafkaError) {
    let list = TopicPartitionList(partitions.map { ($0, nil) })
    let code = rd_kafka_resume_partitions(handle, list.pointer)
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
      throw KafkaError(code, context: "resuming \(partitions.count) partitions")
    }
  }

  /// The partitions currently assigned to this consumer, sorted.
  public var assignment: [TopicPartition] {
    var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    guard rd_kafka_assignment(handle, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else {
      return []
    }
    defer { rd_kafka_topic_partition_list_destroy(list) }
    return TopicPartitionList.entries(of: list).map(\.topicPartition).sorted()
  }

  /// The next offset to be read for each assigned partition whose position is known.
  public func positions() -> [TopicPartition: Int64] {
    let list = TopicPartitionList(assignment.map { ($0, nil) })
    guard rd_kafka_position(handle, list.pointer) == RD_KAFKA_RESP_ERR_NO_ERROR else { return [:] }
    var result: [TopicPartition: Int64] = [:]
    for entry in list.entries where entry.offset >= 0 {
      result[entry.topicPartition] = entry.offset
    }
    return result
  }

  /// Per assigned partition, the last fetched high watermark minus the position (records not yet
  /// read); partitions without a known position or watermark are left out. Also sets the
  /// `iak_consumer_lag{topic,partition}` gauge, and removes its series of partitions no longer
  /// assigned: a revoked partition's last lag would otherwise stay exported for ever, summed
  /// with the new owner's.
  @discardableResult
  public func updateLag() -> [TopicPartition: Int64] {
    let assigned = Set(assignment.map { [$0.topic, String($0.partition)] })
    lagGauge?.removeSeries { !assigned.contains($0) }
    var lag: [TopicPartition: Int64] = [:]
    for (topicPartition, position) in positions() {
      var low: Int64 = -1
      var high: Int64 = -1
      let code = rd_kafka_get_watermark_offsets(
        handle, topicPartition.topic, topicPartition.partition, &low, &high)
      guard code == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { continue }
      let value = max(high - position, 0)
      lag[topicPartition] = value
      lagGauge?.with(topicPartition.topic, String(topicPartition.partition)).set(Double(value))
    }
    return lag
  }

  /// Leaves the group (running the revoke handler) and stops fetching; idempotent.
  public func close() {
    guard !isClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
    leaveGroupBeforeClosing()
    let code = rd_kafka_consumer_close(handle)
    if code != RD_KAFKA_RESP_ERR_NO_ERROR {
      logger.warning(
        "closing the Kafka consumer reported an error",
        ["error": KafkaError(code, context: "consumer close").description])
    }
  }

  /// Leaves the group and serves the resulting revocation before `rd_kafka_consumer_close`:
  /// librdkafka 2.0.2 can abort the process (`rd_kafka_cgrp_terminated: assert:
  /// !rd_kafka_assignment_in_progress`) when a cooperative consumer closes while an
  /// incremental assignment is still being applied. Unsubscribing, then polling until the
  /// assignment is empty (at most 10 s; records polled meanwhile are dropped, uncommitted) lets
  /// the assignment settle first.
  private func leaveGroupBeforeClosing() {
    var subscription: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    guard rd_kafka_subscription(handle, &subscription) == RD_KAFKA_RESP_ERR_NO_ERROR,
      let subscription
    else { return }
    let isSubscribed = subscription.pointee.cnt > 0
    rd_kafka_topic_partition_list_destroy(subscription)
    guard isSubscribed else { return }
    _ = rd_kafka_unsubscribe(handle)
    let deadline = ContinuousClock.now + .seconds(10)
    var quietPolls = 0
    while ContinuousClock.now < deadline && quietPolls < 2 {
      if let message = rd_kafka_consumer_poll(handle, 50) { rd_kafka_message_destroy(message) }
      quietPolls = assignment.isEmpty ? quietPolls + 1 : 0
    }
  }

  private func copyRecord(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> Record {
    let fields = message.pointee
    let topic = topicName(fields.rkt)
    let value =
      fields.payload.map {
        Array(UnsafeRawBufferPointer(start: $0, count: fields.len))
      } ?? []
    let key = fields.key.map { Array(UnsafeRawBufferPointer(start: $0, count: fields.key_len)) }
    var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
    let timestamp = rd_kafka_message_timestamp(message, &timestampType)
    return Record(
      topic: topic, partition: fields.partition, offset: fields.offset, key: key, value: value,
      timestampMs: timestamp >= 0 ? timestamp : nil, headers: copyHeaders(message))
  }

  private func copyHeaders(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> [Record.Header] {
    var headers: OpaquePointer?
    guard rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers
    else { return [] }
    var result: [Record.Header] = []
    var index = 0
    while true {
      var name: UnsafePointer<CChar>?
      var value: UnsafeRawPointer?
      var size = 0
      guard
        rd_kafka_header_get_all(headers, index, &name, &value, &size)
          == RD_KAFKA_RESP_ERR_NO_ERROR
      else { break }
      let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
      result.append(Record.Header(name: name.map { String(cString: $0) } ?? "", value: bytes))
      index += 1
    }
    return result
  }

  private func topicName(_ topic: OpaquePointer?) -> String {
    guard let topic else { return "" }
    if let name = topicNames[topic] { return name }
    let name = String(cString: rd_kafka_topic_name(topic))
    topicNames[topic] = name
    return name
  }

  private func describe(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> String {
    let fields = message.pointee
    let payload =
      fields.payload.map {
        String(decoding: UnsafeRawBufferPointer(start: $0, count: fields.len), as: UTF8.self)
      } ?? ""
    guard let topic = fields.rkt else { return payload }
    return "\(String(cString: rd_kafka_topic_name(topic)))[\(fields.partition)]: \(payload)"
  }

  private func handleConsumeError(
    _ code: rd_kafka_resp_err_t, context description: String
  ) throws(KafkaError) {
    if code == RD_KAFKA_RESP_ERR__PARTITION_EOF { return }
    context.errorCounter?.with(String(cString: rd_kafka_err2name(code))).increment()
    var ignored = [CChar](repeating: 0, count: 8)
    let hasFatalError = rd_kafka_fatal_error(handle, &ignored, ignored.count).rawValue != 0
    if code == RD_KAFKA_RESP_ERR__FATAL || hasFatalError {
      context.handleError(handle: handle, code: RD_KAFKA_RESP_ERR__FATAL, reason: description)
      if let fatal = context.fatalError { throw fatal }
    }
    logger.warning(
      "kafka consumer error (continuing)",
      ["error": KafkaError(code, context: description).description])
  }
}
