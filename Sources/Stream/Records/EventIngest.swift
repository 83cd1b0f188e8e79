import Base
import Observability

/// The front half of the pipeline for one consumer: decode each record, join clicks to
/// impressions per partition in event time, and route every labelled impression to its domain.
///
/// A record that does not decode is returned to the caller as an `EventRejection` (for the
/// dead-letter topic) and never reaches the joiner. Its state (joiner and router) exports as
/// bytes for snapshots.
public struct EventIngest {
  /// A labelled impression with its domain.
  public struct Routed: Sendable, Equatable {
    /// The impression.
    public var impression: Event
    /// Whether it was clicked.
    public var label: Bool
    /// Its domain.
    public var route: DomainRouter.Route
    /// The partition it came from (the caller's number for it, unique across topics): the
    /// event-time clock its domain's batches follow.
    public var partition: Int32
    /// What it was scored with when it arrived (nil when the caller scored nothing, and on the
    /// training copies of a delayed-feedback mode).
    public var score: ServingScore? = nil
    /// Whether it trains, counts in the serving-time figures, or both (`label.mode`).
    public var use: ExampleUse = .trainAndEvaluate
    /// For a positive labelled by a click, how long after the impression the click came.
    public var clickDelayMilliseconds: Int64? = nil
    /// Whether this positive training copy corrects a provisional negative (a fake negative).
    public var correctsProvisional = false
    /// The ticket to the impression's frozen layers' output (`FrozenRowTicket`).
    public var frozenRow = FrozenRowTicket.none
  }

  /// The decoder the bytes-taking `ingest(_:partition:into:)` reads values with. It is
  /// `Sendable`: another thread may decode records ahead with it (`EventDecoder.decodeAhead(_:)`)
  /// for the event-taking `ingest(_:partition:into:)`.
  public let decoder: EventDecoder
  let joinerConfiguration: LabelJoiner.Configuration
  let metrics: MetricsRegistry?
  var joiner: LabelJoiner
  var router: DomainRouter
  private var labelled: [LabelJoiner.LabelledExample] = []

  /// Creates an ingest stage with empty state.
  ///
  /// - Throws: `DomainSpecError` when the router's settings are unusable.
  public init(
    schema: EventSchema, joiner: LabelJoiner.Configuration, router: DomainRouter.Configuration,
    metrics: MetricsRegistry?
  ) throws(DomainSpecError) {
    decoder = EventDecoder(schema: schema, metrics: metrics ?? MetricsRegistry())
    var joiner = joiner
    // The router reads the region feature of a labelled impression: it is kept too.
    if let feature = router.regionFeature { joiner.keptFeatures?.insert(feature) }
    joinerConfiguration = joiner
    self.metrics = metrics
    self.joiner = LabelJoiner(configuration: joiner, metrics: metrics)
    self.router = try DomainRouter(configuration: router, metrics: metrics)
  }

  /// Takes one record and appends every impression it completes, routed, to `output`.
  ///
  /// - Throws: `EventRejection` when the record's value is not a valid event.
  public mutating func ingest(
    _ value: [UInt8], partition: Int32, into output: inout [Routed]
  ) throws(EventRejection) {
    ingest(try decoder.decode(value), partition: partition, into: &output)
  }

  /// Takes one event decoded beforehand (see `decoder`) and appends every impression it
  /// completes, routed, to `output`; exactly what `ingest(_:partition:into:)` does after decoding.
  /// An impression keeps `score` (what it was scored with on arrival) until it leaves labelled.
  public mutating func ingest(
    _ event: Event, partition: Int32, score: ServingScore? = nil, into output: inout [Routed]
  ) {
    joiner.process(event, partition: partition, score: score, into: &labelled)
    route(into: &output)
  }

  /// Decides whether a decoded `event` of `partition` may be ingested: nil when it may, else
  /// why not (the caller sends its record to the dead-letter topic). It is refused when its time
  /// is too far from its partition's clock (`LabelJoiner.admitTime`; with
  /// `wallClockMilliseconds`, live input, also ahead of the wall clock), or when it is an
  /// impression that would start a new domain after its partition started
  /// `domain.max_new_per_day` of them in the current day of its clock
  /// (`LabelJoiner.admitNewDomain`). What it remembers is part of the joiner's state.
  public mutating func admit(
    _ event: Event, partition: Int32, wallClockMilliseconds: Int64? = nil
  ) -> EventRejection.Reason? {
    if let reason = joiner.admitTime(
      of: event, partition: partition, wallClockMilliseconds: wallClockMilliseconds)
    {
      return reason
    }
    guard event.kind == .impression,
      joinerConfiguration.maxNewDomainsPerDay < .max,
      let name = router.newDomainName(of: event)
    else { return nil }
    return joiner.admitNewDomain(
      name, partition: partition, timeMilliseconds: event.timeMilliseconds)
      ? nil : .newDomainBudget
  }

  /// Counts a record decoded ahead (`EventDecoder.count(_:)`). Mutating so that a caller
  /// holding the ingest in a property reaches the decoder in place: through
  /// `ingest.decoder.count(_:)` each record copied the decoder, its schema and metrics
  /// (retained and released; about 1% of `serve`'s training thread).
  public mutating func count(_ outcome: DecodedRecord.Outcome) {
    decoder.count(outcome)
  }

  /// Decodes and counts one record's value (`EventDecoder.decode(_:)`), in place as
  /// `count(_:)`.
  ///
  /// - Throws: `EventRejection` naming the reason, field and byte offset.
  public mutating func decode(_ value: [UInt8]) throws(EventRejection) -> Event {
    try decoder.decode(value)
  }

  /// Counts an event refused after decoding (`EventDecoder.countRejection(_:)`), in place as
  /// `count(_:)`.
  public mutating func countRejection(_ reason: EventRejection.Reason) {
    decoder.countRejection(reason)
  }

  /// The known domain an arriving impression belongs to, if any (`DomainRouter.knownDomain`),
  /// so the caller can score it with that domain's kernel as it now stands.
  public mutating func knownDomain(of event: Event) -> DomainKey? {
    router.knownDomain(of: event)
  }

  /// Expires every waiting impression (end of a bounded input) and routes them.
  public mutating func flush(into output: inout [Routed]) {
    joiner.flush(into: &labelled)
    route(into: &output)
  }

  private mutating func route(into output: inout [Routed]) {
    for example in labelled {
      output.append(
        Routed(
          impression: example.impression, label: example.label,
          route: router.route(example.impression), partition: example.partition,
          score: example.score, use: example.use,
          clickDelayMilliseconds: example.clickDelayMilliseconds,
          correctsProvisional: example.correctsProvisional, frozenRow: example.frozenRow))
    }
    labelled.removeAll(keepingCapacity: true)
  }

  /// Makes the router forget `domain` (retired to stay within `domain.max_domains`): a later
  /// example for it starts it anew, warm from the latest earlier period the router still knows.
  public mutating func forget(_ domain: DomainKey) {
    router.forget(domain)
  }

  /// What the label joiner has done so far: impressions by outcome, clicks that labelled
  /// nothing by reason.
  public var labelCounts: LabelJoiner.Counts { joiner.counts }

  /// The joiner's and the router's state, as bytes (`LabelJoiner.State`, `DomainRouter.State`).
  public func exportState() -> (joiner: [UInt8], router: [UInt8]) {
    (joiner.exportState().serialized(), router.exportState().serialized())
  }

  /// `exportState()`, keeping each joiner partition's serialized block in `joinerBlocks` for
  /// `exportState(partition:domains:joinerBlocks:)` while nothing changes in between. The
  /// joiner copies the bytes of what it serialized last time and has not changed since
  /// (`LabelJoiner.serializedState(blocks:)`), hence `mutating`.
  public mutating func exportState(joinerBlocks: inout [Int32: [UInt8]]) -> (
    joiner: [UInt8], router: [UInt8]
  ) {
    (joiner.serializedState(blocks: &joinerBlocks), router.exportState().serialized())
  }

  /// Replaces the joiner's and the router's state with exported bytes.
  ///
  /// - Throws: `ByteReadError` when the bytes are not such states, `DomainSpecError` when
  ///   the router's settings are unusable.
  public mutating func restore(joiner joinerBytes: [UInt8], router routerBytes: [UInt8]) throws {
    let joinerState = try LabelJoiner.State(bytes: joinerBytes)
    let routerState = try DomainRouter.State(bytes: routerBytes)
    joiner = LabelJoiner(
      configuration: joinerConfiguration, restoring: joinerState, metrics: metrics)
    router = try DomainRouter(
      configuration: router.configuration, restoring: routerState, metrics: metrics)
  }
}
