/// One domain's information-aware adaptive kernel with its optimiser and noise state.
///
/// Encoder `h -> [mu, log_var]` (optionally through one ReLU layer), `z = mu + exp(log_var/2) *
/// eps` while training and `z = mu` when scoring, decoder `z -> delta` initialised to zero, and
/// `h' = h + delta` continues through the frozen layers above. Everything that determines how
/// training continues (parameters, Adam moments and step, the noise generator, the example count
/// and the activation flag) is part of this value, so a snapshot of it resumes bit for bit.
public struct IAKKernel: Sendable, Equatable {
  /// The domain the kernel adapts to.
  public let domain: String
  /// Where the parameters live in `parameters`.
  public let layout: KernelLayout
  /// All parameters, laid out by `layout`.
  var parameters: [Float]
  /// Adam's first moments, one per parameter.
  var firstMoment: [Float]
  /// Adam's second moments, one per parameter.
  var secondMoment: [Float]
  /// Adam steps taken so far.
  public internal(set) var stepCount: Int
  /// The generator of the reparameterisation noise.
  public internal(set) var noise: NoiseGenerator
  /// Examples trained on so far.
  public internal(set) var examplesSeen: Int
  /// Whether the kernel serves (set once it has seen `activationMinExamples`).
  public internal(set) var isActive: Bool

  /// Creates the zero-effect kernel of `domain`: a randomly initialised encoder (seeded from
  /// the domain name and `seed`) and a zero decoder, so scores equal the backbone's.
  public init(domain: String, layout: KernelLayout, seed: UInt64) {
    self.domain = domain
    self.layout = layout
    var random = NoiseGenerator(domain: domain, seed: seed ^ 0x6b65_726e_656c)
    var parameters = [Float](repeating: 0, count: layout.parameterCount)
    func fill(offset: Int, fanIn: Int, count: Int, gain: Double) {
      let limit = gain * (6.0 / Double(max(1, fanIn))).squareRoot()
      for index in 0..<count {
        parameters[offset + index] = Float((random.nextUniform() * 2 - 1) * limit)
      }
    }
    if layout.encoderHidden > 0 {
      fill(
        offset: layout.hiddenWeight, fanIn: layout.width,
        count: layout.width * layout.encoderHidden, gain: 1)
    }
    fill(
      offset: layout.encoderWeight, fanIn: layout.encoderInputWidth,
      count: layout.encoderInputWidth * 2 * layout.bottleneck, gain: 0.5)
    self.parameters = parameters
    self.firstMoment = [Float](repeating: 0, count: layout.parameterCount)
    self.secondMoment = [Float](repeating: 0, count: layout.parameterCount)
    self.stepCount = 0
    self.noise = NoiseGenerator(domain: domain, seed: seed)
    self.examplesSeen = 0
    self.isActive = false
  }

  /// Creates the kernel of `domain` for a backbone and kernel configuration.
  public init(domain: String, backbone: BackboneConfig, config: KernelConfig, seed: UInt64) {
    self.init(
      domain: domain,
      layout: KernelLayout(
        width: backbone.width(atLevel: config.insertAt.level),
        encoderHidden: config.encoderHidden, bottleneck: config.bottleneck),
      seed: seed)
  }

  /// Number of trainable parameters.
  public var parameterCount: Int { layout.parameterCount }

  /// Whether the decoder is exactly zero (a kernel that leaves the backbone unchanged).
  public var hasZeroDecoder: Bool {
    parameters[layout.decoderWeight..<layout.parameterCount].allSatisfy { $0 == 0 }
  }
}
