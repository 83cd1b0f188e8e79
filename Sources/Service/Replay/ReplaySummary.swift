import Foundation
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
    var alertsByDomain: [String: [[String: Any]]] = [:]
    for (index, event) in pipeline.alerts.enumerated() {
      let outcome = index < pipeline.alertOutcomes.count ? pipeline.alertOutcomes[index] : nil
      alertsByDomain[event.domain, default: []].append(
        RecordedAlert(event, outcome: outcome).jsonObject)
    }
    var perDomain: [String: Any] = [:]
    var weighted: [String: Double] = [:]
    var weights: [String: Double] = [:]
    for (domain, value) in domains {
      guard var row = value as? [String: Any] else { continue }
      row["alerts"] = alertsByDomain[domain] ?? []
      perDomain[domain] = row
      // Serving-time figures (the headline) weigh by the examples scored at serving time, the
      // training-time diagnostic by every example trained on.
      let servingExamples = Double(row["serving_examples"] as? Int ?? 0)
      let examples = Double(row["examples"] as? Int ?? 0)
      for key in servingKeys {
        if let number = row[key] as? Double {
          weighted[key, default: 0] += number * servingExamples
          weights[key, default: 0] += servingExamples
        }
      }
      for key in trainingKeys {
        if let number = row[key] as? Double {
          weighted[key, default: 0] += number * examples
          weights[key, default: 0] += examples
        }
      }
    }
    let counts = pipeline.counts
    var overall: [String: Any] = [
      "records": counts.records, "rejected": counts.rejected, "examples": counts.examples,
      "positives": counts.positives, "domains": domains.count, "alerts": pipeline.alerts.count,
    ]
    for (key, sum) in weighted where weights[key, default: 0] > 0 {
      let total = weights[key]!
      // Example-weighted means of the per-domain figures (the pooled AUC across domains would
      // mix domains with different base rates).
      overall[key + "_mean_by_examples"] = sum / total
    }
    let document: [String: Any] = [
      "schema": "iak-replay-summary/1", "snapshot_version": snapshotVersion ?? 0,
      "overall": overall, "domains": perDomain,
    ]
    let data =
      (try? JSONSerialization.data(
        withJSONObject: document, options: [.sortedKeys, .prettyPrinted])) ?? Data()
    return String(decoding: data, as: UTF8.self) + "\n"
  }
}
