import Foundation
import Learner
import Observability
import Stream

/// The learner-only half of `bench serve`: the examples `serve` makes of the benchmark's
/// events (decoded, joined and routed beforehand, untimed), trained by a bare `Trainer` with
/// the same backbone and settings, with no Kafka, decoding, drift monitor or snapshots.
struct LearnerOnlyRun {
  /// One example and, for the first example of a rolling domain, the domain it warm-starts from.
  struct Item {
    /// The example.
    var example: Example
    /// The earlier domain of the same region, when the example opens a new domain.
    var warmFrom: String?
  }

  /// The examples, in the order `serve` trains each domain's.
  let items: [Item]
  private let backbone: Backbone
  private let kernelConfig: KernelConfig
  private let trainConfig: TrainConfig
  private let logger: Logger

  /// Loads the backbone and turns `events` into examples as the pipeline does.
  ///
  /// - Throws: `ServiceError` (`io`) when the backbone cannot be loaded, `ConfigError` for
  ///   unusable settings.
  init(
    configuration: Configuration, backbone directory: String, events: BenchEvents, logger: Logger
  )
    throws
  {
    do {
      backbone = try Backbone.load(from: directory)
    } catch {
      throw ServiceError(
        .io,
        "bench serve: cannot load the backbone from \(directory): \(error); pretrain one with "
          + "`iak-stream pretrain` or pass --backbone")
    }
    kernelConfig = try configuration.kernelConfig()
    trainConfig = configuration.trainConfig
    self.logger = logger
    var ingest = try EventIngest(
      schema: configuration.eventSchema, joiner: configuration.joinerConfiguration,
      router: try configuration.routerConfiguration(), metrics: nil)
    let assembler = ExampleAssembler(backbone: backbone.config)
    var routed: [EventIngest.Routed] = []
    var items: [Item] = []
    for event in events.events {
      do throws(EventRejection) {
        try ingest.ingest(event.value, partition: event.partition, into: &routed)
      } catch {
        continue
      }
      for labelled in routed {
        let route = labelled.route
        let domain = route.domain.description
        items.append(
          Item(
            example: assembler.example(
              for: labelled.impression, label: labelled.label, domain: domain,
              lane: labelled.partition),
            warmFrom: route.isNew ? route.parent?.description : nil))
      }
      routed.removeAll(keepingCapacity: true)
    }
    self.items = items
  }

  /// What one learner-only run measured.
  struct Outcome {
    /// Training threads (`train.threads`, as the trainer used them).
    var threads: Int
    /// Wall time of the run.
    var seconds: Double
    /// Batches closed.
    var batches: Int
    /// Of which closed by a call that closed two or more (time-outs of several domains at
    /// once): the only ones that train at once with `train.threads` > 1.
    var batchesClosedTogether: Int
    /// Batches whose domain differs from the batch closed just before: the most batches a
    /// trainer could start before the previous one ends, since one domain's batches train in
    /// turn.
    var domainChanges: Int
  }

  /// Trains every example with a fresh trainer on `threads` training threads and returns what
  /// it measured.
  ///
  /// - Throws: `LearnerError` when the settings do not fit the backbone.
  func train(threads: Int) throws -> Outcome {
    var config = trainConfig
    config.threads = threads
    let trainer = try Trainer(
      backbone: backbone, kernelConfig: kernelConfig, config: config, logger: logger)
    var batches = 0
    var together = 0
    var changes = 0
    var previous: String?
    let clock = ContinuousClock()
    let start = clock.now
    for item in items {
      let domain = item.example.domain
      if let parent = item.warmFrom, trainer.kernel(for: parent) != nil,
        trainer.kernel(for: domain) == nil
      {
        trainer.startDomain(domain, warmFrom: parent)
      }
      let reports = trainer.process(item.example)
      batches += reports.count
      if reports.count > 1 { together += reports.count }
      for report in reports where report.domain != previous {
        changes += 1
        previous = report.domain
      }
    }
    return Outcome(
      threads: config.effectiveThreads, seconds: (clock.now - start).inSeconds, batches: batches,
      batchesClosedTogether: together, domainChanges: changes)
  }
}
