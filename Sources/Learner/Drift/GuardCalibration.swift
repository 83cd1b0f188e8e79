import Foundation

/// Measures the serving guard (`ServingGuard`) on synthetic streams whose truth is known: how
/// soon a kernel that truly helps starts serving and how often it is switched off by mistake,
/// whether a kernel that ranks worse (while predicting the click level better) is ever served,
/// and how many examples a kernel that turns harmful keeps serving. `iak-stream bench guard`
/// prints it; docs/experiments.md reports it.
///
/// Each example has a true logit `t = logit(rate) + g` (g standard normal) and a label drawn
/// from `sigmoid(t)`. A helping kernel scores `t + 0.5 g1`, its backbone `t + g2` (noisier: the
/// kernel ranks and predicts better). A harmful kernel is the sparse-log failure: it has learned
/// the click level (its scores centre on `logit(rate)`) but ranks worse, `logit(rate) + 0.3 (t -
/// logit(rate)) + 1.2 g1`, against a backbone that ranks well but is miscalibrated,
/// `t + 0.5 g2 + 0.5`. The switching stream helps for its first half, then turns harmful.
public enum GuardCalibration {
  /// One row: a click rate and scenario, summed over seeds.
  public struct Row: Sendable {
    /// The click rate.
    public var rate: Double
    /// "helps", "ranks worse" or "turns harmful".
    public var scenario: String
    /// Examples per stream.
    public var examples: Int
    /// Streams run.
    public var streams: Int
    /// Median examples until the kernel first served (nil: it never served in a stream).
    public var medianExamplesToServe: Int?
    /// Streams in which the kernel served at some point.
    public var streamsServed: Int
    /// Share of examples served by the kernel, over all streams.
    public var servedShare: Double
    /// Times a serving kernel was switched off, over all streams.
    public var switchesOff: Int
    /// Switching streams: median examples from the switch until it stopped serving (nil
    /// otherwise, or when it never stopped).
    public var medianDetectionDelay: Int?
    /// Switching streams in which the harmful kernel was still serving at the end.
    public var undetected: Int
  }

  /// Runs every rate and scenario with `settings`, `streams` seeds each.
  public static func run(
    settings: ServingGuard.Settings = ServingGuard.Settings(), streams: Int = 10,
    rates: [Double] = [0.001, 0.005, 0.02, 0.1, 0.3, 0.6]
  ) -> [Row] {
    var rows: [Row] = []
    for rate in rates {
      // Enough examples for ~600 clicks, at least 20,000.
      let examples = max(20_000, Int(600 / rate))
      for scenario in ["helps", "ranks worse", "turns harmful"] {
        var firstServed: [Int] = []
        var delays: [Int] = []
        var served = 0
        var switchesOff = 0
        var undetected = 0
        var streamsServed = 0
        for seed in 0..<streams {
          var random = NoiseGenerator(state: UInt64(seed + 1) &* 0x9E37_79B9_7F4A_7C15)
          var guardian = ServingGuard(settings: settings)
          var first: Int?
          var switchedAt: Int?
          var wasServing = false
          let switchPoint = scenario == "turns harmful" ? examples / 2 : Int.max
          for index in 0..<examples {
            let harmful = scenario == "ranks worse" || index >= switchPoint
            let base = log(rate / (1 - rate))
            let truth = base + gaussian(&random)
            let label = random.nextUniform() < 1 / (1 + exp(-truth))
            let kernel: Double
            let backbone: Double
            if harmful {
              kernel = base + 0.3 * (truth - base) + 1.2 * gaussian(&random)
              backbone = truth + 0.5 * gaussian(&random) + 0.5
            } else {
              kernel = truth + 0.5 * gaussian(&random)
              backbone = truth + gaussian(&random)
            }
            if guardian.isServing { served += 1 }
            _ = guardian.append(
              kernelLogit: Float(kernel), backboneLogit: Float(backbone), isPositive: label)
            if guardian.isServing, first == nil { first = index + 1 }
            if wasServing, !guardian.isServing {
              switchesOff += 1
              if index >= switchPoint, switchedAt == nil { switchedAt = index + 1 - switchPoint }
            }
            wasServing = guardian.isServing
          }
          if let first { firstServed.append(first) }
          if first != nil { streamsServed += 1 }
          if scenario == "turns harmful" {
            if let switchedAt { delays.append(switchedAt) } else if wasServing { undetected += 1 }
          }
        }
        rows.append(
          Row(
            rate: rate, scenario: scenario, examples: examples, streams: streams,
            medianExamplesToServe: median(firstServed), streamsServed: streamsServed,
            servedShare: Double(served) / Double(examples * streams),
            switchesOff: switchesOff, medianDetectionDelay: median(delays),
            undetected: undetected))
      }
    }
    return rows
  }

  /// The rows as a Markdown table.
  public static func markdown(_ rows: [Row], settings: ServingGuard.Settings) -> [String] {
    var lines = [
      "Serving guard with window \(settings.window), at least \(settings.minExamples) examples "
        + "and \(settings.minPerClass) of each class, a comparison every \(settings.checkEvery) "
        + "examples, AUC margin \(settings.aucMargin), log-loss margin \(settings.logLossMargin) "
        + "of the label entropy, z on \(settings.onZ) (confirmed at z \(settings.confirmZ) on the "
        + "examples after the first pass), z off \(settings.offZ).",
      "",
      "| Click rate | Kernel | Examples x streams | Streams where it served | Median examples "
        + "to first serve | Share served | Switched off | Median detection delay | Harm "
        + "undetected at the end |",
      "|--:|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows {
      let toServe = row.medianExamplesToServe.map(String.init) ?? "never"
      let delay =
        row.scenario == "turns harmful" ? (row.medianDetectionDelay.map(String.init) ?? "–") : "–"
      let undetected = row.scenario == "turns harmful" ? "\(row.undetected)" : "–"
      lines.append(
        "| \(row.rate) | \(row.scenario) | \(row.examples) x \(row.streams) | "
          + "\(row.streamsServed) of \(row.streams) | \(toServe) | "
          + String(format: "%.3f", row.servedShare) + " | \(row.switchesOff) | \(delay) | "
          + "\(undetected) |")
    }
    return lines
  }

  private static func gaussian(_ random: inout NoiseGenerator) -> Double {
    let u = max(random.nextUniform(), 1e-300)
    return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * random.nextUniform())
  }

  private static func median(_ values: [Int]) -> Int? {
    guard !values.isEmpty else { return nil }
    return values.sorted()[values.count / 2]
  }
}
