import Learner
import Stream

/// Every key `pipeline.conf` accepts, grouped by concern in the order DESIGN.md lists them.
///
/// This list is the single source of truth: the parser checks against it, `iak-stream config
/// --defaults` prints it as a documented file, and a test checks that the root `pipeline.conf`
/// documents every key with its default. `kafka.*` keys are not listed: they pass through to
/// librdkafka unchanged.
public enum ConfigSchema {
  /// The sections of the documented file, in order: a title and its keys.
  public static let sections: [(title: String, keys: [ConfigKey])] = [
    ("Where events come from", input),
    (
      "librdkafka settings, passed through unchanged (librdkafka checks each kafka.* key)",
      kafkaDefaults
    ),
    ("The shape of an event", event),
    ("Joining clicks to impressions (event time)", label),
    ("Routing examples to domains: time window x region", domain),
    ("The frozen pre-trained backbone (trained only by `iak-stream pretrain`)", backbone),
    ("The IAK kernel: one information-bottleneck adapter per domain", iak),
    ("Streaming kernel training", train),
    ("Collapse, harm and drift detection", drift),
    ("Snapshots of all state and the Kafka offsets they cover", checkpoint),
    ("Publishing versioned kernels", publish),
    ("Prometheus metrics and health", metrics),
    ("Where alerts go", alert),
    ("Logging", log),
    ("Stopping", shutdown),
  ]

  /// Every known key except the `kafka.*` pass-through ones, in file order.
  public static let keys: [ConfigKey] = sections.flatMap(\.keys).filter { !isPassThrough($0.name) }

  /// Whether a key is handed to librdkafka unchanged (`kafka.*`).
  public static func isPassThrough(_ name: String) -> Bool { name.hasPrefix("kafka.") }

  /// Keys that are written in the default file and passed through to librdkafka.
  public static let kafkaDefaults: [ConfigKey] = [
    ConfigKey(
      "kafka.bootstrap.servers", .text, "127.0.0.1:9092",
      "Brokers to connect to (host:port, comma-separated); `iak-stream broker` prints its own"),
    ConfigKey(
      "kafka.partition.assignment.strategy", .text, "cooperative-sticky",
      "Consumer group assignor; cooperative-sticky moves only the partitions that must move"),
    ConfigKey(
      "kafka.queued.min.messages", .text, String(KafkaConsumer.queuedMinMessages),
      "Records prefetched (all partitions together) before librdkafka stops fetching for up"
        + " to a second; librdkafka's own 100,000 is less than a second of serve, which then"
        + " waits for records. kafka.queued.max.messages.kbytes (64 MB of values) bounds it too"),
  ]

  static let input: [ConfigKey] = [
    ConfigKey("input.source", .choice(["kafka", "file"]), "kafka", "Read from Kafka or a file"),
    ConfigKey("input.topics", .list, "iak-events", "Topics holding impression and click events"),
    ConfigKey("input.file", .text, "", "JSON-lines file read when input.source = file"),
    ConfigKey("input.group_id", .text, "iak-stream", "Kafka consumer group of `serve`"),
    ConfigKey(
      "input.start", .choice(["earliest", "latest"]), "earliest",
      "Where to start a partition that no snapshot covers"),
    ConfigKey(
      "input.dead_letter_topic", .text, "iak-dead-letters",
      "Topic receiving rejected events with their reason (empty = count and log only)"),
    ConfigKey(
      "input.queue_capacity", .integer(1...10_000_000), "20000",
      "Events held between the consumer and the trainer before the consumer pauses"),
    ConfigKey("input.poll_timeout", .duration, "100ms", "Longest wait for records in one poll"),
  ]

  static let event: [ConfigKey] = [
    ConfigKey("event.type_field", .text, "type", "Field naming the event type"),
    ConfigKey("event.impression_type", .text, "impression", "Type value of an impression"),
    ConfigKey("event.click_type", .text, "click", "Type value of a click"),
    ConfigKey("event.id_field", .text, "id", "Impression id (a click carries its impression's id)"),
    ConfigKey("event.time_field", .text, "ts", "Event time: epoch milliseconds or RFC 3339"),
    ConfigKey("event.label_field", .text, "click", "Optional pre-joined label on an impression"),
    ConfigKey("event.features_field", .text, "features", "Object of categorical/numeric features"),
    ConfigKey(
      "event.categorical_fields", .list, "user, item",
      "Top-level fields read as categorical features besides those under event.features_field"),
    ConfigKey(
      "event.synthetic_field", .text, "synthetic",
      "Optional flag marking generated (load-test) impressions"),
    ConfigKey("event.numeric_fields", .list, "", "Feature names that are numeric (not hashed)"),
    ConfigKey(
      "event.max_bytes", .size(ConfigKind.anySize), "64KiB",
      "Larger events are rejected as oversize"),
    ConfigKey("event.max_depth", .integer(1...64), "8", "Deeper JSON nesting is rejected"),
    ConfigKey(
      "event.max_future", .duration, "7d",
      "Events further ahead of their partition's clock, or in serve of the wall clock (never in "
        + "replay), are rejected as too_far_future; a lone outlier never moves the clock, 3 in a "
        + "row close together (data after a silence) do. 0 = no bound"),
    ConfigKey(
      "event.max_past", .duration, "30d",
      "Events further behind their partition's clock are rejected as too_far_past (they would "
        + "start domains of long-gone windows); a retired domain's last version is forgotten "
        + "once its period is that far behind (README, Running the service). 0 = no bound"),
  ]

  static let label: [ConfigKey] = [
    ConfigKey(
      "label.wait", .duration, "30m",
      "How long (event time) an impression waits for its click before it becomes a negative"),
    ConfigKey(
      "label.max_out_of_orderness", .duration, "5s",
      "How far event time may go backwards within a partition; the watermark lags by this"),
    ConfigKey(
      "label.max_pending", .integer(1...100_000_000), "1000000",
      "Impressions held waiting for clicks; beyond it the oldest expire first (counted)"),
    ConfigKey(
      "label.max_pending_bytes", .size((1 << 20)...(1 << 40)), "256MiB",
      "Bytes (estimated from their contents) the waiting impressions of one input partition may "
        + "hold, and as many its early clicks and remembered ids; beyond it the earliest deadline "
        + "is labelled negative at once, counted as evicted (iak_label_evictions_total"
        + "{reason=\"bytes\"}); an impression holding more on its own never waits. A waiting "
        + "impression keeps only the features the backbone reads"),
    ConfigKey(
      "label.release", .choice(["on_click", "in_order"]), "in_order",
      "When a clicked impression goes to training: at its click, or at the end of its wait like "
        + "the unclicked (impression order, no delayed-feedback bias, positives label.wait later); "
        + "label.mode = wait only"),
    ConfigKey(
      "label.mode", .choice(["wait", "fake_negative", "es_dfm"]), "wait",
      "How labels reach training (README, Delayed feedback): wait trains an impression once its "
        + "label is final (at its click or label.wait later); fake_negative trains it at once as "
        + "a negative and again as a positive when its click comes, with importance weights "
        + "(Ktena et al. 2019); es_dfm waits label.window, then trains it as a negative, and a "
        + "later click again as a positive, with weights from the domain's share of late clicks "
        + "(Yang et al. 2021). Serving-time figures always use the final labels. Not changeable "
        + "under a snapshot"),
    ConfigKey(
      "label.window", .duration, "5m",
      "label.mode = es_dfm: how long (event time) an impression waits for its click before it "
        + "trains as a negative; at most label.wait"),
  ]

  static let domain: [ConfigKey] = [
    ConfigKey(
      "domain.window", .text, "month",
      "Time window: `month`, `every 7d`, or daily slots `slots 06:00 10:00 tz=Asia/Shanghai`"),
    ConfigKey("domain.region_field", .text, "region", "Event field holding the region"),
    ConfigKey(
      "domain.region_map", .list, "",
      "Optional mapping of raw region values to areas, `raw:area` pairs (e.g. `0:east, 9:west`)"),
    ConfigKey(
      "domain.fallback_region", .text, "other", "Region of events with an unknown or missing one"
    ),
    ConfigKey(
      "domain.min_examples", .integer(0...1_000_000_000), "200",
      "Examples a kernel must see before it is active for serving"),
    ConfigKey(
      "domain.max_regions", .integer(1...100_000), "1000",
      "Distinct raw regions given their own domain; further ones go to the fallback region"),
    ConfigKey(
      "domain.max_domains", .integer(1...100_000), "2000",
      "Most domains held; bounds memory and metric label cardinality"),
    ConfigKey(
      "domain.max_new_per_day", .integer(1...1_000_000), "100",
      "New domains one input partition may start per day of its clock; further impressions "
        + "that would start one are rejected as new_domain_budget, so a burst cannot retire "
        + "live domains"),
  ]

  static let backbone: [ConfigKey] = [
    ConfigKey("backbone.dir", .text, "out/backbone", "model.safetensors + config.json"),
    ConfigKey(
      "backbone.fields", .list, "user, item, age, gender, occupation, genre, year",
      "Categorical fields, each hashed into its own embedding table"),
    ConfigKey("backbone.buckets", .integer(1...100_000_000), "20000", "Hash buckets per field"),
    ConfigKey("backbone.embedding_dim", .integer(1...1024), "16", "Embedding width per field"),
    ConfigKey("backbone.hidden", .list, "128, 64", "Widths of the MLP tower's hidden layers"),
    ConfigKey("backbone.hash_seed", .integer(0...Int.max), "0", "Seed of the feature hash"),
    ConfigKey(
      "backbone.epochs", .integer(1...1000), "3",
      "Most pretraining epochs; the held-out tail chooses how many the backbone gets"),
    ConfigKey(
      "backbone.learning_rate", .number(1e-7...1), "0.002", "Pretraining Adam learning rate"),
    ConfigKey("backbone.batch_size", .integer(1...65536), "64", "Pretraining batch size"),
    ConfigKey(
      "backbone.embedding_l2", .number(0...1), "0.00001",
      "L2 penalty on the embedding rows a pretraining batch touches"),
    ConfigKey(
      "backbone.validation_fraction", .number(0...0.9), "0.1",
      "Held-out tail (by time) used for validation and to choose the number of epochs"),
    ConfigKey(
      "backbone.refit", .boolean, "true",
      "Train the backbone again on every example, tail included, for the chosen epochs (its "
        + "validation figures are those of the run without the tail)"),
    ConfigKey("backbone.seed", .integer(0...Int.max), "1", "Seed for initialisation and shuffling"),
    ConfigKey(
      "backbone.until", .time, "1998-01-01T00:00:00Z",
      "Pretrain on events strictly before this time (empty = all)"),
  ]

  static let iak: [ConfigKey] = [
    ConfigKey(
      "iak.insert_at", .text, "last",
      "Layer the kernel adapts: `embedding`, `hidden1`..`hiddenL`, or `last` (the last hidden "
        + "layer; docs/experiments.md: the serving-time sweep)"),
    ConfigKey("iak.bottleneck", .integer(1...1024), "8", "Width k of z (k << layer width)"),
    ConfigKey(
      "iak.encoder_hidden", .integer(0...4096), "0", "Encoder hidden layer width (0 = none)"),
    ConfigKey("iak.beta", .number(0...100), "0.001", "Weight of the KL term"),
    ConfigKey(
      "iak.beta_warmup_steps", .integer(0...100_000_000), "100",
      "Optimiser steps over which beta ramps linearly from 0"),
    ConfigKey(
      "iak.active_unit_threshold", .number(0...100), "0.01",
      "Mean KL (nats) above which a bottleneck dimension counts as active"),
  ]

  static let train: [ConfigKey] = [
    ConfigKey(
      "train.batch_max", .integer(1...65536), "32",
      "A domain's batch closes at this many examples (docs/experiments.md: the serving-time "
        + "sweep)"),
    ConfigKey(
      "train.batch_max_wait", .duration, "10m",
      "...or when its oldest example is this old in event time, so quiet domains still learn"),
    ConfigKey(
      "train.close_at_checkpoint", .boolean, "false",
      "true: every checkpoint first closes and trains every open batch, so an example waits at "
        + "most one checkpoint.interval for its training (with label.mode = fake_negative: an "
        + "impression's kernel is published about one interval after it) even on a partition "
        + "that went quiet, whose event time stands still. The price: where batches end then depends on when checkpoints "
        + "ran, so a resumed or replayed run no longer trains bit-identical kernels (no record "
        + "is lost or trained twice all the same). false: batches end only at train.batch_max "
        + "and train.batch_max_wait, and replays are exact"),
    ConfigKey(
      "train.learning_rate", .number(0...1), "0.0003",
      "Adam learning rate at train.batch_max; smaller batches are scaled (train.lr_scaling). "
        + "Chosen with train.steps_per_batch by the serving-time sweep of docs/experiments.md: "
        + "no setting beat the backbone on the MovieLens 1998 stream, these harm it least"),
    ConfigKey(
      "train.lr_scaling", .choice(LearningRateScaling.allCases.map(\.rawValue)), "sqrt",
      "How the rate scales with a short batch: lr * (n / batch_max)^(1/2 | 1 | 0)"),
    ConfigKey(
      "train.steps_per_batch", .integer(1...1000), "1",
      "Optimiser steps on each batch, all after the batch was scored"),
    ConfigKey("train.seed", .integer(0...Int.max), "1", "Seed of every kernel's noise generator"),
    ConfigKey(
      "train.gradient_clip", .number(0...1e6), "5", "Clip each step's gradient norm (0 = off)"),
    ConfigKey(
      "train.mode", .choice(AdaptationMode.allCases.map(\.rawValue)), "kernel",
      "What streaming trains: IAK kernels; for experiments only, a per-domain output bias or "
        + "the whole backbone (full_fine_tuning)"),
    ConfigKey(
      "train.blas_threads", .integer(1...64), "1",
      "OpenBLAS threads (one per training thread: the batches are small)"),
    ConfigKey(
      "train.threads", .integer(0...256), "0",
      "Threads that train batches of different domains closing together, each on its own "
        + "engine, with kernels bit-identical to one thread's; 0 = the cores left after the "
        + "consumer thread (processor count - 1, at least 1); full_fine_tuning always uses 1; "
        + "above 1, OpenBLAS runs one thread per call (train.blas_threads is then ignored)"),
    ConfigKey(
      "train.frozen_rows", .integer(0...16_777_216), "65536",
      "Impressions whose frozen layers' output is kept from their serving score for their "
        + "batch, which then copies it instead of running those layers again (kernels are the "
        + "same bits either way); a row is found while fewer impressions than this were scored "
        + "after it; 0 keeps none; each row holds the representation's width plus 2 floats. "
        + "To find every row, give at least the impressions per second times label.wait (with "
        + "label.release = in_order every impression waits that long): at the default 65536 "
        + "and 30m, rows are found up to 36 impressions/s, and above it are computed again "
        + "on the training thread (iak_training_frozen_rows_total{source=\"computed\"}; "
        + "bench serve prints both cases)"),
    ConfigKey(
      "train.auc_window", .integer(10...10_000_000), "10000",
      "Examples in the sliding prequential AUC window"),
    ConfigKey(
      "train.proxy_decay", .number(0.0001...1), "0.05",
      "Weight of the newest batch in the exponentially weighted information proxies"),
  ]

  static let drift: [ConfigKey] = [
    ConfigKey(
      "drift.warmup_steps", .integer(0...100_000_000), "200",
      "Optimiser steps before collapse and harm detectors may fire"),
    ConfigKey(
      "drift.collapse_steps", .integer(1...100_000_000), "100",
      "Steps a collapse signal must hold before it fires"),
    ConfigKey(
      "drift.decoder_norm_threshold", .number(0...1), "0.0001",
      "Decoder output norm relative to h below which the kernel counts as the identity"),
    ConfigKey(
      "drift.mu_variance_threshold", .number(0...1), "0.000001",
      "Batch variance of mu below which every example maps to the same z"),
    ConfigKey(
      "drift.harm_window", .integer(10...10_000_000), "2000",
      "Newest examples on which the serving guard compares kernel and backbone at serving time "
        + "(paired: DeLong's AUC test and the log-loss difference); also the relevance proxies' "
        + "window"),
    ConfigKey(
      "drift.guard_min_examples", .integer(4...10_000_000), "200",
      "Serving-time examples a domain needs before the guard decides anything (until then "
        + "its kernel is shadowed: scored, not served)"),
    ConfigKey(
      "drift.guard_min_per_class", .integer(2...1_000_000), "20",
      "Clicks and non-clicks each the guard's window needs before it decides anything (below "
        + "about 1% click rate raise drift.harm_window so that it holds this many clicks, or the "
        + "kernel stays in shadow: `iak-stream bench guard` shows the trade)"),
    ConfigKey(
      "drift.guard_check_every", .integer(1...1_000_000), "50",
      "Examples of a domain between two guard comparisons"),
    ConfigKey(
      "drift.guard_auc_margin", .number(0...1), "0",
      "AUC by which the kernel's one-sided lower bound may trail the backbone's and still show "
        + "no harm (its point estimate must not trail at all); 0: it must show that it ranks at "
        + "least as well (with 0.005 the served MovieLens stream was 0.13 AUC points below the "
        + "backbone, with 0 0.03)"),
    ConfigKey(
      "drift.guard_logloss_margin", .number(0...10), "0.01",
      "The same for the log loss, as a share of the window's label entropy (so one value holds "
        + "from 0.1% to 60% click rate)"),
    ConfigKey(
      "drift.guard_on_z", .number(0...10), "2.326",
      "One-sided z of the bounds a shadowed kernel must pass to serve (2.326: 99%; compared "
        + "every drift.guard_check_every examples, 1.645 let a worse-ranking kernel serve now "
        + "and then at 0.5% click rate)"),
    ConfigKey(
      "drift.guard_confirm_z", .number(0...10), "1.282",
      "One-sided z of the bounds that confirm a shadowed kernel's first pass: it serves only "
        + "once the examples scored after that pass (at least drift.guard_min_examples) show no "
        + "harm on their own at this z (1.282: 90%). A single pass is one of many looks, and "
        + "on MovieLens every kernel let in by one then ranked worse than the backbone "
        + "(docs/served-analysis.md)"),
    ConfigKey(
      "drift.guard_off_z", .number(0...10), "2.326",
      "One-sided z at which a serving kernel significantly worse on AUC or log loss goes back "
        + "to shadow and harm fires (2.326: 99%)"),
    ConfigKey("drift.kl_runaway", .number(0...1e6), "10", "E[KL] (nats) above which z memorises"),
    ConfigKey(
      "drift.ph_delta", .number(0...10), "0.1",
      "Page-Hinkley tolerance, in standard deviations of the monitored signal"),
    ConfigKey(
      "drift.ph_lambda", .number(0...1e9), "80",
      "Page-Hinkley threshold on the cumulative standardised deviation (0 false alarms in 3 x "
        + "200k stable examples at click rates 0.01-0.55)"),
    ConfigKey(
      "drift.on_collapse", .choice(["alert", "reset", "rollback", "deactivate"]), "alert",
      "Action when a kernel collapses (see drift.on_harm)"),
    ConfigKey(
      "drift.on_harm", .choice(["alert", "reset", "rollback", "deactivate"]), "deactivate",
      "Action when a kernel hurts: deactivate (serving falls back to the backbone), reset (start "
        + "from zero), rollback (the newest retained version recorded healthy; reset if none); "
        + "published at the next checkpoint"),
  ]

  static let checkpoint: [ConfigKey] = [
    ConfigKey("checkpoint.dir", .text, "out/checkpoints", "Local snapshot store"),
    ConfigKey(
      "checkpoint.interval", .interval, "30s",
      "Snapshot every so long (`30s`) or every so many events (`50000 events`); a duration "
        + "runs from the start of one checkpoint to the start of the next, with at least half "
        + "of it between the end of one and the start of the next"),
    ConfigKey("checkpoint.keep", .integer(1...10000), "10", "Snapshots kept in the local store"),
    ConfigKey(
      "checkpoint.keep_previous_backbone", .boolean, "false",
      "true: a backbone switch keeps the state it leaves (kernels, batches, joiner, drift, as "
        + "at the switch records) in every snapshot and partition state, so that `iak-stream "
        + "upgrade --rollback` can switch back to it and catch it up on the records since; "
        + "snapshots hold two states until the next switch. false: a switch back starts its "
        + "kernels again (from zero or re-based)"),
    ConfigKey(
      "checkpoint.state_topic", .text, "iak-state",
      "Compacted topic holding per-partition state handed over on rebalance"),
    ConfigKey(
      "checkpoint.transactions", .boolean, "true",
      "With a state topic: write each partition's state, kernels and alerts in one Kafka transaction of a producer per partition, so the member that takes a partition over fences the one that had it"
    ),
    ConfigKey(
      "checkpoint.write_alongside", .boolean, "false",
      "With checkpoint.transactions: true writes the snapshot on a thread of its own while the "
        + "training thread encodes each partition's state for its transaction (no transaction "
        + "begins before the write is done). Each checkpoint then holds the training thread "
        + "about the write's time less (1.2-1.5 s at 2,000 domains, of which two busy cores "
        + "gave back about half), and its peak memory is about one snapshot higher: the "
        + "snapshot's tensors are still held while the states are encoded"),
  ]

  static let publish: [ConfigKey] = [
    ConfigKey("publish.topic", .text, "iak-kernels", "Compacted topic of published kernels"),
    ConfigKey(
      "publish.dir", .text, "",
      "Also write a file per kernel here, `<window>/<region>.safetensors` as the domain `1998-04/9` is `1998-04/9.safetensors` (empty = off); a retired domain's file is removed once its period is out of reach (event.max_past)"
    ),
    ConfigKey(
      "publish.create_topics", .boolean, "true",
      "Create the kernels, state, alerts and dead-letter topics when missing (compacted where "
        + "keyed by domain or partition)"),
  ]

  static let metrics: [ConfigKey] = [
    ConfigKey(
      "metrics.listen", .hostPort, "127.0.0.1:9464",
      "Address of /metrics and /healthz (loopback by default)"),
    ConfigKey("metrics.enabled", .boolean, "true", "Serve metrics and health over HTTP"),
    ConfigKey(
      "metrics.max_domains", .integer(1...100_000), "50",
      "Domains with their own `domain` label on the quality series (the most recently seen); "
        + "the others are aggregated under domain=\"_other\" (counts summed, AUC and log loss "
        + "of their pooled scores)"),
    ConfigKey(
      "metrics.silent_after", .duration, "1d",
      "Event time without an example after which a domain's iak_drift_active series are "
        + "removed, so the alerts of past windows resolve (its next example brings back those "
        + "still firing)"),
    ConfigKey(
      "health.max_lag", .integer(0...Int.max), "10000",
      "Consumer lag (events) above which /healthz reports not ready"),
    ConfigKey(
      "health.max_checkpoint_age", .duration, "5m",
      "How long checkpoints may fail in a row (a broker outage, a full disk) before /healthz "
        + "reports not ready"),
    ConfigKey(
      "health.max_broker_silence", .duration, "1m",
      "How long the cluster may not answer the consumer (asked every 5 s) before /healthz "
        + "reports not ready"),
  ]

  static let alert: [ConfigKey] = [
    ConfigKey("alert.topic", .text, "iak-alerts", "Topic receiving alert events as JSON"),
    ConfigKey(
      "alert.webhook", .text, "",
      "Optional Alertmanager-compatible webhook, an http:// URL (empty = off); posts never block "
        + "training"),
    ConfigKey(
      "alert.webhook_timeout", .duration, "5s",
      "Longest wait for one webhook attempt (connect, send, answer)"),
    ConfigKey(
      "alert.webhook_retries", .integer(0...10), "2",
      "Retries of a webhook post that timed out, could not connect or got 408, 429 or 5xx"),
    ConfigKey(
      "alert.webhook_min_severity", .choice(["info", "warning", "critical"]), "warning",
      "Least severe alerts posted: collapse and kl_runaway are warning, harm critical, data "
        + "drift and the collapse signals info"),
  ]

  static let log: [ConfigKey] = [
    ConfigKey(
      "log.level", .choice(["trace", "debug", "info", "warning", "error"]), "info",
      "Lowest level written"),
    ConfigKey(
      "log.format", .choice(["logfmt", "json"]), "logfmt",
      "logfmt (key=value) for people, json for machines; lines go to stderr"),
  ]

  static let shutdown: [ConfigKey] = [
    ConfigKey(
      "shutdown.timeout", .duration, "30s",
      "On SIGTERM: finish the batch, snapshot, publish and commit within this time")
  ]

  /// Looks up a known key.
  public static func key(named name: String) -> ConfigKey? { index[name] }

  private static let index: [String: ConfigKey] = Dictionary(
    uniqueKeysWithValues: keys.map { ($0.name, $0) })
}
