import Base
import Checkpoint
import Foundation
import Learner
import Stream

/// Moving one input partition's state in and out of a pipeline, for scale-out: a `serve`
/// process hands a partition over to the next owner through the state topic.
///
/// A partition owns the domains whose first example came from it (`Trainer.lane(of:)`, the
/// partition's lane in `InputLanes`); with the input keyed by region, each domain's examples all
/// come from one partition, so a partition's state is independent of every other's and moving it
/// changes no kernel.
extension Pipeline {
  /// sha256 of the settings that shape training (the `event`, `label`, `domain`, `backbone`
  /// but `backbone.dir`, `iak`, `train` and `drift` sections): instances of one group may keep
  /// their snapshots and metrics in different places, but must train alike.
  var trainingDigest: String {
    let sections = ["event.", "label.", "domain.", "backbone.", "iak.", "train.", "drift."]
    return digest(
      of: ConfigSchema.keys.filter { key in
        key.name != "backbone.dir" && sections.contains { key.name.hasPrefix($0) }
      })
  }

  /// Where a checkpoint hands partition states over
  /// (`checkpoint(createdAtMilliseconds:handOver:)`).
  public struct HandOver {
    /// The partitions whose states may go (those this process owns: a lost one may already be
    /// another member's, whose newer state must not be overwritten).
    public var partitions: Set<TopicPartition>
    /// Writes one partition's state; returns whether it is on the topic. A checkpoint hands
    /// the states over one at a time, so only one is built and encoded at once (~40 MB each at
    /// 2,000 domains on 4 partitions).
    public var write: (PartitionState) -> Bool
    /// Asks the consumer group whether this process still belongs to it
    /// (`RecordSource.confirmMembership(for:)`), after the local snapshot and before anything
    /// goes to a shared topic (partition states, kernels, deferred alerts); nil: not asked.
    /// A process paused past its session timeout may find, when it resumes, that its partitions
    /// are another member's: it must not write over that member's newer state.
    public var confirmMembership: (() throws -> Void)?
    /// With Kafka transactions (`checkpoint.transactions`): each owned partition's state, its
    /// domains' kernels and their alerts go in one transaction of the partition's own producer
    /// (`write` is then not used).
    public var transactional: Transactional?

    /// How a checkpoint writes inside a partition's transaction.
    public struct Transactional {
      /// Runs the body in one transaction of the partition's producer; commits when it returns.
      public var run: (TopicPartition, (KafkaProducer) throws -> Void) throws -> Void
      /// Writes one partition state, encoded, through the producer (inside `run`).
      public var writeState: (EncodedPartitionState, KafkaProducer) throws -> Void
      /// How many partitions' transactions run at once. Above 1, `run` and `writeState` are
      /// called from several threads at once (each partition from one), and must allow it.
      public var width: Int

      /// Creates the pair; `width` 1 runs the transactions one after another.
      public init(
        run: @escaping (TopicPartition, (KafkaProducer) throws -> Void) throws -> Void,
        writeState: @escaping (EncodedPartitionState, KafkaProducer) throws -> Void,
        width: Int = 1
      ) {
        self.run = run
        self.writeState = writeState
        self.width = width
      }
    }

    /// Hands the states of `partitions` to `write` (or, with `transactional`, to its
    /// transactions), once `confirmMembership` (if any) passed.
    public init(
      partitions: Set<TopicPartition>, confirmMembership: (() throws -> Void)? = nil,
      transactional: Transactional? = nil, write: @escaping (PartitionState) -> Bool
    ) {
      self.partitions = partitions
      self.confirmMembership = confirmMembership
      self.transactional = transactional
      self.write = write
    }
  }
}
