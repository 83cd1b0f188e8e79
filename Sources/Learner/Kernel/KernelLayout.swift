/// Where each of a kernel's parameters lives in its flat parameter vector.
///
/// Encoder (optional hidden layer `[m x H]` + `[H]`, then `[in x 2k]` + `[2k]` producing
/// `mu = s[0..<k]` and `log_var = s[k..<2k]`), then decoder `[k x m]` + `[m]`.
public struct KernelLayout: Sendable, Equatable {
  /// Width m of the representation the kernel modifies.
  public let width: Int
  /// Width H of the encoder's hidden layer (0 = none).
  public let encoderHidden: Int
  /// Width k of the bottleneck.
  public let bottleneck: Int
  /// Offsets of the parameter blocks.
  let hiddenWeight: Int, hiddenBias: Int, encoderWeight: Int, encoderBias: Int
  let decoderWeight: Int, decoderBias: Int
  /// Total number of parameters.
  public let parameterCount: Int

  /// The layout for a representation of width `width` and the given kernel shape.
  public init(width: Int, encoderHidden: Int, bottleneck: Int) {
    self.width = width
    self.encoderHidden = encoderHidden
    self.bottleneck = bottleneck
    hiddenWeight = 0
    hiddenBias = width * encoderHidden
    encoderWeight = hiddenBias + encoderHidden
    let inputWidth = encoderHidden > 0 ? encoderHidden : width
    encoderBias = encoderWeight + inputWidth * 2 * bottleneck
    decoderWeight = encoderBias + 2 * bottleneck
    decoderBias = decoderWeight + bottleneck * width
    parameterCount = decoderBias + width
  }

  /// Width of the layer that produces `mu` and `log_var`.
  var encoderInputWidth: Int { encoderHidden > 0 ? encoderHidden : width }

  /// The named blocks: name, offset, shape (the names used in exported tensors).
  var blocks: [(name: String, offset: Int, shape: [Int])] {
    var result: [(String, Int, [Int])] = []
    if encoderHidden > 0 {
      result.append(("encoder_hidden.weight", hiddenWeight, [width, encoderHidden]))
      result.append(("encoder_hidden.bias", hiddenBias, [encoderHidden]))
    }
    result.append(("encoder.weight", encoderWeight, [encoderInputWidth, 2 * bottleneck]))
    result.append(("encoder.bias", encoderBias, [2 * bottleneck]))
    result.append(("decoder.weight", decoderWeight, [bottleneck, width]))
    result.append(("decoder.bias", decoderBias, [width]))
    return result
  }
}
