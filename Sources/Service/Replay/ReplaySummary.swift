import Base
import Learner

/// The JSON document `replay --summary` writes.
enum ReplaySummary {
  /// Per-domain figures at serving time, averaged over domains by their serving-time examples.
  static let servingKeys = [
    "auc", "backbone_auc", "served_auc", "logloss", "backbone_logloss", "served_logloss",
  ]
  /// The training-time diagnostic, averaged by examples trained on.
  static let trainingKeys = [
    "training_auc", "training_backbone_auc", "training_logloss", "training_backbone_logloss",
  ]

  static func document(of pipeline: Pipeline, snapshotVersion: Int?) -> String {
    let domains = pipeline.domainStatistics()
    var alertsByDomain: [String: [JSONValue]] = [:]
    for (index, event) in pipeline.alerts.enumerated() {
      let outcome = index < pipeline.alertOutcomes.count ? pipeline.alertOutcomes[index] : nil
      alertsByDomain[event.domain, default: []].append(
        RecordedAlert(event, outcome: outcome).json)
    }
    var perDomain: [String: JSONValue] = [:]
    var weighted: [String: Double] = [:]
    var weights: [String: Double] = [:]
    for (domain, row) in domains {
      var object = row.mapValues { JSONValue.double($0) }
      object["alerts"] = .array(alertsByDomain[domain] ?? [])
      perDomain[domain] = .sortedObject(object)
      // Serving-time figures (the headline) weigh by the examples scored at serving time, the
      // training-time diagnostic by every example trained on.
      let servingExamples = row["serving_examples"] ?? 0
      let examples = row["examples"] ?? 0
      for (keys, weight) in [(servingKeys, servingExamples), (trainingKeys, examples)] {
        for key in keys {
          guard let number = row[key], number.isFinite else { continue }
          weighted[key, default: 0] += number * weight
          weights[key, default: 0] += weight
        }
      }
    }
    let counts = pipeline.counts
    var overall: [String: JSONValue] = [
      "records": .int(counts.records), "rejected": .int(counts.rejected),
      "examples": .int(counts.examples), "positives": .int(counts.positives),
      "domains": .int(domains.count), "alerts": .int(pipeline.alerts.count),
    ]
    for (key, sum) in weighted where weights[key, default: 0] > 0 {
      // Example-weighted means of the per-domain figures (the pooled AUC across domains would
      // mix domains with different base rates).
      overall[key + "_mean_by_examples"] = .double(sum / weights[key]!)
    }
    let document = JSONValue.sortedObject([
      "schema": .string("iak-replay-summary/1"), "snapshot_version": .int(snapshotVersion ?? 0),
      "overall": .sortedObject(overall), "domains": .sortedObject(perDomain),
    ])
    return document.prettyText + "\n"
  }
}
