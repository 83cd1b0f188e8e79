import Observability

/// The service's own metrics (the pipeline's stages register theirs).
struct ServeMetrics: Sendable {
  let consumed: Metric
  let processed: Metric
  let queued: Metric
  let paused: Metric
  let assigned: Metric
  let snapshots: Metric
  let snapshotFailures: Metric
  let lastSnapshot: Metric
  let snapshotSeconds: Metric
  let skippedSnapshots: Metric
  let commitFailures: Metric
  let membershipNotConfirmed: Metric
  let freshness: Metric

  init(_ registry: MetricsRegistry) {
    consumed = registry.counter(
      "iak_events_consumed_total", help: "Records read from the input (good and bad)."
    ).with()
    processed = registry.counter(
      "iak_events_processed_total",
      help: "Records through the pipeline (trained on, waiting in a batch, or dead-lettered)."
    ).with()
    queued = registry.gauge(
      "iak_queue_records", help: "Records read and waiting for the training thread."
    ).with()
    paused = registry.gauge(
      "iak_consumer_paused",
      help: "1 while the consumer stops polling because the training queue is full."
    ).with()
    assigned = registry.gauge(
      "iak_assigned_partitions", help: "Input partitions this process owns."
    ).with()
    snapshots = registry.counter(
      "iak_snapshots_total", help: "Snapshots written, published and committed."
    ).with()
    snapshotFailures = registry.counter(
      "iak_snapshot_failures_total",
      help: "Checkpoints that failed (snapshot write or kernel publish); retried."
    ).with()
    lastSnapshot = registry.gauge(
      "iak_snapshot_last_success_timestamp_seconds",
      help: "When all trained state was last covered by a durable, published snapshot."
    ).with()
    snapshotSeconds = registry.histogram(
      "iak_snapshot_duration_seconds",
      help: "Duration of each checkpoint that wrote a snapshot (write, hand-over and publish).",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
    ).with()
    skippedSnapshots = registry.counter(
      "iak_snapshots_skipped_total",
      help: "Snapshots skipped at start-up because they failed their checks."
    ).with()
    commitFailures = registry.counter(
      "iak_commit_failures_total",
      help: "Offset commits to the consumer group that failed (the snapshot holds the truth)."
    ).with()
    membershipNotConfirmed = registry.counter(
      "iak_membership_not_confirmed_total",
      help: "Checkpoints that wrote nothing to the shared topics because the consumer group did "
        + "not confirm this process as a member (paused past its session timeout, or the "
        + "coordinator unreachable)."
    ).with()
    freshness = registry.histogram(
      "iak_freshness_seconds",
      help: "From a record's arrival to the publication of the snapshot that covers it.",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300]
    ).with()
  }
}
