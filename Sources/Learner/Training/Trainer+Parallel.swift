/// Batches of different domains closing together (`train.threads` > 1).
extension Trainer {
  /// A domain's state taken out of `states` while its batch closes, and the batch's report.
  private struct ClosingBatch {
    /// The domain.
    var domain: String
    /// Its state, trained in place.
    var state: DomainState
    /// The report, once the batch has closed.
    var report: BatchReport?
  }

  /// Closes the batches of `domains` (no name twice), in that order, and returns their reports
  /// in that order.
  ///
  /// With `workers` the batches train at once, each domain's state taken out of `states` and
  /// trained on one thread's engine, and put back once all are done. Domains share nothing
  /// while training, so every kernel, evaluation and report is bit-identical to closing them
  /// one after another on one thread; the caller sees the same reports in the same order.
  func closeBatches(of domains: [String], reason: BatchClosing) -> [BatchReport] {
    guard let workers, domains.count > 1 else {
      return domains.map { domain in
        withState(domain) { closeBatch(of: domain, reason: reason, state: &$0, engine: engine) }!
      }
    }
    var closing = domains.map {
      ClosingBatch(domain: $0, state: states.removeValue(forKey: $0)!, report: nil)
    }
    closing.withUnsafeMutableBufferPointer { buffer in
      let slots = buffer
      workers.perform(slots.count) { index, engine in
        slots[index].report = closeBatch(
          of: slots[index].domain, reason: reason, state: &slots[index].state, engine: engine)
      }
    }
    for batch in closing { states[batch.domain] = batch.state }
    return closing.map { $0.report! }
  }
}
