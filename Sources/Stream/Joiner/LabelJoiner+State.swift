import Base

extension LabelJoiner {
  /// Everything a joiner holds, as plain arrays, for snapshots; `LabelJoiner(restoring:)` takes it
  /// back. Arrays are in a canonical order, so equal joiners export equal states.
  public struct State: Sendable, Equatable {
    /// One entry per partition the joiner has seen, sorted by partition.
    public var partitions: [PartitionState]
    /// Running totals.
    public var counts: Counts

    /// Creates a state.
    public init(partitions: [PartitionState] = [], counts: Counts = Counts()) {
      self.partitions = partitions
      self.counts = counts
    }
  }

  /// The joiner's memory for one partition.
  public struct PartitionState: Sendable, Equatable {
    /// The partition.
    public var partition: Int32
    /// The largest event time seen (`Int64.min` before the first event).
    public var maxEventTimeMilliseconds: Int64
    /// The sequence number the next stored entry gets.
    public var nextSequence: UInt64
    /// Impressions waiting for their click, in arrival order.
    public var pending: [PendingImpression]
    /// Clicks that arrived before their impression, in arrival order.
    public var earlyClicks: [EarlyClick]
    /// Recently labelled impression ids, oldest first, to tell duplicate from late clicks.
    public var resolved: [ResolvedImpression]
    /// The times of the newest events (admitted or not), oldest first: the memory that lets
    /// `admitTime` tell a lone outlier from a clock that really moved.
    public var recentEventTimesMilliseconds: [Int64]
    /// Whether an event admitted after the one that set the clock bore it out (only a clock
    /// that none did may move back).
    public var isClockConfirmed: Bool
    /// The day of the partition's clock (days since the epoch) that `newDomains` counts for
    /// (`Int64.min` before the first new domain).
    public var newDomainDay: Int64
    /// The domains the partition started in `newDomainDay`, sorted.
    public var newDomains: [String]

    /// Creates a partition's state.
    public init(
      partition: Int32, maxEventTimeMilliseconds: Int64 = .min, nextSequence: UInt64 = 0,
      pending: [PendingImpression] = [], earlyClicks: [EarlyClick] = [],
      resolved: [ResolvedImpression] = [], recentEventTimesMilliseconds: [Int64] = [],
      isClockConfirmed: Bool = false, newDomainDay: Int64 = .min, newDomains: [String] = []
    ) {
      self.partition = partition
      self.maxEventTimeMilliseconds = maxEventTimeMilliseconds
      self.nextSequence = nextSequence
      self.pending = pending
      self.earlyClicks = earlyClicks
      self.resolved = resolved
      self.recentEventTimesMilliseconds = recentEventTimesMilliseconds
      self.isClockConfirmed = isClockConfirmed
      self.newDomainDay = newDomainDay
      self.newDomains = newDomains
    }
  }

  /// An impression waiting for its click.
  public struct PendingImpression: Sendable, Equatable {
    /// The impression; its `label` is true once its click came while it is held for release in
    /// impression order.
    public var impression: Event {
      didSet { heldBytes = Self.heldBytes(of: impression) }
    }
    /// The memory it holds (`heldBytes(of:)` of its impression), computed when the impression
    /// is set: the joiner reads it as the impression arrives, waits and leaves, three times.
    public private(set) var heldBytes: Int
    /// The event time after which, once the watermark passes it, it becomes a negative.
    public var deadlineMilliseconds: Int64
    /// Arrival order within the partition; breaks ties between equal deadlines.
    public var sequence: UInt64
    /// What it was scored with when it arrived (nil when the caller scored nothing).
    public var score: ServingScore?
    /// Whether a delayed-feedback mode already sent it to training as a provisional negative
    /// (it then waits only for a click that corrects it, until `deadlineMilliseconds`).
    public var isProvisional: Bool
    /// How long after the impression its click came, for an impression held clicked until its
    /// deadline (`label.release = in_order`); nil otherwise.
    public var clickDelayMilliseconds: Int64?

    /// Creates a pending impression.
    public init(
      impression: Event, deadlineMilliseconds: Int64, sequence: UInt64,
      score: ServingScore? = nil, isProvisional: Bool = false,
      clickDelayMilliseconds: Int64? = nil
    ) {
      self.impression = impression
      heldBytes = Self.heldBytes(of: impression)
      self.deadlineMilliseconds = deadlineMilliseconds
      self.sequence = sequence
      self.score = score
      self.isProvisional = isProvisional
      self.clickDelayMilliseconds = clickDelayMilliseconds
    }
  }

  /// A click kept until its impression arrives or the watermark passes it.
  public struct EarlyClick: Sendable, Equatable {
    /// The id of the impression it clicks.
    public var impressionID: String
    /// The click's event time.
    public var timeMilliseconds: Int64
    /// Arrival order within the partition.
    public var sequence: UInt64

    /// Creates an early click.
    public init(impressionID: String, timeMilliseconds: Int64, sequence: UInt64) {
      self.impressionID = impressionID
      self.timeMilliseconds = timeMilliseconds
      self.sequence = sequence
    }
  }

  /// An impression already labelled, remembered for a while to classify later clicks on it.
  public struct ResolvedImpression: Sendable, Equatable {
    /// The impression id.
    public var impressionID: String
    /// Whether it was labelled positive (a later click is a duplicate) or not (a late click).
    public var wasClicked: Bool
    /// When the watermark passes this time the id is forgotten.
    public var forgetAtMilliseconds: Int64

    /// Creates a resolved entry.
    public init(impressionID: String, wasClicked: Bool, forgetAtMilliseconds: Int64) {
      self.impressionID = impressionID
      self.wasClicked = wasClicked
      self.forgetAtMilliseconds = forgetAtMilliseconds
    }
  }

  /// Running totals of what the joiner did.
  public struct Counts: Sendable, Equatable {
    /// Impressions labelled positive by a click.
    public var clicked = 0
    /// Impressions labelled negative because their wait expired.
    public var expired = 0
    /// Impressions labelled negative early because `maxPending` or `maxPendingBytes` was
    /// reached.
    public var evicted = 0
    /// Impressions that carried their own label and passed straight through.
    public var preLabelled = 0
    /// Impressions whose id was already pending; the second copy is dropped.
    public var duplicateImpressions = 0
    /// Clicks on an impression already labelled positive (or pre-labelled), or repeated early.
    public var duplicateClicks = 0
    /// Clicks after their impression's wait, or older than the watermark with no impression.
    public var lateClicks = 0
    /// Clicks kept early whose impression never came before the watermark passed them.
    public var orphanClicks = 0
    /// Early clicks dropped because `maxPending` early clicks, or `maxPendingBytes` of them, were
    /// already kept (or the click alone would hold more).
    public var overflowClicks = 0
    /// Impressions a delayed-feedback mode sent to training as provisional negatives.
    public var provisional = 0
    /// Of those, the ones whose click came later (trained again as positives).
    public var fakeNegatives = 0

    /// Creates zero counts.
    public init() {}
  }
}
