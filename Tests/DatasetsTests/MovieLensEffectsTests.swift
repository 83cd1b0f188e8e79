import Datasets
import Foundation
import Observability
import Stream
import TestSupport
import Testing

@Suite(.enabled(if: MovieLensFixture.isAvailable, "run scripts/fetch-data first"))
struct MovieLensEffectsTests {
  static let converter = Result { try MovieLensConverter(directory: MovieLensFixture.directory) }
  static let split = MovieLensConverter.Options(splitClicks: true)
  static let plain = Result { try converter.get().events(options: split) }

  /// A rating read straight from the source files, with the cell it falls in.
  struct Rating {
    var id: String
    var isPositive: Bool
    var milliseconds: Int64
    var cell: String
  }

  /// Every rating with its (month, region, genre) cell, computed without the converter.
  static let ratings: [Rating] = {
    guard let users = try? MovieLensFixture.rows("ml-100k.user"),
      let items = try? MovieLensFixture.rows("ml-100k.item"),
      let inter = try? MovieLensFixture.rows("ml-100k.inter")
    else { return [] }
    let regions = Dictionary(
      uniqueKeysWithValues: users.map { row -> (String, String) in
        let first = row[4].first
        let region =
          first.map { $0.isASCII && $0.isNumber ? String($0) : ($0.isLetter ? "ca" : "other") }
          ?? "other"
        return (row[0], region)
      })
    let genres = Dictionary(
      uniqueKeysWithValues: items.map { ($0[0], String($0[3].split(separator: " ").first ?? "")) })
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    return inter.enumerated().map { index, row in
      let seconds = Int64(row[3])!
      let date = calendar.dateComponents(
        [.year, .month], from: Date(timeIntervalSince1970: TimeInterval(seconds)))
      let month = String(format: "%04d-%02d", date.year!, date.month!)
      return Rating(
        id: "ml-\(index + 1)", isPositive: Int(row[2])! >= 4, milliseconds: seconds * 1_000,
        cell: "\(month)|\(regions[row[0]]!)|\(genres[row[1]]!)")
    }
  }()

  static func key(_ cell: MovieLensEffects.Cell) -> String {
    "\(cell.month)|\(cell.region)|\(cell.genre)"
  }

  static func lines(_ events: [Event]) -> [String] { events.map { $0.jsonLine() } }

  @Test func theSameSeedGivesTheSameBytesAndAnotherSeedOtherCells() throws {
    let converter = try Self.converter.get()
    let plan = MovieLensEffectPlan(cellCount: 10, logitShift: 1.0, seed: 7)
    let first = try converter.effects(plan)
    let again = try converter.effects(plan)
    #expect(first == again)
    #expect(first.jsonText() == again.jsonText())
    let firstEvents = converter.events(options: Self.split, effects: first)
    #expect(firstEvents == converter.events(options: Self.split, effects: again))

    var otherSeed = plan
    otherSeed.seed = 8
    let other = try converter.effects(otherSeed)
    #expect(Set(other.cells.map(Self.key)) != Set(first.cells.map(Self.key)))
    #expect(converter.events(options: Self.split, effects: other) != firstEvents)
    // The same cells under another seed get other draws.
    let sameCells = try converter.effects(
      MovieLensEffectPlan(cellCount: 85, logitShift: 1.0, seed: 7))
    let sameCellsOtherSeed = try converter.effects(
      MovieLensEffectPlan(cellCount: 85, logitShift: 1.0, seed: 8))
    #expect(sameCells.cells.map(Self.key) == sameCellsOtherSeed.cells.map(Self.key))
    #expect(sameCells.cells.map(\.changedIDs) != sameCellsOtherSeed.cells.map(\.changedIDs))
  }

  @Test func cellsFollowTheRule() throws {
    let converter = try Self.converter.get()
    let since = MovieLensEffectPlan.defaultSinceMilliseconds
    var members: [String: [Rating]] = [:]
    for rating in Self.ratings where rating.milliseconds >= since {
      members[rating.cell, default: []].append(rating)
    }
    let eligible = members.filter { _, ratings in
      let clicks = ratings.count { $0.isPositive }
      return ratings.count >= 200 && clicks > 0 && clicks < ratings.count
    }
    #expect(eligible.count == 85)
    let effects = try converter.effects(MovieLensEffectPlan(cellCount: 12, logitShift: -1.0))
    #expect(effects.eligibleCells == 85)
    #expect(effects.cells.count == 12)
    #expect(effects.cells.map(Self.key) == effects.cells.map(Self.key).sorted())
    let impressions = try Self.plain.get().filter { $0.kind == .impression }
    let order = Dictionary(uniqueKeysWithValues: impressions.enumerated().map { ($1.id, $0) })
    for cell in effects.cells {
      let expected = try #require(eligible[Self.key(cell)], "\(Self.key(cell)) is not eligible")
      #expect(Set(cell.impressionIDs) == Set(expected.map(\.id)))
      #expect(cell.impressionIDs == cell.impressionIDs.sorted { order[$0]! < order[$1]! })
      #expect(cell.baseClicks == expected.count { $0.isPositive })
    }
    #expect(effects.affectedImpressions == effects.cells.reduce(0) { $0 + $1.impressions })
    // The choice depends on the seed alone: not on the shift, and a smaller N is a prefix.
    for shift in [0.0, 1.0, 2.5] {
      let other = try converter.effects(MovieLensEffectPlan(cellCount: 12, logitShift: shift))
      #expect(other.cells.map(Self.key) == effects.cells.map(Self.key))
    }
    let fewer = try converter.effects(MovieLensEffectPlan(cellCount: 4, logitShift: -1.0))
    #expect(Set(fewer.cells.map(Self.key)).isSubset(of: effects.cells.map(Self.key)))
    // A later start leaves out the earlier months.
    let april = try converter.effects(
      MovieLensEffectPlan(
        cellCount: 5, logitShift: 1.0, sinceMilliseconds: 891_388_800_000, minimumImpressions: 50)
    )
    #expect(april.cells.allSatisfy { $0.month == "1998-04" })
  }

  @Test func onlyTheCellsLabelsChange() throws {
    let converter = try Self.converter.get()
    let plain = try Self.plain.get()
    let plainLines = Self.lines(plain)
    let original = converter.events()
    for shift in [1.0, -1.0] {
      let effects = try converter.effects(
        MovieLensEffectPlan(cellCount: 10, logitShift: shift, seed: 3))
      let affected = Set(effects.cells.flatMap(\.impressionIDs))
      let changed = Set(effects.cells.flatMap(\.changedIDs))
      #expect(changed.isSubset(of: affected))
      #expect(changed.count == effects.changedLabels)
      #expect(changed.count > 100)
      let injected = converter.events(options: Self.split, effects: effects)
      let injectedLines = Self.lines(injected)
      func lines(
        _ events: [Event], _ lines: [String], where keep: (Event) -> Bool
      ) -> [String] {
        zip(events, lines).filter { keep($0.0) }.map(\.1)
      }
      // Impressions carry no label when clicks are split: every one is byte-identical.
      #expect(
        lines(injected, injectedLines) { $0.kind == .impression }
          == lines(plain, plainLines) { $0.kind == .impression })
      // Every event outside the cells is byte-identical, in the same order.
      #expect(
        lines(injected, injectedLines) { !affected.contains($0.id) }
          == lines(plain, plainLines) { !affected.contains($0.id) })
      // Inside, a click appears (shift > 0) or disappears (shift < 0) exactly for the changed.
      let plainClicks = Set(plain.filter { $0.kind == .click }.map(\.id))
      let injectedClicks = Set(injected.filter { $0.kind == .click }.map(\.id))
      if shift > 0 {
        #expect(plainClicks.isSubset(of: injectedClicks))
        #expect(injectedClicks.subtracting(plainClicks) == changed)
      } else {
        #expect(injectedClicks.isSubset(of: plainClicks))
        #expect(plainClicks.subtracting(injectedClicks) == changed)
      }
      // Labelled impressions (no split) differ exactly in the changed labels.
      let labelled = converter.events(effects: effects)
      #expect(labelled.map(\.id) == original.map(\.id))
      let differing = Set(zip(labelled, original).filter { $0.label != $1.label }.map(\.0.id))
      #expect(differing == changed)
    }
    // No shift: the plain conversion, byte for byte.
    let none = try converter.effects(MovieLensEffectPlan(cellCount: 10, logitShift: 0, seed: 3))
    #expect(none.changedLabels == 0)
    #expect(
      Self.lines(converter.events(options: Self.split, effects: none)) == plainLines)
  }

  @Test func theClickRateMovesByTheShiftWithinBinomialError() throws {
    let converter = try Self.converter.get()
    let plainLabels = Dictionary(uniqueKeysWithValues: Self.ratings.map { ($0.id, $0.isPositive) })
    for shift in [1.0, -1.0] {
      let effects = try converter.effects(
        MovieLensEffectPlan(cellCount: 40, logitShift: shift, seed: 11))
      let injected = converter.events(effects: effects)
      let labels = Dictionary(uniqueKeysWithValues: injected.map { ($0.id, $0.label!) })
      var shiftSum = 0.0
      var shiftVariance = 0.0
      for cell in effects.cells {
        // The rule, computed here: r, t = sigmoid(logit r + shift), and q.
        let n = Double(cell.impressions)
        let base = Double(cell.impressionIDs.count { plainLabels[$0]! })
        let rate = base / n
        let target = 1 / (1 + exp(-(log(rate / (1 - rate)) + shift)))
        let probability = shift > 0 ? (target - rate) / (1 - rate) : (rate - target) / rate
        #expect(abs(cell.targetRate - target) < 1e-12)
        #expect(abs(cell.changeProbability - probability) < 1e-12)
        // Given the plain labels, the number changed is Binomial(eligible, q): expected rate t.
        let eligible = shift > 0 ? n - base : base
        let changedCount = Double(cell.changedIDs.count)
        let clicks = Double(cell.impressionIDs.count { labels[$0]! })
        #expect(clicks == (shift > 0 ? base + changedCount : base - changedCount))
        #expect(cell.clicks == Int(clicks))
        let deviation = (eligible * probability * (1 - probability)).squareRoot()
        // 4 standard errors: a correct rule fails a cell with probability 6e-5 (40 cells: 0.3%);
        // the seed fixes the draws, so the test is deterministic either way.
        #expect(
          abs(changedCount - eligible * probability) <= 4 * deviation,
          "\(Self.key(cell)): \(changedCount) changed, expected \(eligible * probability)")
        let observed = clicks / n
        #expect(abs(observed - target) <= 4 * deviation / n)
        // The observed shift in logits, with its delta-method standard error.
        shiftSum += log(observed / (1 - observed)) - log(rate / (1 - rate))
        shiftVariance += pow(deviation / n / (target * (1 - target)), 2)
      }
      let cells = Double(effects.cells.count)
      let meanShift = shiftSum / cells
      let standardError = shiftVariance.squareRoot() / cells
      #expect(
        abs(meanShift - shift) <= 4 * standardError,
        "mean shift \(meanShift) for \(shift) (standard error \(standardError))")
      #expect(standardError < 0.05)
    }
  }

  @Test func theTruthFileListsEveryCell() throws {
    let effects = try Self.converter.get().effects(
      MovieLensEffectPlan(cellCount: 3, logitShift: 1.0, seed: 5))
    let text = effects.jsonText()
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    #expect(object["logit_shift"] as? Double == 1.0)
    #expect(object["seed"] as? Int == 5)
    #expect(object["eligible_cells"] as? Int == 85)
    #expect(object["changed_labels"] as? Int == effects.changedLabels)
    let cells = try #require(object["cells"] as? [[String: Any]])
    #expect(cells.count == 3)
    for (json, cell) in zip(cells, effects.cells) {
      #expect(json["region"] as? String == cell.region)
      #expect(json["month"] as? String == cell.month)
      #expect(json["genre"] as? String == cell.genre)
      #expect(json["impression_ids"] as? [String] == cell.impressionIDs)
      #expect(json["changed_ids"] as? [String] == cell.changedIDs)
      // Foundation's parser may miss the last digit; the text itself holds the exact value.
      for (name, value) in [
        ("base_rate", cell.baseRate), ("rate", cell.rate),
        ("change_probability", cell.changeProbability), ("target_rate", cell.targetRate),
      ] {
        #expect(abs((json[name] as? Double ?? .nan) - value) <= 1e-15)
        #expect(text.contains("\"\(name)\": \(value)"))
      }
    }
  }

  @Test func badPlansSayWhatIsWrong() throws {
    let converter = try Self.converter.get()
    func message(_ plan: MovieLensEffectPlan) -> String {
      do {
        _ = try converter.effects(plan)
        return "no error"
      } catch {
        return error.description
      }
    }
    #expect(
      message(MovieLensEffectPlan(cellCount: 86, logitShift: 1)).contains(
        "asked for 86 effect cells but only 85 (region, month, genre) cells have at least 200"))
    #expect(
      message(MovieLensEffectPlan(cellCount: 1, logitShift: 1, sinceMilliseconds: 900_000_000_000))
        .contains("only 0"))
    #expect(
      message(MovieLensEffectPlan(cellCount: -1, logitShift: 1)).contains(
        "must be 0 or more, got -1"))
    for shift in [Double.nan, .infinity, 5.5, -6] {
      #expect(
        message(MovieLensEffectPlan(cellCount: 1, logitShift: shift)).contains(
          "the effect size must be a number of logits from -5.0 to 5.0"))
    }
    #expect(
      message(MovieLensEffectPlan(cellCount: 1, logitShift: 1, minimumImpressions: 0)).contains(
        "at least 1, got 0"))
    #expect(message(MovieLensEffectPlan(cellCount: 0, logitShift: 5)) == "no error")
  }
}
