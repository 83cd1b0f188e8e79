import Base

/// One labelled example as the Learner sees it: the pipeline converts decoded events into these.
public struct Example: Sendable, Equatable {
  /// The domain the example belongs to (time window x region), e.g. "1998-03/9".
  public var domain: String
  /// One value per categorical field of the backbone, in the backbone's field order; "" = missing.
  ///
  /// Missing trailing values are treated as "" and extra values are ignored.
  public var categorical: [String]
  /// One raw (unnormalised) value per numeric field of the backbone, in field order.
  ///
  /// Missing trailing values and non-finite values are treated as the field's mean.
  public var numeric: [Float]
  /// The label: 1 for a click (positive), 0 otherwise.
  public var label: Float
  /// Event time in milliseconds since the Unix epoch.
  public var eventTimeMs: Int64
  /// The event-time clock the example's batch follows: the input partition it came from. Batches
  /// wait `train.batch_max_wait` on their own lane's clock, so how partitions interleave never
  /// changes a kernel.
  public var lane: Int32
  /// What it was scored with when its impression arrived (serving-time evaluation), or nil when
  /// it was not scored then (the example then counts only in the training-time diagnostic).
  public var servingScore: ServingScore?
  /// Whether it trains, counts in the serving-time figures, or both: a delayed-feedback mode
  /// (`label.mode`) trains on importance-weighted `.train` copies and evaluates on `.evaluate`
  /// records (`Trainer`, "Delayed feedback").
  public var use: ExampleUse
  /// For a positive labelled by a click, how long after the impression the click came, in
  /// milliseconds; nil otherwise. Training copies of clicks feed their domain's delay counts.
  public var clickDelayMs: Int64?
  /// Whether this positive training copy corrects a provisional negative of its impression (a
  /// fake negative: its click came after the observation window).
  public var correctsProvisional: Bool
  /// The ticket to its impression's frozen layers' output, kept when it was scored
  /// (`ServingScore.frozenRow`), which its batch copies when it still finds it; `.none` makes
  /// the batch compute it. Never tells two examples apart (`FrozenRowTicket`).
  public var frozenRow: FrozenRowTicket = .none

  /// Creates an example.
  public init(
    domain: String, categorical: [String], numeric: [Float] = [], label: Float, eventTimeMs: Int64,
    lane: Int32 = 0, servingScore: ServingScore? = nil, use: ExampleUse = .trainAndEvaluate,
    clickDelayMs: Int64? = nil, correctsProvisional: Bool = false
  ) {
    self.domain = domain
    self.categorical = categorical
    self.numeric = numeric
    self.label = label
    self.eventTimeMs = eventTimeMs
    self.lane = lane
    self.servingScore = servingScore
    self.use = use
    self.clickDelayMs = clickDelayMs
    self.correctsProvisional = correctsProvisional
  }
}
