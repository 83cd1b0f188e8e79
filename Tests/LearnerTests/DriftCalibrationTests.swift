import Foundation
import TestSupport
import Testing

@testable import Learner

/// Measures false alarms and detection delays of the drift detectors, printed for the report.
/// Run with `IAK_BENCH=1 swift test --filter DriftCalibrationTests`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["IAK_BENCH"] == "1"), .serialized)
struct DriftCalibrationTests {
  static let rates = [0.001, 0.01, 0.05, 0.1, 0.3, 0.55]
  static let seeds: [UInt64] = [1, 2, 3]

  /// Fired events per detector on a stationary calibrated stream of `count` examples.
  static func falseAlarms(rate: Double, seed: UInt64, count: Int, settings: DriftSettings)
    -> [DriftDetector: Int]
  {
    var generator = SeededGenerator(seed: seed)
    var monitor = DomainDriftMonitor(domain: "d", settings: settings)
    let examples = DriftStreams.examples(count, rate: rate, using: &generator)
    var fired: [DriftDetector: Int] = [:]
    for event in DriftStreams.feed(&monitor, examples: examples, firstStep: 0)
    where event.transition == .fired {
      fired[event.detector, default: 0] += 1
    }
    return fired
  }

  /// Detections of raw-unit Page-Hinkley tests (the configuration's original reading) on the
  /// labels (both directions) and the kernel's logloss (increases).
  static func rawDetections(rate: Double, seed: UInt64, count: Int, delta: Double, lambda: Double)
    -> (clicks: Int, logloss: Int)
  {
    var generator = SeededGenerator(seed: seed)
    var clicks = PageHinkley(
      delta: delta, lambda: lambda, minExamples: 30, direction: .both, isStandardized: false)
    var loss = PageHinkley(
      delta: delta, lambda: lambda, minExamples: 30, direction: .increase, isStandardized: false)
    var result = (clicks: 0, logloss: 0)
    for _ in 0..<count {
      let example = DriftStreams.example(rate: rate, using: &generator)
      if clicks.add(example.label) != nil { result.clicks += 1 }
      if loss.add(example.kernelLoss) != nil { result.logloss += 1 }
    }
    return result
  }

  @Test func falseAlarmsOnStationaryStreams() {
    let count = 200_000
    var total = 0
    print("false alarms per 200k calibrated examples (seeds \(Self.seeds)):")
    for rate in Self.rates {
      var proposed: [DriftDetector: Int] = [:]
      var oldStandardized: [DriftDetector: Int] = [:]
      var raw = (clicks: 0, logloss: 0)
      for seed in Self.seeds {
        proposed.merge(
          Self.falseAlarms(rate: rate, seed: seed, count: count, settings: DriftSettings()),
          uniquingKeysWith: +)
        oldStandardized.merge(
          Self.falseAlarms(
            rate: rate, seed: seed, count: count,
            settings: DriftSettings(pageHinkleyDelta: 0.005, pageHinkleyLambda: 50)),
          uniquingKeysWith: +)
        let detections = Self.rawDetections(
          rate: rate, seed: seed, count: count, delta: 0.005, lambda: 50)
        raw.clicks += detections.clicks
        raw.logloss += detections.logloss
      }
      total += proposed.values.reduce(0, +)
      func describe(_ counts: [DriftDetector: Int]) -> String {
        counts.isEmpty
          ? "none"
          : counts.map { "\($0.key.rawValue) \($0.value)" }.sorted().joined(separator: ", ")
      }
      print(
        "  rate \(rate): defaults (0.1 sd, 80): \(describe(proposed)); "
          + "(0.005 sd, 50): \(describe(oldStandardized)); raw PH (0.005, 50): clicks "
          + "\(raw.clicks), logloss \(raw.logloss)")
    }
    #expect(total <= 3, "the defaults should (almost) never alarm on a stationary stream")
  }

  /// Examples after the change until the first firing of `detector`, per seed (nil: never).
  static func delays(
    seeds: Range<UInt64>, detector: DriftDetector, before: Int = 20_000, after: Int = 20_000,
    make: (Bool, inout SeededGenerator) -> DriftExample
  ) -> [Int?] {
    seeds.map { seed in
      var generator = SeededGenerator(seed: seed)
      var monitor = DomainDriftMonitor(domain: "d", settings: DriftSettings())
      var examples: [DriftExample] = []
      for index in 0..<(before + after) {
        examples.append(make(index >= before, &generator))
      }
      let fired = DriftStreams.feed(&monitor, examples: examples).first {
        $0.detector == detector && $0.transition == .fired && $0.examplesSeen > before
      }
      return fired.map { $0.examplesSeen - before }
    }
  }

  static func summary(_ delays: [Int?]) -> String {
    let found = delays.compactMap { $0 }.sorted()
    guard !found.isEmpty else { return "never found in \(delays.count) runs" }
    return "min \(found.first!), median \(found[found.count / 2]), max \(found.last!) examples; "
      + "found in \(found.count)/\(delays.count) runs"
  }

  @Test func detectionDelays() {
    let seeds: Range<UInt64> = 0..<20
    print("detection delays after the change (20 seeds, batches of 32):")
    for (before, after) in [(0.1, 0.5), (0.1, 0.15), (0.55, 0.45), (0.01, 0.03), (0.3, 0.1)] {
      let delays = Self.delays(seeds: seeds, detector: .ctrDrift) { changed, generator in
        DriftStreams.example(rate: changed ? after : before, using: &generator)
      }
      print("  ctr_drift, click rate \(before) -> \(after): \(Self.summary(delays))")
      if before == 0.1, after == 0.5 {
        #expect(delays.allSatisfy { $0 != nil && $0! <= 300 })
      }
    }
    for detector in [DriftDetector.harm, .loglossDrift] {
      let delays = Self.delays(seeds: seeds, detector: detector) { changed, generator in
        DriftStreams.example(rate: 0.1, using: &generator, invertKernel: changed)
      }
      print(
        "  \(detector.rawValue), kernel predictions inverted (rate 0.1): \(Self.summary(delays))")
      #expect(delays.allSatisfy { $0 != nil })
    }
    let flipped = Self.delays(seeds: seeds, detector: .loglossDrift) { changed, generator in
      DriftStreams.example(rate: 0.3, using: &generator, flipLabel: changed)
    }
    print("  logloss_drift, labels flipped (rate 0.3): \(Self.summary(flipped))")
  }

  @Test func movieLensReplay() throws {
    let directory = MovieLensFixture.directory.path
    try #require(
      MovieLensFixture.isAvailable, "MovieLens 100k not in \(directory): run scripts/fetch-data")
    let ratings = try MovieLensLabels.load(directory: directory)
    var generator = SeededGenerator(seed: 9)
    // The same ratings in random order: each domain keeps its examples, now stationary.
    var shuffled = ratings
    shuffled.shuffle(using: &generator)
    for (name, stream) in [("time order", ratings), ("shuffled", shuffled)] {
      var monitor = DriftMonitor(settings: DriftSettings())
      var clicks: [String: (Double, Double)] = [:]
      var batches: [String: [DriftExample]] = [:]
      var steps: [String: Int] = [:]
      var fired: [DriftDetector: Int] = [:]
      for rating in stream {
        // Prequential per-domain click rate (Laplace) as the kernel, global rate as backbone.
        let (domainClicks, domainCount) = clicks[rating.domain, default: (0, 0)]
        let (allClicks, allCount) = clicks["*", default: (0, 0)]
        let kernel = (domainClicks + 1) / (domainCount + 2)
        let backbone = (allClicks + 1) / (allCount + 2)
        batches[rating.domain, default: []].append(
          DriftExample(
            kernelLoss: DriftStreams.loss(kernel, rating.label),
            backboneLoss: DriftStreams.loss(backbone, rating.label), label: rating.label))
        clicks[rating.domain] = (domainClicks + rating.label, domainCount + 1)
        clicks["*"] = (allClicks + rating.label, allCount + 1)
        if batches[rating.domain]!.count == 32 {
          steps[rating.domain, default: 0] += 1
          let observation = DriftStreams.healthy(
            step: steps[rating.domain]!, examples: batches[rating.domain]!)
          for event in monitor.observe(observation, of: rating.domain)
          where event.transition == .fired {
            fired[event.detector, default: 0] += 1
          }
          batches[rating.domain] = []
        }
      }
      let counts = fired.map { "\($0.key.rawValue) \($0.value)" }.sorted()
      print(
        "MovieLens 100k replay (\(name)): \(stream.count) ratings, \(monitor.domains.count) "
          + "domains (month x zip region), firings: \(counts.isEmpty ? ["none"] : counts)")
      if name == "shuffled" {
        #expect((fired[.ctrDrift] ?? 0) + (fired[.loglossDrift] ?? 0) <= 1)
      }
    }
  }
}

/// MovieLens 100k ratings as (domain, label): label = rating >= 4, domain = month x first digit
/// of the user's zip code, in time order.
enum MovieLensLabels {
  struct Rating {
    var domain: String
    var label: Double
    var time: Int64
  }

  static func load(directory: String) throws -> [Rating] {
    func rows(_ name: String) throws -> [[Substring]] {
      let text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
      return text.split(separator: "\n").dropFirst().map {
        $0.split(separator: "\t", omittingEmptySubsequences: false)
      }
    }
    var regions: [Substring: String] = [:]
    for row in try rows("ml-100k.user") where row.count >= 5 {
      regions[row[0]] = String(row[4].prefix(1))
    }
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    var result: [Rating] = []
    for row in try rows("ml-100k.inter") where row.count >= 4 {
      guard let rating = Double(row[2]), let seconds = Double(row[3]) else { continue }
      let parts = calendar.dateComponents(
        [.year, .month], from: Date(timeIntervalSince1970: seconds))
      let domain = String(
        format: "%04d-%02d/%@", parts.year ?? 0, parts.month ?? 0, regions[row[0]] ?? "?")
      result.append(Rating(domain: domain, label: rating >= 4 ? 1 : 0, time: Int64(seconds)))
    }
    return result.enumerated().sorted {
      ($0.element.time, $0.offset) < ($1.element.time, $1.offset)
    }
    .map(\.element)
  }
}
