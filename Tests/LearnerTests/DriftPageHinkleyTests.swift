import Testing

@testable import Learner

@Suite struct DriftPageHinkleyTests {
  @Test func rawIncreaseMatchesHandComputedSums() {
    // Values 0, 0, 2: means 0, 0, 2/3; deviations 0, 0, 4/3; with delta 0 the sum reaches 4/3.
    var test = PageHinkley(
      delta: 0, lambda: 1, minExamples: 0, direction: .increase, isStandardized: false)
    #expect(test.add(0) == nil)
    #expect(test.add(0) == nil)
    let detection = test.add(2)
    #expect(detection?.direction == .increase)
    #expect(abs((detection?.statistic ?? 0) - 4.0 / 3.0) < 1e-12)
    #expect(detection?.examples == 3)
    #expect(abs((detection?.mean ?? 0) - 2.0 / 3.0) < 1e-12)
    #expect(test.count == 0, "the test restarts after a detection")
  }

  @Test func toleranceIsSubtractedFromEveryDeviation() {
    // delta 0.5: sums -0.5, -1 (the minimum), then -1 + 4/3 - 0.5; statistic 5/6 < 1.
    var test = PageHinkley(
      delta: 0.5, lambda: 1, minExamples: 0, direction: .increase, isStandardized: false)
    for value in [0.0, 0, 2] { #expect(test.add(value) == nil) }
    #expect(abs(test.statistic - 5.0 / 6.0) < 1e-12)
  }

  @Test func decreaseIsFoundOnlyWhenLookedFor() {
    var down = PageHinkley(
      delta: 0, lambda: 1, minExamples: 0, direction: .decrease, isStandardized: false)
    var up = PageHinkley(
      delta: 0, lambda: 1, minExamples: 0, direction: .increase, isStandardized: false)
    var both = PageHinkley(
      delta: 0, lambda: 1, minExamples: 0, direction: .both, isStandardized: false)
    var found: [PageHinkley.Detection?] = []
    for value in [2.0, 2, 0] {
      _ = up.add(value)
      found = [down.add(value), both.add(value)]
    }
    #expect(found[0]?.direction == .decrease)
    #expect(abs((found[0]?.statistic ?? 0) - 4.0 / 3.0) < 1e-12)
    #expect(found[1]?.direction == .decrease)
    #expect(up.statistic == 0)
  }

  @Test func standardisedDeviationsUseTheRunningStandardDeviation() {
    // Values 1, 3: mean 2, population variance 1, deviation of 3 is exactly 1 sd.
    var test = PageHinkley(delta: 0, lambda: 0.5, minExamples: 2, direction: .increase)
    #expect(test.add(1) == nil)
    let detection = test.add(3)
    #expect(detection?.statistic == 1)
  }

  @Test func noSignalBeforeMinimumExamples() {
    var test = PageHinkley(
      delta: 0, lambda: 1, minExamples: 4, direction: .increase, isStandardized: false)
    for value in [0.0, 0, 2] { #expect(test.add(value) == nil) }
    #expect(test.statistic > 1, "the statistic crossed lambda but the test is still learning")
    // A fourth value 2: mean 1, deviation 1, sum 4/3 + 1.
    let detection = test.add(2)
    #expect(abs((detection?.statistic ?? 0) - 7.0 / 3.0) < 1e-12)
  }

  @Test func constantAndNonFiniteValuesNeverSignal() {
    var test = PageHinkley(delta: 0.1, lambda: 80, minExamples: 100, direction: .both)
    for _ in 0..<10_000 { #expect(test.add(0.3) == nil) }
    #expect(test.add(.nan) == nil)
    #expect(test.add(.infinity) == nil)
    #expect(test.count == 10_000)
    #expect(test.statistic == 0)
  }
}
