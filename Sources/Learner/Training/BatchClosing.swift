/// Why a domain's batch closed.
public enum BatchClosing: String, Sendable, Equatable {
  /// It reached `train.batch_max` examples.
  case full
  /// Its oldest example became `train.batch_max_wait` older than the stream's event time.
  case waited
  /// The caller flushed every pending batch (end of input, shutdown, snapshot).
  case flushed
}
