import Base
internal import CRdKafka
import Dispatch
import Foundation
import Observability
import Synchronization

/// Owns one librdkafka producer handle: idempotent by default, keyed records with headers, and
/// a delivery result for every record (a failed delivery is an error the caller sees).
///
/// A background thread serves delivery reports. `close` (or `deinit`) flushes, then purges what
/// could not be delivered so that every pending handler still hears a result.
///
/// `@unchecked Sendable`: librdkafka's producer calls are thread-safe; our own mutable state is
/// atomic.
public final class KafkaProducer: @unchecked Sendable {
  /// Receives a record's delivery result, on the producer's polling thread.
  public typealias DeliveryHandler = @Sendable (Result<Delivery, KafkaError>) -> Void

  let handle: OpaquePointer
  private let context: KafkaClientContext
  private let poller: Poller
  private let isClosed = Atomic<Bool>(false)
  private let delivered: MetricFamily?
  private let failed: MetricFamily?
  private let enqueueTimeout: Duration

  private init(
    handle: OpaquePointer, context: KafkaClientContext, metrics: MetricsRegistry?,
    enqueueTimeout: Duration
  ) {
    self.handle = handle
    self.context = context
    self.enqueueTimeout = enqueueTimeout
    self.delivered = metrics?.counter(
      "iak_kafka_delivered_total", help: "Records delivered by the producer.", labels: ["topic"])
    self.failed = metrics?.counter(
      "iak_kafka_delivery_failed_total", help: "Records the producer failed to deliver.",
      labels: ["topic"])
    self.poller = Poller(handle: HandleReference(pointer: handle))
    poller.start()
  }

  /// Creates a producer; `configuration` (with `bootstrap.servers` and pass-through pairs) is
  /// applied over our defaults: `enable.idempotence=true`, and `message.max.bytes=8388608`
  /// (8 MiB, as a partition state's chunk on the state topic can exceed librdkafka's 1 MB).
  ///
  /// `enqueueTimeout` bounds how long `send` waits while the local queue is full.
  /// - Throws: `KafkaError` naming a refused configuration key, or why the handle failed.
  public static func make(
    configuration: KafkaConfiguration, logger: Logger = .disabled,
    metrics: MetricsRegistry? = nil, enqueueTimeout: Duration = .seconds(30)
  ) throws(KafkaError) -> KafkaProducer {
    // Consumer-only keys from a shared `kafka.*` section would each draw a warning.
    let settings = KafkaConfiguration([
      ("enable.idempotence", "true"), ("message.max.bytes", "8388608"),
    ])
    .merging(configuration.withoutConsumerSettings)
    let context = KafkaClientContext(logger: logger, metrics: metrics)
    let conf = try settings.makeNativeConfiguration()
    context.install(on: conf)
    rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
      guard let message, let opaque = message.pointee._private else { return }
      let pending = Unmanaged<PendingDelivery>.fromOpaque(opaque).takeRetainedValue()
      let fields = message.pointee
      let topic = fields.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
      let topicPartition = TopicPartition(topic: topic, partition: fields.partition)
      if fields.err == RD_KAFKA_RESP_ERR_NO_ERROR {
        pending.handler(.success(Delivery(topicPartition: topicPartition, offset: fields.offset)))
      } else {
        pending.handler(
          .failure(KafkaError(fields.err, context: "delivering a record to \(topicPartition)")))
      }
    }
    var errorText = [CChar](repeating: 0, count: 512)
    guard let handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errorText, errorText.count) else {
      rd_kafka_conf_destroy(conf)  // rd_kafka_new takes the conf only when it succeeds
      throw settings.creationError("producer", reason: string(fromBuffer: errorText))
    }
    return KafkaProducer(
      handle: handle, context: context, metrics: metrics, enqueueTimeout: enqueueTimeout)
  }

  /// The value librdkafka runs this client with for property `key` (normalised, e.g. `sasl_ssl`),
  /// masked as `********` when the key is secret; nil for an unknown or unset property. Shows that
  /// pass-through settings such as `kafka.security.protocol` reached the client.
  public func effectiveSetting(_ key: String) -> String? {
    KafkaConfiguration.value(of: key, on: handle).map { KafkaConfiguration.displayed(key, $0) }
  }

  deinit {
    guard !poller.isCurrentThread else {
      // The last reference went away inside a delivery handler, so the polling thread is inside
      // `rd_kafka_poll` on this handle: it must neither wait for itself nor destroy the handle
      // under its own feet. It drains and destroys once that call has returned.
      isClosed.store(true, ordering: .releasing)
      let reference = HandleReference(pointer: handle)
      poller.stopFromPollingThread { [context] in
        _ = Self.drain(reference.pointer, timeout: .seconds(5), logger: context.logger)
        rd_kafka_destroy(reference.pointer)
        withExtendedLifetime(context) {}  // callbacks during the drain use it as `opaque`
      }
      return
    }
    closeHandle(timeout: .seconds(5))
    guard poller.hasStopped else {
      // A delivery handler is stuck; destroying the handle under it would crash the process.
      context.logger.error(
        "the producer's polling thread did not stop; leaking its handle",
        ["timeout_seconds": Logger.seconds(Poller.stopTimeout)])
      return
    }
    rd_kafka_destroy(handle)
  }

  /// Enqueues `record`; `onDelivery` later hears where it was written or why it was not.
  /// - Throws: `KafkaError` if the record cannot be enqueued (closed producer, a fatal error,
  ///   the local queue full for longer than `enqueueTimeout`, an unknown partition);
  ///   `onDelivery` is then not called.
  public func send(
    _ record: OutgoingRecord, onDelivery: @escaping DeliveryHandler = { _ in }
  ) throws(KafkaError) {
    guard !isClosed.load(ordering: .acquiring) else {
      throw KafkaError(code: .state, message: "send called on a closed Kafka producer")
    }
    if let fatal = context.fatalError { throw fatal }
    let delivered = delivered?.with(record.topic)
    let failed = failed?.with(record.topic)
    let pending = PendingDelivery { result in
      switch result {
      case .success: delivered?.increment()
      case .failure: failed?.increment()
      }
      onDelivery(result)
    }
    let deadline = ContinuousClock.now + enqueueTimeout
    while true {
      let opaque = Unmanaged.passRetained(pending).toOpaque()
      guard let error = enqueue(record, opaque: opaque) else { return }
      Unmanaged<PendingDelivery>.fromOpaque(opaque).release()
      if error.code == .queueFull && ContinuousClock.now < deadline {
        Thread.sleep(forTimeInterval: 0.001)  // the poller thread drains delivery reports
        continue
      }
      throw error
    }
  }

  /// Sends `record` and waits for its delivery.
  /// - Throws: `KafkaError` if it could not be enqueued or was not delivered.
  public func send(_ record: OutgoingRecord) async throws(KafkaError) -> Delivery {
    let result: Result<Delivery, KafkaError> = await withCheckedContinuation { continuation in
      do throws(KafkaError) {
        try send(record) { continuation.resume(returning: $0) }
      } catch {
        continuation.resume(returning: .failure(error))
      }
    }
    return try result.get()
  }

  /// Records enqueued but not yet reported.
  public var pendingCount: Int { Int(rd_kafka_outq_len(handle)) }

  /// Waits until every enqueued record has its delivery report.
  /// - Throws: `KafkaError` (`.timedOut`) if some are still pending after `timeout`.
  public func flush(timeout: Duration) throws(KafkaError) {
    let code = rd_kafka_flush(handle, milliseconds(timeout))
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
      throw KafkaError(
        code, context: "flushing the producer: \(pendingCount) records still pending")
    }
  }

  /// Flushes for up to `timeout`, then fails whatever is left (handlers hear a purge error) and
  /// stops the polling thread; idempotent.
  /// - Throws: `KafkaError` if some records could not be delivered in time.
  public func close(timeout: Duration = .seconds(10)) throws(KafkaError) {
    if let left = closeHandle(timeout: timeout), left > 0 {
      throw KafkaError(
        code: .timedOut,
        message: "closing the producer: \(left) records were not delivered within \(timeout)")
    }
  }

  /// Returns how many records were left undelivered, or nil if already closed.
  @discardableResult
  private func closeHandle(timeout: Duration) -> Int? {
    guard !isClosed.exchange(true, ordering: .acquiringAndReleasing) else { return nil }
    let left = Self.drain(handle, timeout: timeout, logger: context.logger)
    poller.stop()
    return left
  }

  /// Flushes for up to `timeout`, then purges what is left so that its handlers hear a result;
  /// returns how many records were left.
  private static func drain(_ handle: OpaquePointer, timeout: Duration, logger: Logger) -> Int {
    _ = rd_kafka_flush(handle, milliseconds(timeout))
    let left = Int(rd_kafka_outq_len(handle))
    if left > 0 {
      logger.error("purging undelivered records at close", ["count": String(left)])
      _ = rd_kafka_purge(
        handle, Int32(RD_KAFKA_PURGE_F_QUEUE) | Int32(RD_KAFKA_PURGE_F_INFLIGHT))
      _ = rd_kafka_flush(handle, 1000)
    }
    return left
  }

  private func enqueue(_ record: OutgoingRecord, opaque: UnsafeMutableRawPointer) -> KafkaError? {
    let headers = rd_kafka_headers_new(record.headers.count)
    for header in record.headers {
      header.value.withUnsafeBytes { bytes in
        _ = rd_kafka_header_add(headers, header.name, -1, bytes.baseAddress, bytes.count)
      }
    }
    let error: OpaquePointer? = record.topic.withCString { topic in
      record.value.withUnsafeBytes { value in
        withOptionalBytes(record.key) { key in
          var fields: [rd_kafka_vu_t] = []
          fields.reserveCapacity(8)
          var field = rd_kafka_vu_t()
          field.vtype = RD_KAFKA_VTYPE_TOPIC
          field.u.cstr = topic
          fields.append(field)
          if let partition = record.partition {
            field = rd_kafka_vu_t()
            field.vtype = RD_KAFKA_VTYPE_PARTITION
            field.u.i32 = partition
            fields.append(field)
          }
          field = rd_kafka_vu_t()
          field.vtype = RD_KAFKA_VTYPE_VALUE
          // An empty value goes as null: a tombstone, which compaction deletes its key by.
          field.u.mem.ptr =
            value.isEmpty ? nil : UnsafeMutableRawPointer(mutating: value.baseAddress)
          field.u.mem.size = value.count
          fields.append(field)
          if let key {
            field = rd_kafka_vu_t()
            field.vtype = RD_KAFKA_VTYPE_KEY
            field.u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress)
            field.u.mem.size = key.count
            fields.append(field)
          }
          if let timestamp = record.timestampMs {
            field = rd_kafka_vu_t()
            field.vtype = RD_KAFKA_VTYPE_TIMESTAMP
            field.u.i64 = timestamp
            fields.append(field)
          }
          field = rd_kafka_vu_t()
          field.vtype = RD_KAFKA_VTYPE_HEADERS
          field.u.headers = headers
          fields.append(field)
          field = rd_kafka_vu_t()
          field.vtype = RD_KAFKA_VTYPE_MSGFLAGS
          field.u.i = RD_KAFKA_MSG_F_COPY
          fields.append(field)
          field = rd_kafka_vu_t()
          field.vtype = RD_KAFKA_VTYPE_OPAQUE
          field.u.ptr = opaque
          fields.append(field)
          return fields.withUnsafeBufferPointer {
            rd_kafka_produceva(handle, $0.baseAddress, $0.count)
          }
        }
      }
    }
    guard let error else { return nil }
    rd_kafka_headers_destroy(headers)  // ours again when produceva fails
    return KafkaError(consuming: error, context: "enqueueing a record for topic \(record.topic)")
  }
}

private func withOptionalBytes<Result>(
  _ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> Result
) -> Result {
  guard let bytes else { return body(nil) }
  return bytes.withUnsafeBytes { body($0) }
}

/// A delivery handler carried through librdkafka as a message's opaque pointer.
private final class PendingDelivery: Sendable {
  let handler: KafkaProducer.DeliveryHandler
  init(_ handler: @escaping KafkaProducer.DeliveryHandler) { self.handler = handler }
}

/// A C handle handed to the polling thread. `@unchecked Sendable`: `rd_kafka_poll` is
/// thread-safe and the handle outlives the thread (the owner stops it before destroying).
struct HandleReference: @unchecked Sendable {
  let pointer: OpaquePointer
}

/// Serves a producer's callbacks on a background thread until stopped.
///
/// Every wait is bounded: `stop` gives up after `stopTimeout` (a delivery handler that never
/// returns), and `stop` from the polling thread itself (a handler closing the producer) does not
/// wait at all.
private final class Poller: Sendable {
  /// How long `stop` waits for the polling thread to leave its loop.
  static let stopTimeout = Duration.seconds(30)

  private let handle: HandleReference
  private let isStopping = Atomic<Bool>(false)
  private let stopped = Atomic<Bool>(false)
  private let finished = DispatchSemaphore(value: 0)
  /// The polling thread's identity, set as it starts; compared with `pthread_self()`.
  private let threadID = Mutex<pthread_t?>(nil)
  /// Work handed to the polling thread for after its loop (destroying the handle).
  private let finalWork = Mutex<(@Sendable () -> Void)?>(nil)

  init(handle: HandleReference) { self.handle = handle }

  func start() {
    let thread = Thread.named("iak-kafka-poll") { [handle, self] in
      self.threadID.withLock { $0 = pthread_self() }
      while !self.isStopping.load(ordering: .acquiring) {
        _ = rd_kafka_poll(handle.pointer, 50)
      }
      self.finalWork.withLock { $0 }?()
      self.stopped.store(true, ordering: .releasing)
      self.finished.signal()
    }
    thread.start()
  }

  /// Whether the caller runs on the polling thread (inside a delivery handler).
  var isCurrentThread: Bool {
    threadID.withLock { id in id.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
  }

  /// Whether the polling thread has left its loop.
  var hasStopped: Bool { stopped.load(ordering: .acquiring) }

  /// Asks the polling thread to stop and waits (bounded) until it has, unless called from that
  /// very thread, which cannot wait for itself.
  func stop() {
    isStopping.store(true, ordering: .releasing)
    guard !isCurrentThread, !hasStopped else { return }
    if finished.wait(timeout: .now() + Self.stopTimeout.inSeconds) == .success { finished.signal() }
  }

  /// Called on the polling thread: stops the loop and runs `work` once the current
  /// `rd_kafka_poll` has returned.
  func stopFromPollingThread(then work: @escaping @Sendable () -> Void) {
    finalWork.withLock { $0 = work }
    isStopping.store(true, ordering: .releasing)
  }
}
