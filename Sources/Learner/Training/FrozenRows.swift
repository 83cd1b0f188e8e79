import Base
import Synchronization

/// The frozen layers' output of the impressions scored recently (`Trainer.servingScore`): each
/// impression's representation at the insertion point, kept so that its batch, when its label
/// closes one, copies it instead of running the frozen layers below the kernel again.
///
/// A kept row is exactly what the training engine's `prepare` would compute for the example:
/// both run those layers row by row (`BLAS.multiplyRowByRow`) on the same features with the
/// same backbone. So whether a row is found here or computed again never changes a bit of any
/// kernel; only the time differs. A row is found through the `ServingScore.frozenRow` ticket
/// its score carries: a ring of `capacity` slots, where the newest row takes the slot of the one
/// `capacity` rows older, and a ticket whose slot was taken since (or that another ring, an
/// earlier trainer or another process issued, or that a snapshot dropped) finds nothing: its row
/// is computed again. A ticket holds the ring's number in the process and the row's sequence in
/// it, so no ticket ever finds another impression's row.
///
/// Memory: `capacity` x width floats and one stamp per slot, allocated at the first row kept.
/// Not thread-safe: one trainer owns it; training threads read it while the trainer waits.
final class FrozenRows {
  /// Floats in a representation.
  let width: Int
  /// Rows kept at most.
  let capacity: Int
  private var representations: UnsafeMutablePointer<Float>?
  private var stamps: UnsafeMutablePointer<UInt64>?

  /// This ring's number in the process, in a ticket's top 24 bits, taken at the first row kept
  /// (a trainer that never scores takes none); a new one when `sequence` runs out.
  private var ring: UInt64 = 0
  /// Rows kept under `ring`, in a ticket's low 40 bits; a row's slot is its sequence modulo
  /// `capacity`.
  private var sequence: UInt64 = 0
  private static let sequenceBits: UInt64 = 40
  /// The next ring number in this process (from 1, so that no ticket is 0).
  private static let nextRing = Atomic<UInt64>(1)

  private static func newRing() -> UInt64 {
    let ring = nextRing.wrappingAdd(1, ordering: .relaxed).oldValue
    precondition(ring < 1 << (64 - sequenceBits), "more than 2^24 frozen-row rings in a process")
    return ring
  }

  /// A ring of `capacity` rows of `width` floats; 0 keeps nothing.
  init(width: Int, capacity: Int) {
    precondition(width > 0 && capacity >= 0, "a ring of \(capacity) rows of \(width) floats")
    self.width = width
    self.capacity = capacity
  }

  deinit {
    representations?.deallocate()
    stamps?.deallocate()
  }

  /// Bytes held (zero until the first row is kept).
  var heldBytes: Int {
    representations == nil
      ? 0 : capacity * (width * MemoryLayout<Float>.stride + MemoryLayout<UInt64>.stride)
  }

  /// Keeps `representation` (`width` floats) and returns the ticket that finds it; 0 (no
  /// ticket) when the ring keeps nothing.
  func keep(_ representation: UnsafePointer<Float>) -> FrozenRowTicket {
    guard capacity > 0 else { return .none }
    if stamps == nil { allocate() }
    sequence += 1
    if sequence == 1 << Self.sequenceBits {
      ring = Self.newRing()
      sequence = 1
    }
    let ticket = (ring << Self.sequenceBits) | sequence
    let slot = Int(sequence % UInt64(capacity))
    (representations! + slot * width).update(from: representation, count: width)
    stamps![slot] = ticket
    return FrozenRowTicket(ticket)
  }

  /// Copies the row in `slot` (`slot(of:)`) into `representation`. Reads only, so several
  /// training threads may copy at once.
  func copy(slot: Int, into representation: UnsafeMutablePointer<Float>) {
    representation.update(from: representations! + slot * width, count: width)
  }

  /// The slot still holding `ticket`'s row, if any.
  func slot(of ticket: FrozenRowTicket) -> Int? {
    let ticket = ticket.value
    guard ticket != 0, capacity > 0, let stamps else { return nil }
    let slot = Int((ticket & (1 << Self.sequenceBits - 1)) % UInt64(capacity))
    return stamps[slot] == ticket ? slot : nil
  }

  private func allocate() {
    ring = Self.newRing()
    representations = .allocate(capacity: capacity * width)
    representations!.initialize(repeating: 0, count: capacity * width)
    stamps = .allocate(capacity: capacity)
    stamps!.initialize(repeating: 0, count: capacity)
  }
}
