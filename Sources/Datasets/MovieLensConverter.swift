import Base
import Foundation
import Observability
import Stream

/// Turns the MovieLens 100K ratings (RecBole's `ml-100k` atomic files) into a stream of events.
///
/// Every rating becomes one impression at the rating's time, with the categorical features
/// `user`, `item`, `age` (bucket), `gender`, `occupation`, `genre` (the item's first) and `year`
/// (release decade), and label click = rating >= 4. The region is the first digit of the user's
/// zip code; Canadian postal codes (starting with a letter) form the region `ca`, and anything
/// else (empty, punctuation) the region `other`.
///
/// Order: events are sorted by event time; at equal times, by the rating's position in the time
/// sorted ratings (ties between ratings keep their order in `ml-100k.inter`), then the
/// impression, its sampled negatives, and last a split click. A split click is an event at its
/// own time, its impression's plus `Options.clickDelay`; with drawn delays clicks can overtake
/// one another, and clicks at one time keep their ratings' order. Event ids are `ml-R` for the
/// rating in data row R of `ml-100k.inter` (1-based, header excluded), `ml-R-nJ` for its J-th
/// negative.
///
/// For controlled experiments, `effects(_:)` chooses (region, month, genre) cells and moves their
/// click probability by a known number of logits (`MovieLensEffects` gives the exact rule);
/// events outside the cells stay byte for byte those of the plain conversion.
public struct MovieLensConverter: Sendable {
  /// How the ratings are turned into events.
  public struct Options: Sendable, Equatable {
    /// Remove the label from impressions and emit a separate click event for positive ratings.
    public var splitClicks: Bool
    /// How far after its impression a split click happens, in event time.
    public var clickDelay: ClickDelay
    /// Sampled items per rating that the user never rated, emitted as synthetic non-clicks.
    public var negativesPerRating: Int
    /// The seed of the negative sampler.
    public var seed: UInt64

    /// Creates options; by default labelled impressions only, clicks 5 s after impressions.
    public init(
      splitClicks: Bool = false, clickDelay: ClickDelay = .fixed(milliseconds: 5_000),
      negativesPerRating: Int = 0, seed: UInt64 = 0
    ) {
      self.splitClicks = splitClicks
      self.clickDelay = clickDelay
      self.negativesPerRating = negativesPerRating
      self.seed = seed
    }
  }

  /// What a conversion produced.
  public struct Summary: Sendable, Equatable {
    /// Ratings read.
    public var ratings = 0
    /// Impressions emitted, sampled negatives included.
    public var impressions = 0
    /// Positive ratings (rating >= 4): labelled impressions or split click events.
    public var clicks = 0
    /// Synthetic negative impressions emitted.
    public var negatives = 0
    /// Every event emitted (impressions plus split clicks).
    public var events = 0
    /// Impressions in the cells of injected effects (0 without effects).
    public var affectedImpressions = 0
    /// Impressions whose label the injected effects changed.
    public var changedLabels = 0

    /// A summary of nothing converted yet: every count 0.
    public init() {}
  }

  struct User: Sendable {
    var age: String
    var gender: String
    var occupation: String
    var region: String
  }

  struct Item: Sendable {
    var genre: String
    var year: String
  }

  struct Rating: Sendable {
    var row: Int
    var user: String
    var item: String
    var isPositive: Bool
    var timeMilliseconds: Int64
  }

  let users: [String: User]
  let items: [String: Item]
  let itemIDs: [String]
  /// Ratings sorted by time, ties in source order.
  let ratings: [Rating]
  let ratedItems: [String: Set<String>]

  /// Reads `ml-100k.inter`, `ml-100k.user` and `ml-100k.item` from `directory`.
  ///
  /// - Throws: `MovieLensError` naming the file and line that is missing or malformed.
  public init(directory: URL) throws(MovieLensError) {
    let userTable = try MovieLensTable.read(directory, "ml-100k.user")
    let userColumns = try userTable.columns(["user_id", "age", "gender", "occupation", "zip_code"])
    var users: [String: User] = [:]
    for (line, row) in userTable.rows {
      let values = userColumns.map { row[$0] }
      guard let age = Int(values[1]) else {
        throw userTable.error(line: line, "age '\(values[1])' is not a whole number")
      }
      users[values[0]] = User(
        age: Self.ageBucket(age), gender: values[2], occupation: values[3],
        region: Self.region(zipCode: values[4]))
    }

    let itemTable = try MovieLensTable.read(directory, "ml-100k.item")
    let itemColumns = try itemTable.columns(["item_id", "release_year", "class"])
    var items: [String: Item] = [:]
    for (_, row) in itemTable.rows {
      let values = itemColumns.map { row[$0] }
      let genre = values[2].split(separator: " ").first.map(String.init) ?? "unknown"
      items[values[0]] = Item(genre: genre, year: Self.yearBucket(values[1]))
    }

    let ratingTable = try MovieLensTable.read(directory, "ml-100k.inter")
    let ratingColumns = try ratingTable.columns(["user_id", "item_id", "rating", "timestamp"])
    var ratings: [Rating] = []
    ratings.reserveCapacity(ratingTable.rows.count)
    var ratedItems: [String: Set<String>] = [:]
    for (index, (line, row)) in ratingTable.rows.enumerated() {
      let values = ratingColumns.map { row[$0] }
      guard users[values[0]] != nil else {
        throw ratingTable.error(line: line, "user \(values[0]) is not in ml-100k.user")
      }
      guard items[values[1]] != nil else {
        throw ratingTable.error(line: line, "item \(values[1]) is not in ml-100k.item")
      }
      guard let rating = Double(values[2]), let seconds = Double(values[3]),
        seconds >= 0, seconds < 1e11
      else {
        throw ratingTable.error(line: line, "rating or timestamp is not a number")
      }
      ratings.append(
        Rating(
          row: index + 1, user: values[0], item: values[1], isPositive: rating >= 4,
          timeMilliseconds: Int64((seconds * 1_000).rounded())))
      ratedItems[values[0], default: []].insert(values[1])
    }
    ratings.sort {
      ($0.timeMilliseconds, $0.row) < ($1.timeMilliseconds, $1.row)
    }
    self.users = users
    self.items = items
    self.itemIDs = items.keys.sorted { (Int($0) ?? 0, $0) < (Int($1) ?? 0, $1) }
    self.ratings = ratings
    self.ratedItems = ratedItems
  }

  /// The number of ratings read.
  public var ratingCount: Int { ratings.count }

  /// Calls `body` with every event in order; see the type's documentation for the order.
  ///
  /// With `effects` (from `effects(_:)` on this converter), the impressions in its cells carry
  /// their new labels, and their clicks follow those labels; every other event is unchanged.
  ///
  /// - Throws: whatever `body` throws; conversion stops there.
  @discardableResult
  public func forEachEvent<Failure: Error>(
    options: Options = Options(), effects: MovieLensEffects? = nil,
    _ body: (Event) throws(Failure) -> Void
  ) throws(Failure) -> Summary {
    var summary = Summary()
    var random = SplitMix64(seed: options.seed)
    var pendingClicks = PendingClicks()
    func emitClicks(through time: Int64) throws(Failure) {
      while let earliest = pendingClicks.earliestTime, earliest <= time,
        let click = pendingClicks.removeEarliest()
      {
        try body(click)
        summary.events += 1
      }
    }
    for rating in ratings {
      try emitClicks(through: rating.timeMilliseconds)
      summary.ratings += 1
      let id = "ml-\(rating.row)"
      let user = users[rating.user]!
      var isPositive = rating.isPositive
      if let effects, effects.affectedRows.contains(rating.row) {
        isPositive = effects.label(row: rating.row, original: rating.isPositive)
        summary.affectedImpressions += 1
        if isPositive != rating.isPositive { summary.changedLabels += 1 }
      }
      try body(
        impression(
          id: id, rating: rating, item: rating.item, user: user,
          label: options.splitClicks ? nil : isPositive, isSynthetic: false))
      summary.impressions += 1
      summary.events += 1
      for (number, item) in sampleNegatives(
        for: rating.user, count: options.negativesPerRating, random: &random
      ).enumerated() {
        try body(
          impression(
            id: "\(id)-n\(number + 1)", rating: rating, item: item, user: user,
            label: options.splitClicks ? nil : false, isSynthetic: true))
        summary.impressions += 1
        summary.negatives += 1
        summary.events += 1
      }
      if isPositive {
        summary.clicks += 1
        if options.splitClicks {
          pendingClicks.add(
            Event(
              kind: .click, id: id,
              timeMilliseconds: rating.timeMilliseconds
                + options.clickDelay.milliseconds(row: rating.row),
              region: user.region))
        }
      }
    }
    try emitClicks(through: .max)
    return summary
  }

  /// Every event in order, in memory; `forEachEvent` streams them instead.
  public func events(options: Options = Options(), effects: MovieLensEffects? = nil) -> [Event] {
    var events: [Event] = []
    forEachEvent(options: options, effects: effects) { events.append($0) }
    return events
  }

  private func impression(
    id: String, rating: Rating, item: String, user: User, label: Bool?, isSynthetic: Bool
  ) -> Event {
    let itemFeatures = items[item]!
    return Event(
      kind: .impression, id: id, timeMilliseconds: rating.timeMilliseconds, region: user.region,
      categorical: [
        .init(name: "user", value: rating.user), .init(name: "item", value: item),
        .init(name: "age", value: user.age), .init(name: "gender", value: user.gender),
        .init(name: "occupation", value: user.occupation),
        .init(name: "genre", value: itemFeatures.genre),
        .init(name: "year", value: itemFeatures.year),
      ], label: label, isSynthetic: isSynthetic)
  }

  /// Up to `count` distinct items `user` never rated, drawn uniformly.
  private func sampleNegatives(
    for user: String, count: Int, random: inout SplitMix64
  ) -> [String] {
    guard count > 0 else { return [] }
    let rated = ratedItems[user] ?? []
    let available = itemIDs.count - rated.count
    var chosen: [String] = []
    while chosen.count < min(count, available) {
      let candidate = itemIDs[random.index(below: itemIDs.count)]
      if !rated.contains(candidate) && !chosen.contains(candidate) { chosen.append(candidate) }
    }
    return chosen
  }
}
