import Testing

@testable import Learner

/// The bounded cumulative AUC (`LogitHistogram`) against the exact one, and the meter's ring
/// window against the exact figures of its last examples.
@Suite struct LogitHistogramTests {
  @Test func binsCoverTheRangeAndClampBeyondIt() {
    // 4096 bins over [-16, 16): 128 per logit.
    #expect(LogitHistogram.bin(of: 0) == 2048)
    #expect(LogitHistogram.bin(of: 1.0 / 128) == 2049)
    #expect(LogitHistogram.bin(of: -1.0 / 256) == 2047)
    #expect(LogitHistogram.bin(of: -16) == 0)
    #expect(LogitHistogram.bin(of: 15.999) == 4095)
    #expect(LogitHistogram.bin(of: 16) == 4095)
    #expect(LogitHistogram.bin(of: 1e30) == 4095)
    #expect(LogitHistogram.bin(of: .infinity) == 4095)
    #expect(LogitHistogram.bin(of: -1e30) == 0)
    #expect(LogitHistogram.bin(of: -.infinity) == 0)
    #expect(LogitHistogram.bin(of: .nan) == 0)
  }

  @Test func handComputedCaseCountsTiesWithinABinAsHalf() throws {
    // Positives at 0.001 and 1.0, negatives at 0.002 and -1.0. Exact: the pair (0.001, 0.002)
    // is lost, the other three won -> 3/4. Binned: 0.001 and 0.002 share bin 2048 -> that pair
    // counts 1/2 -> 3.5/4. The bound: one shared pair of four, halved -> 1/8, met exactly.
    var histogram = LogitHistogram()
    for (logit, positive) in [(0.001, true), (1.0, true), (0.002, false), (-1.0, false)]
      as [(Float, Bool)]
    {
      histogram.record(logit: logit, isPositive: positive)
    }
    #expect(histogram.bins == [1920, 2048, 2176])
    #expect(histogram.positiveCounts == [0, 1, 1])
    #expect(histogram.negativeCounts == [1, 1, 0])
    #expect(histogram.count == 4 && histogram.positives == 2 && histogram.negatives == 2)
    #expect(try #require(histogram.auc) == 0.875)
    #expect(try #require(histogram.errorBound) == 0.125)
    let exact = try #require(
      AreaUnderCurve.exact(
        scores: [0.001, 1.0, 0.002, -1.0] as [Float], labels: [1, 1, 0, 0] as [Float]))
    #expect(exact == 0.75)

    // Scores in distinct bins give the exact AUC, with a bound of 0.
    var apart = LogitHistogram()
    for (logit, positive) in [(-3, false), (-1, true), (0.5, false), (2, true), (4, true)]
      as [(Float, Bool)]
    {
      apart.record(logit: logit, isPositive: positive)
    }
    // Positives -1, 2, 4 against negatives -3, 0.5: wins 1 + 2 + 2 = 5 of 6.
    #expect(try #require(apart.auc) == 5.0 / 6)
    #expect(apart.errorBound == 0)
    #expect(LogitHistogram().auc == nil)
  }

  @Test func randomScoresStayWithinTheBoundOfTheExactAUC() throws {
    var random = NoiseGenerator(state: 77)
    for (count, separation, spread) in [(20_000, 0.8, 1.0), (50_000, 0.3, 2.5), (5_000, 2.0, 0.2)]
      as [(Int, Float, Float)]
    {
      var histogram = LogitHistogram()
      var scores: [Float] = []
      var labels: [Float] = []
      var noise = [Float](repeating: 0, count: count)
      noise.withUnsafeMutableBufferPointer { random.fillGaussian($0.baseAddress!, count: count) }
      for index in 0..<count {
        let positive = random.nextUniform() < 0.3
        // Rounded to a grid of 1/1000 so that exact ties occur as well.
        let logit =
          ((noise[index] * spread + (positive ? separation : 0) - 1) * 1000).rounded() / 1000
        histogram.record(logit: logit, isPositive: positive)
        scores.append(logit)
        labels.append(positive ? 1 : 0)
      }
      let exact = try #require(AreaUnderCurve.exact(scores: scores, labels: labels))
      let binned = try #require(histogram.auc)
      let bound = try #require(histogram.errorBound)
      #expect(abs(binned - exact) <= bound + 1e-12, "\(count) \(binned) \(exact) \(bound)")
      // Ties within a bin err both ways: the real error is far below the bound, and small.
      #expect(abs(binned - exact) < 1e-3, "\(count) \(binned) \(exact)")
      #expect(bound < 0.01)
      #expect(histogram.bins.count <= LogitHistogram.binCount)
    }
  }

  @Test func bytesRoundTripAndMalformedBytesAreRefused() throws {
    var histogram = LogitHistogram()
    for (logit, positive) in [(0.001, true), (1.0, true), (0.002, false), (-1.0, false)]
      as [(Float, Bool)]
    {
      histogram.record(logit: logit, isPositive: positive)
    }
    for _ in 0..<300 { histogram.record(logit: 1.0, isPositive: false) }
    // Bins 1920 = 0x780, 2048 = 0x800, 2176 = 0x880 as u16; counts as varints, 300 = 0xac 0x02.
    let bytes: [UInt8] = [0x80, 0x07, 0, 1, 0x00, 0x08, 1, 1, 0x80, 0x08, 1, 0xac, 0x02]
    #expect(histogram.encoded == bytes)
    #expect(LogitHistogram(encoded: bytes) == histogram)
    #expect(LogitHistogram(encoded: []) == LogitHistogram())
    let largest = try #require(
      LogitHistogram(bins: [4095], positiveCounts: [.max], negativeCounts: [0]))
    #expect(largest.encoded.count == 2 + 9 + 1)
    #expect(LogitHistogram(encoded: largest.encoded) == largest)

    for malformed: [UInt8] in [
      Array(bytes.dropLast()),  // truncated varint
      Array(bytes.dropLast(2)),  // a count missing
      [0x80],  // half a bin
      [1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0],  // 2^64 - 1
      [1, 0] + [UInt8](repeating: 0x80, count: 10) + [0, 0],  // an 11-byte varint
      [1, 0, 0, 0],  // a bin without examples
      [2, 0, 1, 0, 1, 0, 1, 0],  // bins out of order
    ] {
      #expect(LogitHistogram(encoded: malformed) == nil, "\(malformed)")
    }
  }

  @Test func rebuildingRefusesMalformedBins() {
    #expect(LogitHistogram(bins: [1, 5], positiveCounts: [1, 0], negativeCounts: [0, 2]) != nil)
    #expect(LogitHistogram(bins: [5, 1], positiveCounts: [1, 0], negativeCounts: [0, 2]) == nil)
    #expect(LogitHistogram(bins: [5, 5], positiveCounts: [1, 0], negativeCounts: [0, 2]) == nil)
    #expect(LogitHistogram(bins: [4096], positiveCounts: [1], negativeCounts: [0]) == nil)
    #expect(LogitHistogram(bins: [1], positiveCounts: [0], negativeCounts: [0]) == nil)
    #expect(LogitHistogram(bins: [1], positiveCounts: [-1], negativeCounts: [3]) == nil)
    #expect(LogitHistogram(bins: [1], positiveCounts: [1, 2], negativeCounts: [3]) == nil)
    #expect(
      LogitHistogram(bins: [1, 2], positiveCounts: [.max, .max], negativeCounts: [0, 0]) == nil)
  }

  @Test func meterWindowIsExactOverItsLastExamplesAndItsMemoryStaysBounded() throws {
    let windowSize = 50
    var meter = PrequentialMeter(windowSize: windowSize)
    var random = NoiseGenerator(state: 5)
    var logits: [Float] = []
    var labels: [Float] = []
    for index in 0..<1_234 {
      let label: Float = random.nextUniform() < 0.4 ? 1 : 0
      let logit = Float(random.nextUniform() * 4 - 2) + label * Float(index % 3)
      meter.record(logit: logit, label: label)
      logits.append(logit)
      labels.append(label)
    }
    #expect(meter.count == 1_234)
    #expect(meter.positives == Int(labels.reduce(0, +)))
    let window = meter.window
    #expect(window.logits == Array(logits.suffix(windowSize)))
    #expect(window.labels == labels.suffix(windowSize).map { $0 == 1 })
    #expect(
      meter.windowAUC
        == AreaUnderCurve.exact(
          scores: logits.suffix(windowSize), labels: labels.suffix(windowSize)))
    var sum = 0.0
    for index in (logits.count - windowSize)..<logits.count {
      sum += Double(Logistic.crossEntropy(logit: logits[index], label: labels[index]))
    }
    #expect(meter.windowLogLoss == sum / Double(windowSize))
    let exact = try #require(AreaUnderCurve.exact(scores: logits, labels: labels))
    let cumulative = try #require(meter.cumulativeAUC)
    #expect(abs(cumulative - exact) <= (try #require(meter.cumulativeAUCErrorBound)) + 1e-12)
    // Logits in [-2, 4): at most 6 * 128 bins, however many examples come.
    #expect(meter.histogram.bins.count <= 6 * 128)

    // A meter rebuilt from its parts (as from a snapshot: window oldest first, ring at 0)
    // equals the live one, whose ring starts elsewhere, and keeps giving the same figures.
    var rebuilt = PrequentialMeter(
      windowSize: windowSize, crossEntropySum: meter.crossEntropySum, histogram: meter.histogram,
      windowLogits: window.logits, windowLabels: window.labels)
    #expect(rebuilt == meter)
    for step in 0..<7 {
      meter.record(logit: Float(step) - 3, label: Float(step % 2))
      rebuilt.record(logit: Float(step) - 3, label: Float(step % 2))
    }
    #expect(rebuilt == meter)
    #expect(rebuilt.windowLogLoss?.bitPattern == meter.windowLogLoss?.bitPattern)
    #expect(rebuilt.windowAUC == meter.windowAUC)
  }
}
