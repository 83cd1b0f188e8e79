/// The proxies' raw values on one batch.
struct BatchMeasurement {
  /// Rows of the batch.
  var rows: Int
  var klPerDimension: [Double]
  var clickRate: Double
  var kernelCrossEntropy: Double
  var backboneCrossEntropy: Double
  var relativeDecoderNorm: Double
  var muVariance: Double
}
