/// How long each step of one checkpoint took, in seconds: what `bench serve` breaks the
/// freshness wait into (`Pipeline.lastCheckpointTimings`, completed by the training loop).
/// Each is time of the training thread, so they add up to what the checkpoint held it: with
/// `checkpoint.write_alongside`, the snapshot is written on another thread while the training
/// thread encodes the partitions' states (counted in `handOver`).
struct CheckpointTimings: Sendable, Equatable {
  /// Closing and training every open batch (`train.close_at_checkpoint`; 0 when off).
  var close = 0.0
  /// Waiting for the dead letters of the covered records to be on their topic.
  var settle = 0.0
  /// Numbering the changed kernels and encoding all state into tensors and extras (training
  /// thread, at the consistent point).
  var encode = 0.0
  /// `SnapshotStore.write`: the payload and manifest files, their fsyncs, the rename, `LATEST`
  /// and retention; with `checkpoint.write_alongside`, what is left of it once the partitions'
  /// states are encoded alongside.
  var write = 0.0
  /// What follows a written snapshot: drift series, the alert history.
  var refresh = 0.0
  /// Asking the consumer group to confirm this process as a member.
  var membership = 0.0
  /// Handing the owned partitions' states over (state topic, transactions): with transactions,
  /// encoding the states (while the snapshot is written, with `checkpoint.write_alongside`) and
  /// the transactions.
  var handOver = 0.0
  /// Publishing the changed kernels (and the alerts no transaction carried).
  var publish = 0.0
  /// The per-domain quality series of the kernels numbered, once they are out.
  var metrics = 0.0
  /// Committing the snapshot's offsets to Kafka.
  var commit = 0.0

  /// The steps by name, in the order a checkpoint takes them.
  var steps: [(name: String, seconds: Double)] {
    [
      ("close", close), ("settle", settle), ("encode", encode), ("write", write),
      ("refresh", refresh), ("membership", membership), ("hand-over", handOver),
      ("publish", publish), ("metrics", metrics), ("commit", commit),
    ]
  }
}
