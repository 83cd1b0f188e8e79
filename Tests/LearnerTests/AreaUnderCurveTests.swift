import Base
import Testing

@testable import Learner

@Suite struct AreaUnderCurveTests {
  @Test func tiedScoresCountHalf() throws {
    // Pairs (positive, negative): 0.9 vs {0.5, 0.5, 0.1} -> 3 wins; 0.5 vs {0.5 tie, 0.5 tie,
    // 0.1 win} -> 2; 0.1 vs {0.5, 0.5 losses, 0.1 tie} -> 0.5. Total 5.5 of 9.
    let scores: [Float] = [0.9, 0.5, 0.1, 0.5, 0.5, 0.1]
    let labels: [Float] = [1, 1, 1, 0, 0, 0]
    let auc = try #require(AreaUnderCurve.exact(scores: scores, labels: labels))
    #expect(abs(auc - 5.5 / 9) < 1e-12)
  }

  @Test func perfectAndInvertedRankings() throws {
    #expect(
      AreaUnderCurve.exact(
        scores: [0.1, 0.2, 0.8, 0.9] as [Float], labels: [0, 0, 1, 1] as [Float]) == 1)
    #expect(
      AreaUnderCurve.exact(
        scores: [0.9, 0.8, 0.2, 0.1] as [Float], labels: [0, 0, 1, 1] as [Float]) == 0)
  }

  @Test func ranksAgreeWithCountingEveryPair() throws {
    // Scores on a coarse grid so that many tie, both signs, and both zeros (equal under ==):
    // the rank formula against the definition, every positive against every negative.
    var generator = SplitMix64(seed: 20)
    for size in [2, 3, 17, 400] {
      var scores: [Float] = []
      var labels: [Float] = []
      for index in 0..<size {
        let step = Int(generator.next() % 9) - 4
        scores.append(index % 7 == 0 ? -0.0 : Float(step) / 4)
        labels.append(generator.next() % 3 == 0 ? 1 : 0)
      }
      labels[0] = 1
      labels[1] = 0
      var wins = 0.0
      var pairs = 0.0
      for positive in scores.indices where labels[positive] == 1 {
        for negative in scores.indices where labels[negative] == 0 {
          pairs += 1
          if scores[positive] > scores[negative] {
            wins += 1
          } else if scores[positive] == scores[negative] {
            wins += 0.5
          }
        }
      }
      let auc = try #require(AreaUnderCurve.exact(scores: scores, labels: labels))
      #expect(abs(auc - wins / pairs) < 1e-12, "\(size) examples")
    }
  }

  @Test func keysSortAsTheStandardSortDoes() {
    // Below and above the size where the radix sort takes over, with repeats and all 33 bits.
    var generator = SplitMix64(seed: 33)
    for size in [0, 1, 255, 256, 3_000] {
      let keys = (0..<size).map { _ in
        generator.next() % 4 == 0 ? 1 << 32 | 5 : generator.next() & (1 << 33 - 1)
      }
      var sorted = keys
      AreaUnderCurve.sortKeys(&sorted)
      #expect(sorted == keys.sorted(), "\(size) keys")
    }
  }

  @Test func negativeZeroTiesWithZero() {
    // -0 == 0: one tie, so 1/2, whichever sign the positive's zero has.
    #expect(AreaUnderCurve.exact(scores: [-0.0, 0] as [Float], labels: [1, 0] as [Float]) == 0.5)
    #expect(AreaUnderCurve.exact(scores: [0, -0.0] as [Float], labels: [1, 0] as [Float]) == 0.5)
  }

  @Test func aNaNScoreRanksBeyondTheInfinityOfItsSign() {
    // A NaN of either sign ends the ranking (the old tie search never moved past one): a
    // positive NaN ranks above every number, a negative one below.
    #expect(
      AreaUnderCurve.exact(
        scores: [.nan, 0.1, .infinity] as [Float], labels: [1, 0, 0] as [Float]) == 1)
    #expect(
      AreaUnderCurve.exact(
        scores: [-.nan, -0.1, -.infinity] as [Float], labels: [1, 0, 0] as [Float]) == 0)
  }

  @Test func oneClassHasNoAUC() {
    #expect(AreaUnderCurve.exact(scores: [0.1, 0.2] as [Float], labels: [1, 1] as [Float]) == nil)
  }

  @Test func meterKeepsWindowAndCumulativeApart() throws {
    var meter = PrequentialMeter(windowSize: 4)
    // First four are perfectly inverted, last four perfectly ranked.
    for (logit, label) in [(2, 0), (1, 0), (-1, 1), (-2, 1), (-2, 0), (-1, 0), (1, 1), (2, 1)]
      as [(Float, Float)]
    {
      meter.record(logit: logit, label: label)
    }
    #expect(meter.count == 8)
    #expect(meter.positives == 4)
    #expect(meter.windowAUC == 1)
    let cumulative = try #require(meter.cumulativeAUC)
    // Positives ranks among 8 with two-way ties at -2,-1,1,2: each tie group has one positive
    // and one negative -> every tie 1/2, plus cross-group wins: AUC = 0.5.
    #expect(abs(cumulative - 0.5) < 1e-12)
    let logLoss = try #require(meter.logLoss)
    #expect(logLoss > 0)
  }
}
