import Base
import Stream
import Synchronization

extension MockClusterFixture {
  /// What a test consumer has processed: records, the next offset per partition, rebalance events
  /// and commit errors, updated from the polling thread and its rebalance handler.
  final class ConsumerLedger: Sendable {
    private struct State {
      var records: [Record] = []
      var next: [TopicPartition: Int64] = [:]
      var events: [KafkaConsumer.RebalanceEvent] = []
      var commitErrors: [KafkaError] = []
    }
    private let state = Mutex(State())
    private let commitsEveryBatch: Bool

    init(commitsEveryBatch: Bool = false) { self.commitsEveryBatch = commitsEveryBatch }

    /// Records `batch` as processed; commits it right away if asked to.
    func process(_ batch: [Record], _ consumer: KafkaConsumer? = nil) {
      let next: [TopicPartition: Int64] = state.withLock { state in
        state.records += batch
        for record in batch { state.next[record.topicPartition] = record.offset + 1 }
        return state.next
      }
      guard commitsEveryBatch, !batch.isEmpty, let consumer else { return }
      do throws(KafkaError) {
        try consumer.commit(next.filter { consumer.assignment.contains($0.key) })
      } catch {
        state.withLock { $0.commitErrors.append(error) }
      }
    }

    /// A rebalance handler that commits what was processed of revoked partitions (not of lost ones).
    var handler: KafkaConsumer.RebalanceHandler {
      { [self] event, consumer in
        let offsets: [TopicPartition: Int64] = state.withLock { state in
          state.events.append(event)
          guard case .revoked(let partitions, isLost: false) = event else { return [:] }
          return state.next.filter { partitions.contains($0.key) }
        }
        do throws(KafkaError) {
          try consumer.commit(offsets)
        } catch {
          state.withLock { $0.commitErrors.append(error) }
        }
      }
    }

    var records: [Record] { state.withLock { $0.records } }
    var events: [KafkaConsumer.RebalanceEvent] { state.withLock { $0.events } }
    var commitErrors: [KafkaError] { state.withLock { $0.commitErrors } }
  }
}
