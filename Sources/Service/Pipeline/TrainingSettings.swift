/// The settings that shape the state a snapshot holds, as the snapshot records them
/// (`training_settings` in the manifest's extras, one `name=value` line each), and how a restore
/// compares them with the configured ones.
///
/// Some settings change what the stored state means (the event fields that feed the features,
/// the domain keys, the kernel's layout, the adaptation mode, the backbone's shape): a snapshot
/// written under other values cannot be continued, and restoring it is refused. The others
/// (batching, label wait, learning rate, beta, drift thresholds...) may be changed between runs;
/// each change is reported when the snapshot is restored.
struct TrainingSettings: Equatable {
  /// The manifest extras key.
  static let extrasKey = "training_settings"

  /// Settings whose change makes a snapshot's state mean something else.
  static let meaningKeys: Set<String> = [
    "event.type_field", "event.impression_type", "event.click_type", "event.id_field",
    "event.time_field", "event.label_field", "event.features_field", "event.categorical_fields",
    "event.synthetic_field", "event.numeric_fields",
    "domain.window", "domain.region_field", "domain.region_map", "domain.fallback_region",
    "backbone.fields", "backbone.buckets", "backbone.embedding_dim", "backbone.hidden",
    "backbone.hash_seed",
    "iak.insert_at", "iak.bottleneck", "iak.encoder_hidden",
    "train.mode", "label.mode",
  ]

  /// Settings of the training sections that do not touch the streaming state: pretraining's
  /// own, the backbone's folder (its sha256 is checked), the BLAS and training thread counts and
  /// the frozen rows kept (none changes a kernel's bits).
  static let ignoredKeys: Set<String> = [
    "backbone.dir", "backbone.epochs", "backbone.learning_rate", "backbone.batch_size",
    "backbone.validation_fraction", "backbone.refit", "backbone.seed", "backbone.until",
    "train.blas_threads", "train.threads", "train.frozen_rows",
  ]

  /// The recorded settings by name.
  var values: [String: String]

  /// The settings of `configuration` that shape training.
  init(_ configuration: Configuration) {
    let sections = ["event.", "label.", "domain.", "backbone.", "iak.", "train.", "drift."]
    var values: [String: String] = [:]
    for key in ConfigSchema.keys
    where sections.contains(where: { key.name.hasPrefix($0) })
      && !Self.ignoredKeys.contains(key.name)
    {
      values[key.name] = configuration.string(key.name)
    }
    // `last` is recorded as the layer it names, so a snapshot taken with `hidden2` continues
    // under `last` on a two-layer tower, and one taken with `hidden1` is refused by name.
    let settings = configuration.settings
    if values["iak.insert_at"] == "last" {
      values["iak.insert_at"] =
        settings.iak.insertAt.point(hiddenLayers: settings.backbone.hidden.count).description
    }
    self.values = values
  }

  /// Reads the settings a snapshot recorded; nil when it recorded none (written before they
  /// were recorded).
  init?(recorded text: String?) {
    guard let text else { return nil }
    var values: [String: String] = [:]
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
      guard let equals = line.firstIndex(of: "=") else { continue }
      values[String(line[..<equals])] = String(line[line.index(after: equals)...])
    }
    self.values = values
  }

  /// The settings as the snapshot records them: `name=value` lines in name order.
  var recorded: String {
    values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
  }

  /// One setting that differs.
  struct Change: Equatable, CustomStringConvertible {
    var name: String
    var recorded: String
    var configured: String

    /// Whether it changes what the stored state means.
    var changesMeaning: Bool { TrainingSettings.meaningKeys.contains(name) }

    var description: String {
      "\(name) '\(recorded)' -> '\(configured)'"
    }
  }

  /// What differs between `self` (recorded) and `configured`, by name. A setting known to only
  /// one of the two builds (added or removed since) is not a change.
  func changes(to configured: TrainingSettings) -> [Change] {
    values.keys.sorted().compactMap { name in
      guard let old = values[name], let new = configured.values[name], old != new else {
        return nil
      }
      return Change(name: name, recorded: old, configured: new)
    }
  }
}
