internal import CRdKafka

/// Kafka transactions (a producer made with `transactional.id`): what it sends between
/// `beginTransaction()` and `commitTransaction(timeout:)` becomes visible to `read_committed`
/// readers all at once, or not at all. Starting a producer with a `transactional.id` fences
/// any earlier producer with the same id: the broker refuses its later writes
/// (PRODUCER_FENCED) and aborts its open transaction.
extension KafkaProducer {
  /// Registers the `transactional.id` with its coordinator, fencing earlier producers with the
  /// same id; once per producer, before the first transaction.
  /// - Throws: `KafkaError` when the coordinator cannot be reached within `timeout` or refuses.
  public func initTransactions(timeout: Duration) throws(KafkaError) {
    if let error = rd_kafka_init_transactions(handle, milliseconds(timeout)) {
      throw KafkaError(consuming: error, context: "initialising transactions")
    }
  }

  /// Starts a transaction: what `send` enqueues from now on belongs to it.
  /// - Throws: `KafkaError` when the producer cannot start one (fenced, fatal, one open).
  public func beginTransaction() throws(KafkaError) {
    if let error = rd_kafka_begin_transaction(handle) {
      throw KafkaError(consuming: error, context: "beginning a transaction")
    }
  }

  /// Delivers everything sent in the transaction and commits it.
  /// - Throws: `KafkaError`; `requiresAbort` tells whether the caller must call
  ///   `abortTransaction(timeout:)` before the next one, `isFatal` (fenced) that the producer is
  ///   unusable.
  public func commitTransaction(timeout: Duration) throws(TransactionError) {
    if let error = rd_kafka_commit_transaction(handle, milliseconds(timeout)) {
      let requiresAbort = rd_kafka_error_txn_requires_abort(error) != 0
      throw TransactionError(
        error: KafkaError(consuming: error, context: "committing a transaction"),
        requiresAbort: requiresAbort)
    }
  }

  /// Aborts the open transaction: nothing sent in it becomes visible to `read_committed`
  /// readers.
  /// - Throws: `KafkaError` when the abort itself failed (the producer is then unusable).
  public func abortTransaction(timeout: Duration) throws(KafkaError) {
    if let error = rd_kafka_abort_transaction(handle, milliseconds(timeout)) {
      throw KafkaError(consuming: error, context: "aborting a transaction")
    }
  }

  /// Why a transaction was not committed.
  public struct TransactionError: Error, CustomStringConvertible {
    /// librdkafka's error.
    public var error: KafkaError
    /// Whether the transaction must be aborted before the producer can start another.
    public var requiresAbort: Bool

    /// The error, with whether an abort is needed.
    public var description: String {
      "\(error)\(requiresAbort ? " (the transaction must be aborted)" : "")"
    }
  }
}
