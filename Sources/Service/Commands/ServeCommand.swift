extension CommandSpec {
  /// `iak-stream serve`: the long-lived service.
  public static let serve = CommandSpec(
    name: "serve",
    summary: "Run the long-lived service: consume, join, route, train, monitor, snapshot, publish",
    usage:
      "iak-stream serve [--bootstrap-servers HOST:PORT] [--backbone DIR] "
      + "[--exit-when-idle DURATION] [--metrics-address-file FILE] [--on-offset-reset POLICY]",
    details: """
      Consumes input.topics in consumer group input.group_id and runs the pipeline: decode (bad
      records go to input.dead_letter_topic with their reason), join clicks to impressions,
      route to domains, train each domain's kernel on the frozen backbone (backbone.dir, loaded
      once), check drift and raise alerts. Every checkpoint.interval it writes a snapshot of all
      state with the offsets it covers to checkpoint.dir, publishes the kernels that changed to
      publish.topic (and publish.dir), and only then commits the offsets to the group.

      Start-up restores the newest valid snapshot (a damaged one is skipped, loudly) and each
      assigned partition starts at the snapshot's offset, else the group's committed offset,
      else input.start. Before partitions are taken away in a rebalance, everything read is
      trained and checkpointed. Reading and training run on two threads with a queue of
      input.queue_capacity records between them; a full queue pauses the input, nothing is
      dropped.

      SIGTERM or SIGINT: the chunk in flight is finished, a final snapshot is written,
      published and committed, and the process exits 0 within shutdown.timeout (a second signal
      exits at once with 130). Records read but not yet trained are not committed, so they are
      read again at the next start. If the final snapshot fails (a full disk), the exit status is
      1 and the message names the newest snapshot on disk and the offsets it covers: the
      records after them are read again at the next start. /metrics and /healthz are served on
      metrics.listen; /healthz answers 200 once state is restored, the lag is within
      health.max_lag, checkpoints have not been failing for longer than
      health.max_checkpoint_age and the cluster (asked every 5 s by a client of its own) has not
      been silent for longer than health.max_broker_silence; 503 with the reason otherwise.
      --metrics-address-file writes the address the endpoint is bound to (HOST:PORT, the port
      the system chose when metrics.listen asks for port 0) to FILE once it serves.

      A gained partition whose end lies below the offset the restored state has read (the
      topic was deleted and created again, or truncated: its offsets went backwards) stops the
      service with an error by default (--on-offset-reset fail): its records are new, and
      none is skipped as "already trained". --on-offset-reset resume-from-snapshot keeps the
      trained state and reads the partition from its log start; start-over forgets the
      partition's state and trains it anew from there.

      With input.source = file, it reads input.file and stops at its end. --exit-when-idle stops
      the same clean way once no record has arrived for DURATION and the lag is zero (demos,
      tests, catch-up jobs).
      """,
    options: [
      .value("--bootstrap-servers", "HOST:PORT", "Shortcut for --set kafka.bootstrap.servers=..."),
      .value("--backbone", "DIR", "Backbone folder (default backbone.dir)"),
      .value("--exit-when-idle", "DURATION", "Stop cleanly after DURATION without records"),
      .value(
        "--metrics-address-file", "FILE",
        "Write the metrics endpoint's bound HOST:PORT to FILE once it serves"),
      .value(
        "--on-offset-reset", "POLICY",
        "fail (default), resume-from-snapshot or start-over: when a partition's offsets went "
          + "backwards below the snapshot's"),
    ],
    run: { context in try ServeTool(context: context).run() })
}
