/// Where one fully connected layer's parameters live in `Backbone.dense`.
struct DenseLayer: Sendable, Equatable {
  /// Width of the layer's input.
  var inputWidth: Int
  /// Width of the layer's output.
  var outputWidth: Int
  /// Offset of the `[input x output]` weight matrix.
  var weightOffset: Int
  /// Offset of the `[output]` bias.
  var biasOffset: Int

  /// The hidden layers and the output layer of a backbone, packed one after the other.
  static func layout(for config: BackboneConfig) -> [DenseLayer] {
    let widths = [config.inputWidth] + config.hiddenSizes + [1]
    var layers: [DenseLayer] = []
    var offset = 0
    for index in 0..<(widths.count - 1) {
      let layer = DenseLayer(
        inputWidth: widths[index], outputWidth: widths[index + 1], weightOffset: offset,
        biasOffset: offset + widths[index] * widths[index + 1])
      layers.append(layer)
      offset = layer.biasOffset + layer.outputWidth
    }
    return layers
  }
}
