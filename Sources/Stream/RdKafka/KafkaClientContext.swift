internal import CRdKafka
import Observability
import Synchronization

/// State shared between a client owner and librdkafka's C callbacks (handed over as `opaque`).
///
/// `@unchecked Sendable`: librdkafka calls the log callback from its own threads; the mutable
/// parts are behind a `Mutex`, the rest is set before the handle exists and never changes.
final class KafkaClientContext: @unchecked Sendable {
  let logger: Logger
  let errorCounter: MetricFamily?
  let onRebalance: KafkaConsumer.RebalanceHandler?
  let startOffset: KafkaConsumer.OffsetProvider?
  /// librdkafka log lines that contain one of these are not passed on (lines that are true
  /// but meaningless for this handle, such as the mock cluster's lack of bootstrap servers).
  let ignoredLogText: [String]
  /// The consumer this context belongs to, for rebalance handlers; weak to avoid a cycle.
  weak var consumer: KafkaConsumer?
  private let fatalErrorStorage = Mutex<KafkaError?>(nil)
  /// Rebalances that took partitions away (revoked or lost), counted as they begin.
  let revocations = Atomic<Int>(0)

  init(
    logger: Logger, metrics: MetricsRegistry?,
    onRebalance: KafkaConsumer.RebalanceHandler? = nil,
    startOffset: KafkaConsumer.OffsetProvider? = nil, ignoringLogsContaining: [String] = []
  ) {
    self.logger = logger
    self.ignoredLogText = ignoringLogsContaining
    self.errorCounter = metrics?.counter(
      "iak_kafka_errors_total", help: "Errors reported by librdkafka, by code.", labels: ["code"])
    self.onRebalance = onRebalance
    self.startOffset = startOffset
  }

  /// The first fatal error raised on the handle, if any.
  var fatalError: KafkaError? { fatalErrorStorage.withLock { $0 } }

  func recordFatal(_ error: KafkaError) {
    fatalErrorStorage.withLock { stored in if stored == nil { stored = error } }
  }

  var opaque: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

  static func from(_ opaque: UnsafeMutableRawPointer?) -> KafkaClientContext? {
    guard let opaque else { return nil }
    return Unmanaged<KafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
  }

  /// Installs the opaque pointer and the error and log callbacks on `conf`.
  func install(on conf: OpaquePointer) {
    rd_kafka_conf_set_opaque(conf, opaque)
    rd_kafka_conf_set_error_cb(conf) { handle, code, reason, opaque in
      guard let context = KafkaClientContext.from(opaque) else { return }
      let reasonText = reason.map { String(cString: $0) } ?? "no reason given"
      context.handleError(
        handle: handle, code: rd_kafka_resp_err_t(rawValue: code), reason: reasonText)
    }
    rd_kafka_conf_set_log_cb(conf) { handle, level, facility, text in
      guard let handle, let context = KafkaClientContext.from(rd_kafka_opaque(handle)) else {
        return
      }
      let line = text.map { String(cString: $0) } ?? ""
      if context.ignoredLogText.contains(where: line.contains) { return }
      let facilityName = facility.map { String(cString: $0) } ?? ""
      let mapped: Logger.Level =
        switch level {
        case ...3: .error
        case 4: .warning
        case 5...6: .info
        default: .debug
        }
      context.logger.log(mapped, line, ["facility": facilityName])
    }
  }

  /// Maps an error callback: fatal errors are stored (and surfaced by the owner), the rest
  /// are transient (librdkafka retries them) and logged.
  func handleError(handle: OpaquePointer?, code: rd_kafka_resp_err_t, reason: String) {
    errorCounter?.with(String(cString: rd_kafka_err2name(code))).increment()
    if code == RD_KAFKA_RESP_ERR__FATAL, let handle {
      var buffer = [CChar](repeating: 0, count: 512)
      let underlying = rd_kafka_fatal_error(handle, &buffer, buffer.count)
      let error = KafkaError(
        code: KafkaError.Code(rawValue: underlying.rawValue),
        message: "fatal librdkafka error: \(string(fromBuffer: buffer)); the client must stop",
        isFatal: true)
      logger.error("fatal kafka error", ["error": error.description])
      recordFatal(error)
    } else {
      logger.warning(
        "transient kafka error (librdkafka retries)",
        ["code": String(cString: rd_kafka_err2name(code)), "reason": reason])
    }
  }
}
