import Checkpoint
import Foundation
import Learner
import Stream
import Testing

@testable import Service

extension ChaosFixture {
  /// The examples each domain must have received once all of `topic` is read, worked out from
  /// the input alone with the joiner's rule (`label.release = in_order`, the default): an
  /// impression, clicked or not, becomes an example once its partition's watermark (the newest
  /// event time minus `label.max_out_of_orderness`, 5 s) passes its time plus `label.wait`
  /// (1 min). Its domain is the UTC day of its time (`domain.window = every 1d`) and its
  /// region.
  func expectedExamplesPerDomain(topic: String) throws -> [String: Int] {
    let records = try KafkaTopicReader.readAll(
      topic, configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers))
    struct Impression {
      var time: Int64
      var region: String
    }
    var impressions: [Int32: [String: Impression]] = [:]
    var newest: [Int32: Int64] = [:]
    for record in records {
      guard
        let object = try? JSONSerialization.jsonObject(with: Data(record.value))
          as? [String: Any],
        let type = object["type"] as? String, let id = object["id"] as? String,
        let time = (object["ts"] as? NSNumber)?.int64Value
      else { continue }
      let partition = record.topicPartition.partition
      newest[partition] = max(newest[partition] ?? .min, time)
      if type == "impression", let region = object["region"] as? String {
        impressions[partition, default: [:]][id] = Impression(time: time, region: region)
      }
    }
    let day = DateFormatter()
    day.dateFormat = "yyyy-MM-dd"
    day.timeZone = TimeZone(identifier: "UTC")
    var result: [String: Int] = [:]
    for (partition, byID) in impressions {
      let watermark = (newest[partition] ?? 0) - 5_000
      for impression in byID.values
      where impression.time + 60_000 < watermark {
        let date = day.string(from: Date(timeIntervalSince1970: Double(impression.time) / 1000))
        result["\(date)/\(impression.region)", default: 0] += 1
      }
    }
    return result
  }

  /// The examples each domain of `snapshot` received: scored and trained in closed batches plus
  /// waiting in its open batch.
  func examplesPerDomain(_ snapshot: Snapshot) throws -> [String: Int] {
    let configuration = try Configuration.load(
      path: nil, overrides: stride(from: 1, to: settings.count, by: 2).map { settings[$0] })
    let pipeline = try Pipeline(
      configuration: configuration, backbone: try Backbone.load(from: folder + "/bb"),
      backboneSHA256: "", store: nil, publisher: nil, alertEmitter: nil, deadLetters: nil,
      logger: .disabled, metrics: nil)
    try pipeline.restore(snapshot)
    var result: [String: Int] = [:]
    for domain in pipeline.trainer.domains {
      // A kernel's own `examplesSeen` counts its warm start's examples too; the domain's
      // prequential evaluation scored exactly the examples of its closed batches.
      result[domain] =
        (pipeline.trainer.evaluation(for: domain)?.adapted.count ?? 0)
        + pipeline.trainer.pendingExamples(for: domain).count
    }
    return result
  }

  /// The domains whose newest kernel on the kernels topic is not `snapshot`'s kernel (weights
  /// compared byte for byte), missing ones included.
  func domainsPublishedStale(comparedWith snapshot: Snapshot) throws -> [String] {
    let published = try publishedKernels()
    let view = SnapshotView(snapshot)
    var stale: [String] = []
    for domain in view.domains {
      let weights = try view.kernel(of: domain).weightTensors()
      guard let file = published[domain],
        weights.allSatisfy({ file.tensors[$0.key]?.bytes == $0.value.bytes })
      else {
        stale.append(domain)
        continue
      }
    }
    return stale
  }
}
