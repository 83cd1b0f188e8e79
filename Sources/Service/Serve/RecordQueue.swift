import Foundation
import Observability
import Stream

/// The hand-off between the consumer thread and the training thread: chunks of records, decoded
/// on the consumer thread, in arrival order, and requests that the training thread runs once
/// everything queued before them is trained.
///
/// It never drops a record: `append` always takes the chunk and tells the consumer how many
/// records wait, so the consumer stops polling at capacity (`waitForRoom`) until the training
/// thread has taken records out.
///
/// `@unchecked Sendable`: every stored property is read and written only while `condition` is
/// locked.
final class RecordQueue: @unchecked Sendable {
  /// One queued item.
  enum Item {
    /// Records polled together (decoded), and when they arrived.
    case records([DecodedRecord], arrivedAt: ContinuousClock.Instant)
    /// Work for the training thread at this point of the stream.
    case request(ServeRequest)
  }

  /// Records waiting above which the consumer pauses (`input.queue_capacity`).
  let capacity: Int
  private let condition = NSCondition()
  private var items: [Item] = []
  private var head = 0
  private var waitingRecords = 0

  /// Creates an empty queue pausing the consumer at `capacity` records.
  init(capacity: Int) { self.capacity = max(capacity, 1) }

  /// Records waiting to be trained.
  var count: Int {
    condition.lock()
    defer { condition.unlock() }
    return waitingRecords
  }

  /// Appends a chunk; returns the records now waiting.
  @discardableResult
  func append(_ records: [DecodedRecord], arrivedAt: ContinuousClock.Instant) -> Int {
    guard !records.isEmpty else { return count }
    condition.lock()
    defer { condition.unlock() }
    items.append(.records(records, arrivedAt: arrivedAt))
    waitingRecords += records.count
    condition.broadcast()
    return waitingRecords
  }

  /// Appends a request after everything queued so far.
  func submit(_ request: ServeRequest) {
    condition.lock()
    defer { condition.unlock() }
    items.append(.request(request))
    condition.broadcast()
  }

  /// Drops every queued chunk (their records were not trained, so no snapshot covers them and
  /// they are read again after a restart) and returns how many records were dropped.
  func discardRecords() -> Int {
    condition.lock()
    defer { condition.unlock() }
    let dropped = waitingRecords
    items = items[head...].filter {
      if case .request = $0 { return true }
      return false
    }
    head = 0
    waitingRecords = 0
    condition.broadcast()
    return dropped
  }

  /// The next item, waiting up to `timeout` for one.
  func next(timeout: Duration) -> Item? {
    let deadline = Date().addingTimeInterval(timeout.inSeconds)
    condition.lock()
    defer { condition.unlock() }
    while head == items.count {
      if !condition.wait(until: deadline) && head == items.count { return nil }
    }
    let item = items[head]
    if case .records(_, let arrivedAt) = item {
      // Let go of the chunk's records now: taken slots are only compacted once more than 1024
      // pile up, and keeping their records alive held up to a million of them (`bench soak`).
      items[head] = .records([], arrivedAt: arrivedAt)
    }
    head += 1
    if case .records(let records, _) = item {
      waitingRecords -= records.count
      // The consumer may be waiting for room.
      condition.broadcast()
    }
    if head > 1024 && head * 2 > items.count {
      items.removeFirst(head)
      head = 0
    }
    return item
  }

  /// The next item when it is a request (nothing is taken when records come first).
  func nextRequest() -> ServeRequest? {
    condition.lock()
    defer { condition.unlock() }
    guard head < items.count, case .request(let request) = items[head] else { return nil }
    head += 1
    return request
  }

  /// Waits up to `timeout` until fewer than `capacity` records wait; returns whether they do.
  func waitForRoom(timeout: Duration) -> Bool {
    let deadline = Date().addingTimeInterval(timeout.inSeconds)
    condition.lock()
    defer { condition.unlock() }
    while waitingRecords >= capacity {
      if !condition.wait(until: deadline) { return waitingRecords < capacity }
    }
    return true
  }
}
