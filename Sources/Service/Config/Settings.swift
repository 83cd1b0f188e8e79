import Learner
import Observability
import Stream

/// Every setting of `pipeline.conf` as a typed value, in groups named after the key prefixes
/// (`train.batch_max` is `settings.train.batchMax`).
///
/// A `Configuration` builds its settings whenever a value is set, from values that were already
/// checked (`Configuration.set`), so reading one cannot fail and a typo in a key name is a
/// compile error at the reader. `Settings.keyNames` lists the schema keys the fields are read
/// from: a test checks that it covers `ConfigSchema.keys`.
public struct Settings: Sendable {
  /// Where events come from (`input.*`).
  public var input: Input
  /// The shape of an event (`event.*`).
  public var event: Event
  /// Joining clicks to impressions (`label.*`).
  public var label: Label
  /// Routing examples to domains (`domain.*`).
  public var domain: Domain
  /// The frozen pre-trained backbone (`backbone.*`).
  public var backbone: Backbone
  /// The IAK kernel (`iak.*`).
  public var iak: IAK
  /// Streaming kernel training (`train.*`).
  public var train: Train
  /// Collapse, harm and drift detection (`drift.*`).
  public var drift: Drift
  /// Snapshots (`checkpoint.*`).
  public var checkpoint: Checkpoint
  /// Publishing versioned kernels (`publish.*`).
  public var publish: Publish
  /// Prometheus metrics (`metrics.*`).
  public var metrics: Metrics
  /// Readiness thresholds (`health.*`).
  public var health: Health
  /// Where alerts go (`alert.*`).
  public var alert: Alert
  /// Logging (`log.*`).
  public var log: Log
  /// Stopping (`shutdown.*`).
  public var shutdown: Shutdown

  /// The settings of `values`, the checked text of every schema key.
  init(values: [String: String]) {
    var reader = SettingsReader(values)
    self.init(&reader)
  }

  private init(_ reader: inout SettingsReader) {
    input = Input(&reader)
    event = Event(&reader)
    label = Label(&reader)
    domain = Domain(&reader)
    backbone = Backbone(&reader)
    iak = IAK(&reader)
    train = Train(&reader)
    drift = Drift(&reader)
    checkpoint = Checkpoint(&reader)
    publish = Publish(&reader)
    metrics = Metrics(&reader)
    health = Health(&reader)
    alert = Alert(&reader)
    log = Log(&reader)
    shutdown = Shutdown(&reader)
  }

  /// The schema keys the typed fields are read from.
  public static let keyNames: [String] = {
    var reader = SettingsReader(
      Dictionary(uniqueKeysWithValues: ConfigSchema.keys.map { ($0.name, $0.defaultValue) }))
    _ = Settings(&reader)
    return reader.keysRead
  }()

  /// Where events come from.
  public struct Input: Sendable {
    /// Which reader `serve` uses.
    public enum Source: String, Sendable { case kafka, file }
    /// Where a partition no snapshot covers starts.
    public enum Start: String, Sendable { case earliest, latest }

    /// `input.source`.
    public var source: Source
    /// `input.topics`.
    public var topics: [String]
    /// `input.file`.
    public var file: String
    /// `input.group_id`.
    public var groupID: String
    /// `input.start`.
    public var start: Start
    /// `input.dead_letter_topic` (empty: none).
    public var deadLetterTopic: String
    /// `input.queue_capacity`.
    public var queueCapacity: Int
    /// `input.poll_timeout`.
    public var pollTimeout: Duration

    init(_ reader: inout SettingsReader) {
      source = reader.choice("input.source", as: Source.self)
      topics = reader.list("input.topics")
      file = reader.text("input.file")
      groupID = reader.text("input.group_id")
      start = reader.choice("input.start", as: Start.self)
      deadLetterTopic = reader.text("input.dead_letter_topic")
      queueCapacity = reader.int("input.queue_capacity")
      pollTimeout = reader.duration("input.poll_timeout")
    }
  }

  /// The shape of an event.
  public struct Event: Sendable {
    /// `event.type_field`.
    public var typeField: String
    /// `event.impression_type`.
    public var impressionType: String
    /// `event.click_type`.
    public var clickType: String
    /// `event.id_field`.
    public var idField: String
    /// `event.time_field`.
    public var timeField: String
    /// `event.label_field`.
    public var labelField: String
    /// `event.features_field`.
    public var featuresField: String
    /// `event.categorical_fields`.
    public var categoricalFields: [String]
    /// `event.synthetic_field`.
    public var syntheticField: String
    /// `event.numeric_fields`.
    public var numericFields: [String]
    /// `event.max_bytes`.
    public var maxBytes: Int
    /// `event.max_depth`.
    public var maxDepth: Int
    /// `event.max_future` (zero: no bound).
    public var maxFuture: Duration
    /// `event.max_past` (zero: no bound).
    public var maxPast: Duration

    init(_ reader: inout SettingsReader) {
      typeField = reader.text("event.type_field")
      impressionType = reader.text("event.impression_type")
      clickType = reader.text("event.click_type")
      idField = reader.text("event.id_field")
      timeField = reader.text("event.time_field")
      labelField = reader.text("event.label_field")
      featuresField = reader.text("event.features_field")
      categoricalFields = reader.list("event.categorical_fields")
      syntheticField = reader.text("event.synthetic_field")
      numericFields = reader.list("event.numeric_fields")
      maxBytes = reader.bytes("event.max_bytes")
      maxDepth = reader.int("event.max_depth")
      maxFuture = reader.duration("event.max_future")
      maxPast = reader.duration("event.max_past")
    }
  }

  /// Joining clicks to impressions.
  public struct Label: Sendable {
    /// When a clicked impression goes to training.
    public enum Release: String, Sendable {
      /// At its click.
      case onClick = "on_click"
      /// At the end of its wait, in impression order.
      case inOrder = "in_order"
    }

    /// `label.wait`.
    public var wait: Duration
    /// `label.max_out_of_orderness`.
    public var maxOutOfOrderness: Duration
    /// `label.max_pending`.
    public var maxPending: Int
    /// `label.max_pending_bytes`.
    public var maxPendingBytes: Int
    /// `label.release`.
    public var release: Release
    /// `label.mode`.
    public var mode: LabelJoiner.Mode
    /// `label.window`.
    public var window: Duration

    init(_ reader: inout SettingsReader) {
      wait = reader.duration("label.wait")
      maxOutOfOrderness = reader.duration("label.max_out_of_orderness")
      maxPending = reader.int("label.max_pending")
      maxPendingBytes = reader.bytes("label.max_pending_bytes")
      release = reader.choice("label.release", as: Release.self)
      mode = reader.choice("label.mode", as: LabelJoiner.Mode.self)
      window = reader.duration("label.window")
    }
  }

  /// Routing examples to domains.
  public struct Domain: Sendable {
    /// `domain.window`.
    public var window: DomainWindow
    /// `domain.region_field`.
    public var regionField: String
    /// `domain.region_map` (nil: none).
    public var regionMap: DomainRegionMap?
    /// `domain.fallback_region`.
    public var fallbackRegion: String
    /// `domain.min_examples`.
    public var minExamples: Int
    /// `domain.max_regions`.
    public var maxRegions: Int
    /// `domain.max_domains`.
    public var maxDomains: Int
    /// `domain.max_new_per_day`.
    public var maxNewPerDay: Int

    init(_ reader: inout SettingsReader) {
      window = reader.parsed("domain.window", Self.window)
      regionField = reader.text("domain.region_field")
      regionMap = reader.parsed("domain.region_map", Self.regionMap)
      fallbackRegion = reader.text("domain.fallback_region")
      minExamples = reader.int("domain.min_examples")
      maxRegions = reader.int("domain.max_regions")
      maxDomains = reader.int("domain.max_domains")
      maxNewPerDay = reader.int("domain.max_new_per_day")
    }

    /// The window `text` names; nil when it names none.
    static func window(_ text: String) -> DomainWindow? { try? DomainWindow(parsing: text) }

    /// The region map `text` lists (`.some(nil)` when empty); nil when it does not parse.
    static func regionMap(_ text: String) -> DomainRegionMap?? {
      let joined = ConfigValueParser.list(text).joined(separator: ",")
      if joined.isEmpty { return .some(nil) }
      guard let map = try? DomainRegionMap(parsing: joined) else { return nil }
      return .some(map)
    }
  }

  /// The frozen pre-trained backbone.
  public struct Backbone: Sendable {
    /// `backbone.dir`.
    public var dir: String
    /// `backbone.fields`.
    public var fields: [String]
    /// `backbone.buckets`.
    public var buckets: Int
    /// `backbone.embedding_dim`.
    public var embeddingDim: Int
    /// `backbone.hidden`: the widths of the hidden layers.
    public var hidden: [Int]
    /// `backbone.hash_seed`.
    public var hashSeed: Int
    /// `backbone.epochs`.
    public var epochs: Int
    /// `backbone.learning_rate`.
    public var learningRate: Double
    /// `backbone.batch_size`.
    public var batchSize: Int
    /// `backbone.embedding_l2`.
    public var embeddingL2: Double
    /// `backbone.validation_fraction`.
    public var validationFraction: Double
    /// `backbone.refit`.
    public var refit: Bool
    /// `backbone.seed`.
    public var seed: Int
    /// `backbone.until`, in epoch milliseconds (nil: every event).
    public var until: Int64?

    init(_ reader: inout SettingsReader) {
      dir = reader.text("backbone.dir")
      fields = reader.list("backbone.fields")
      buckets = reader.int("backbone.buckets")
      embeddingDim = reader.int("backbone.embedding_dim")
      hidden = reader.parsed("backbone.hidden", Self.widths)
      hashSeed = reader.int("backbone.hash_seed")
      epochs = reader.int("backbone.epochs")
      learningRate = reader.double("backbone.learning_rate")
      batchSize = reader.int("backbone.batch_size")
      embeddingL2 = reader.double("backbone.embedding_l2")
      validationFraction = reader.double("backbone.validation_fraction")
      refit = reader.bool("backbone.refit")
      seed = reader.int("backbone.seed")
      until = reader.parsed("backbone.until", Self.time)
    }

    /// The time `text` names (`.some(nil)` when empty); nil when it names none.
    static func time(_ text: String) -> Int64?? {
      if text.isEmpty { return .some(nil) }
      guard let milliseconds = TimeValue.milliseconds(text) else { return nil }
      return .some(milliseconds)
    }

    /// The positive widths `text` lists; nil when one is not a positive whole number.
    static func widths(_ text: String) -> [Int]? {
      var widths: [Int] = []
      for item in ConfigValueParser.list(text) {
        guard let width = Int(item), width > 0 else { return nil }
        widths.append(width)
      }
      return widths
    }
  }

  /// The IAK kernel.
  public struct IAK: Sendable {
    /// The layer `iak.insert_at` names.
    public enum InsertAt: Sendable, Equatable {
      /// A named layer: `embedding` or `hiddenN`.
      case layer(InsertionPoint)
      /// `last`: the last hidden layer of the tower (the embedding when it has none).
      case last

      /// Parses `embedding`, `hidden1`..`hiddenL` or `last`; nil for anything else.
      init?(name: String) {
        if name == "last" {
          self = .last
        } else if let point = InsertionPoint(name: name) {
          self = .layer(point)
        } else {
          return nil
        }
      }

      /// The layer this names on a tower of `hiddenLayers` hidden layers.
      public func point(hiddenLayers: Int) -> InsertionPoint {
        switch self {
        case .layer(let point): point
        case .last: hiddenLayers > 0 ? .hidden(hiddenLayers) : .embedding
        }
      }
    }

    /// `iak.insert_at`.
    public var insertAt: InsertAt
    /// `iak.bottleneck`.
    public var bottleneck: Int
    /// `iak.encoder_hidden`.
    public var encoderHidden: Int
    /// `iak.beta`.
    public var beta: Double
    /// `iak.beta_warmup_steps`.
    public var betaWarmupSteps: Int
    /// `iak.active_unit_threshold`.
    public var activeUnitThreshold: Double

    init(_ reader: inout SettingsReader) {
      insertAt = reader.parsed("iak.insert_at", InsertAt.init(name:))
      bottleneck = reader.int("iak.bottleneck")
      encoderHidden = reader.int("iak.encoder_hidden")
      beta = reader.double("iak.beta")
      betaWarmupSteps = reader.int("iak.beta_warmup_steps")
      activeUnitThreshold = reader.double("iak.active_unit_threshold")
    }
  }

  /// Streaming kernel training.
  public struct Train: Sendable {
    /// `train.batch_max`.
    public var batchMax: Int
    /// `train.batch_max_wait`.
    public var batchMaxWait: Duration
    /// `train.close_at_checkpoint`.
    public var closesAtCheckpoint: Bool
    /// `train.learning_rate`.
    public var learningRate: Double
    /// `train.lr_scaling`.
    public var learningRateScaling: LearningRateScaling
    /// `train.steps_per_batch`.
    public var stepsPerBatch: Int
    /// `train.seed`.
    public var seed: Int
    /// `train.gradient_clip`.
    public var gradientClip: Double
    /// `train.mode`.
    public var mode: AdaptationMode
    /// `train.blas_threads`.
    public var blasThreads: Int
    /// `train.threads` (0: the cores left after the consumer thread; see `trainingThreads`).
    public var threads: Int
    /// `train.frozen_rows`.
    public var frozenRows: Int
    /// `train.auc_window`.
    public var aucWindow: Int
    /// `train.proxy_decay`.
    public var proxyDecay: Double

    init(_ reader: inout SettingsReader) {
      batchMax = reader.int("train.batch_max")
      batchMaxWait = reader.duration("train.batch_max_wait")
      closesAtCheckpoint = reader.bool("train.close_at_checkpoint")
      learningRate = reader.double("train.learning_rate")
      learningRateScaling = reader.choice("train.lr_scaling", as: LearningRateScaling.self)
      stepsPerBatch = reader.int("train.steps_per_batch")
      seed = reader.int("train.seed")
      gradientClip = reader.double("train.gradient_clip")
      mode = reader.choice("train.mode", as: AdaptationMode.self)
      blasThreads = reader.int("train.blas_threads")
      threads = reader.int("train.threads")
      frozenRows = reader.int("train.frozen_rows")
      aucWindow = reader.int("train.auc_window")
      proxyDecay = reader.double("train.proxy_decay")
    }
  }

  /// Collapse, harm and drift detection.
  public struct Drift: Sendable {
    /// `drift.warmup_steps`.
    public var warmupSteps: Int
    /// `drift.collapse_steps`.
    public var collapseSteps: Int
    /// `drift.decoder_norm_threshold`.
    public var decoderNormThreshold: Double
    /// `drift.mu_variance_threshold`.
    public var muVarianceThreshold: Double
    /// `drift.harm_window`.
    public var harmWindow: Int
    /// `drift.guard_min_examples`.
    public var guardMinExamples: Int
    /// `drift.guard_min_per_class`.
    public var guardMinPerClass: Int
    /// `drift.guard_check_every`.
    public var guardCheckEvery: Int
    /// `drift.guard_auc_margin`.
    public var guardAUCMargin: Double
    /// `drift.guard_logloss_margin`.
    public var guardLogLossMargin: Double
    /// `drift.guard_on_z`.
    public var guardOnZ: Double
    /// `drift.guard_confirm_z`.
    public var guardConfirmZ: Double
    /// `drift.guard_off_z`.
    public var guardOffZ: Double
    /// `drift.kl_runaway`.
    public var klRunaway: Double
    /// `drift.ph_delta`.
    public var pageHinkleyDelta: Double
    /// `drift.ph_lambda`.
    public var pageHinkleyLambda: Double
    /// `drift.on_collapse`.
    public var onCollapse: DriftAction
    /// `drift.on_harm`.
    public var onHarm: DriftAction

    init(_ reader: inout SettingsReader) {
      warmupSteps = reader.int("drift.warmup_steps")
      collapseSteps = reader.int("drift.collapse_steps")
      decoderNormThreshold = reader.double("drift.decoder_norm_threshold")
      muVarianceThreshold = reader.double("drift.mu_variance_threshold")
      harmWindow = reader.int("drift.harm_window")
      guardMinExamples = reader.int("drift.guard_min_examples")
      guardMinPerClass = reader.int("drift.guard_min_per_class")
      guardCheckEvery = reader.int("drift.guard_check_every")
      guardAUCMargin = reader.double("drift.guard_auc_margin")
      guardLogLossMargin = reader.double("drift.guard_logloss_margin")
      guardOnZ = reader.double("drift.guard_on_z")
      guardConfirmZ = reader.double("drift.guard_confirm_z")
      guardOffZ = reader.double("drift.guard_off_z")
      klRunaway = reader.double("drift.kl_runaway")
      pageHinkleyDelta = reader.double("drift.ph_delta")
      pageHinkleyLambda = reader.double("drift.ph_lambda")
      onCollapse = reader.choice("drift.on_collapse", as: DriftAction.self)
      onHarm = reader.choice("drift.on_harm", as: DriftAction.self)
    }
  }

  /// Snapshots of all state.
  public struct Checkpoint: Sendable {
    /// `checkpoint.dir`.
    public var dir: String
    /// `checkpoint.interval`.
    public var interval: CheckpointInterval
    /// `checkpoint.keep`.
    public var keep: Int
    /// `checkpoint.keep_previous_backbone`.
    public var keepsPreviousBackbone: Bool
    /// `checkpoint.state_topic` (empty: none).
    public var stateTopic: String
    /// `checkpoint.transactions`.
    public var transactions: Bool
    /// `checkpoint.write_alongside`.
    public var writesAlongside: Bool

    init(_ reader: inout SettingsReader) {
      dir = reader.text("checkpoint.dir")
      interval = reader.parsed("checkpoint.interval", ConfigValueParser.interval)
      keep = reader.int("checkpoint.keep")
      keepsPreviousBackbone = reader.bool("checkpoint.keep_previous_backbone")
      stateTopic = reader.text("checkpoint.state_topic")
      transactions = reader.bool("checkpoint.transactions")
      writesAlongside = reader.bool("checkpoint.write_alongside")
    }
  }

  /// Publishing versioned kernels.
  public struct Publish: Sendable {
    /// `publish.topic`.
    public var topic: String
    /// `publish.dir` (empty: no files).
    public var dir: String
    /// `publish.create_topics`.
    public var createTopics: Bool

    init(_ reader: inout SettingsReader) {
      topic = reader.text("publish.topic")
      dir = reader.text("publish.dir")
      createTopics = reader.bool("publish.create_topics")
    }
  }

  /// Prometheus metrics.
  public struct Metrics: Sendable {
    /// `metrics.listen`.
    public var listen: HostPort
    /// `metrics.enabled`.
    public var enabled: Bool
    /// `metrics.max_domains`.
    public var maxDomains: Int
    /// `metrics.silent_after`.
    public var silentAfter: Duration

    init(_ reader: inout SettingsReader) {
      listen = reader.parsed("metrics.listen") {
        ConfigValueParser.hostPort($0).map { HostPort(host: $0.host, port: $0.port) }
      }
      enabled = reader.bool("metrics.enabled")
      maxDomains = reader.int("metrics.max_domains")
      silentAfter = reader.duration("metrics.silent_after")
    }
  }

  /// Readiness thresholds of `/healthz`.
  public struct Health: Sendable {
    /// `health.max_lag`.
    public var maxLag: Int
    /// `health.max_checkpoint_age`.
    public var maxCheckpointAge: Duration
    /// `health.max_broker_silence`.
    public var maxBrokerSilence: Duration

    init(_ reader: inout SettingsReader) {
      maxLag = reader.int("health.max_lag")
      maxCheckpointAge = reader.duration("health.max_checkpoint_age")
      maxBrokerSilence = reader.duration("health.max_broker_silence")
    }
  }

  /// Where alerts go.
  public struct Alert: Sendable {
    /// `alert.topic`.
    public var topic: String
    /// `alert.webhook` (empty: none); it may hold credentials.
    public var webhook: String
    /// `alert.webhook_timeout`.
    public var webhookTimeout: Duration
    /// `alert.webhook_retries`.
    public var webhookRetries: Int
    /// `alert.webhook_min_severity`.
    public var webhookMinSeverity: DriftSeverity

    init(_ reader: inout SettingsReader) {
      topic = reader.text("alert.topic")
      webhook = reader.text("alert.webhook")
      webhookTimeout = reader.duration("alert.webhook_timeout")
      webhookRetries = reader.int("alert.webhook_retries")
      webhookMinSeverity = reader.choice("alert.webhook_min_severity", as: DriftSeverity.self)
    }
  }

  /// Logging.
  public struct Log: Sendable {
    /// `log.level`.
    public var level: Logger.Level
    /// `log.format`.
    public var format: Logger.Format

    init(_ reader: inout SettingsReader) {
      level = reader.parsed("log.level", Logger.Level.init(name:))
      format = reader.choice("log.format", as: Logger.Format.self)
    }
  }

  /// Stopping.
  public struct Shutdown: Sendable {
    /// `shutdown.timeout`.
    public var timeout: Duration

    init(_ reader: inout SettingsReader) {
      timeout = reader.duration("shutdown.timeout")
    }
  }
}
