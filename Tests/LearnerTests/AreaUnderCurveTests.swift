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
