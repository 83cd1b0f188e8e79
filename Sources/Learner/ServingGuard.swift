/// Decides whether a domain's kernel may serve, from serving-time scores only.
///
/// It keeps the last `window` examples' serving-time logits (kernel, backbone) and labels and,
/// every `checkEvery` examples once it holds `minExamples` with at least `minPerClass` of each
/// class, compares kernel and backbone on the same examples (`PairedComparison`: DeLong's paired
/// AUC test and the paired log-loss difference). A kernel starts in shadow (scored, not served)
/// and serves once it shows no harm (`PairedComparison.showsNoHarm` at `onZ`); a serving kernel
/// goes back to shadow as soon as it is significantly worse on AUC or on log loss at `offZ`
/// (`PairedComparison.showsHarm`), and must then show no harm again on a window of examples
/// all scored after that harm verdict (`window` examples later at the earliest): a verdict on a
/// window that still holds the harmful examples would let a kernel hovering near the
/// thresholds flap in and out. Margins are relative: the
/// log-loss margin is a share of the window's label entropy, so one setting holds from 0.1% to
/// 60% click rate; the AUC margin is in AUC units.
public struct ServingGuard: Sendable, Equatable {
  /// The guard's settings (`drift.guard_*` in pipeline.conf).
  public struct Settings: Sendable, Equatable {
    /// Examples compared (the newest).
    public var window: Int
    /// Examples needed before any decision.
    public var minExamples: Int
    /// Positives and negatives each needed before any decision.
    public var minPerClass: Int
    /// Examples between two comparisons.
    public var checkEvery: Int
    /// How far below the backbone's AUC the kernel's lower bound may be and still count as no
    /// harm (0: the kernel must show, at `onZ`, that it ranks at least as well).
    public var aucMargin: Double
    /// The same for the log loss, as a share of the label entropy.
    public var logLossMargin: Double
    /// One-sided z of the no-harm bounds (2.326: 99%; a shadowed kernel is compared every
    /// `checkEvery` examples, so a looser bound lets a worse kernel through by chance).
    public var onZ: Double
    /// One-sided z of the harm test (2.326: 99%).
    public var offZ: Double

    /// Creates settings; the defaults are the shipped ones, calibrated by `iak-stream bench
    /// guard` (`GuardCalibration`; figures in docs/experiments.md).
    public init(
      window: Int = 2000, minExamples: Int = 200, minPerClass: Int = 20, checkEvery: Int = 50,
      aucMargin: Double = 0, logLossMargin: Double = 0.01, onZ: Double = 2.326,
      offZ: Double = 2.326
    ) {
      self.window = max(1, window)
      self.minExamples = max(4, minExamples)
      self.minPerClass = max(2, minPerClass)
      self.checkEvery = max(1, checkEvery)
      self.aucMargin = aucMargin
      self.logLossMargin = logLossMargin
      self.onZ = onZ
      self.offZ = offZ
    }
  }

  /// What a comparison decided.
  public enum Verdict: Sendable, Equatable {
    /// Not enough evidence either way (or not checked).
    case undecided
    /// The kernel showed no harm.
    case noHarm
    /// The kernel is significantly worse.
    case harm
  }

  /// The settings.
  public let settings: Settings
  /// Per slot: kernel logit, backbone logit, label (0 or 1), in ring order.
  var slots: [Float]
  /// The slot the next example goes to.
  var next = 0
  /// Examples held (at most `settings.window`).
  public internal(set) var count = 0
  /// Examples since the last comparison.
  var sinceCheck = 0
  /// Whether the kernel serves.
  public internal(set) var isServing = false
  /// The last comparison made, if any.
  public internal(set) var lastComparison: PairedComparison?
  /// The last verdict.
  public internal(set) var lastVerdict = Verdict.undecided
  /// Examples since the last harm verdict, while fewer than `settings.window` (nil otherwise):
  /// until then a no-harm verdict does not let the kernel serve.
  public internal(set) var examplesSinceHarm: Int?

  /// Creates an empty guard, in shadow.
  public init(settings: Settings = Settings()) {
    self.settings = settings
    slots = [Float](repeating: 0, count: 3 * settings.window)
  }

  /// Adds one example's serving-time logits and label; returns the verdict when it compared.
  public mutating func append(kernelLogit: Float, backboneLogit: Float, isPositive: Bool)
    -> Verdict?
  {
    let slot = 3 * next
    slots[slot] = kernelLogit
    slots[slot + 1] = backboneLogit
    slots[slot + 2] = isPositive ? 1 : 0
    next = (next + 1) % settings.window
    count = min(count + 1, settings.window)
    sinceCheck += 1
    if let since = examplesSinceHarm {
      examplesSinceHarm = since + 1 < settings.window ? since + 1 : nil
    }
    guard sinceCheck >= settings.checkEvery, count >= settings.minExamples else { return nil }
    sinceCheck = 0
    var verdict = compare()
    if verdict == .harm { examplesSinceHarm = 0 }
    // No harm shown on a window that still holds examples from before the last harm verdict
    // is no evidence yet.
    if verdict == .noHarm, examplesSinceHarm != nil { verdict = .undecided }
    lastVerdict = verdict
    switch verdict {
    case .noHarm: isServing = true
    case .harm: isServing = false
    case .undecided: break
    }
    return verdict
  }

  /// Holds the newest `settings.window` of `slots` (kernel logit, backbone logit, label triples,
  /// oldest first) without comparing anything (a restore sets the decisions itself).
  mutating func restore(slots saved: [Float]) {
    let kept = min(saved.count / 3, settings.window)
    slots.replaceSubrange(0..<(3 * kept), with: saved.suffix(3 * kept))
    count = kept
    next = kept % settings.window
  }

  /// Forgets every example and goes back to shadow (the kernel was replaced).
  public mutating func restart() {
    for index in slots.indices { slots[index] = 0 }
    next = 0
    count = 0
    sinceCheck = 0
    isServing = false
    lastComparison = nil
    lastVerdict = .undecided
    examplesSinceHarm = nil
  }

  /// The held examples, oldest first: kernel logits, backbone logits, labels.
  public var examples: (kernel: [Float], backbone: [Float], labels: [Bool]) {
    let start = count == settings.window ? next : 0
    var kernel: [Float] = []
    var backbone: [Float] = []
    var labels: [Bool] = []
    kernel.reserveCapacity(count)
    backbone.reserveCapacity(count)
    labels.reserveCapacity(count)
    for offset in 0..<count {
      let slot = 3 * ((start + offset) % settings.window)
      kernel.append(slots[slot])
      backbone.append(slots[slot + 1])
      labels.append(slots[slot + 2] >= 0.5)
    }
    return (kernel, backbone, labels)
  }

  /// Guards are equal when they hold the same examples in the same order and decided the same,
  /// wherever their rings start (a restored guard's starts at 0).
  public static func == (lhs: ServingGuard, rhs: ServingGuard) -> Bool {
    let left = lhs.examples
    let right = rhs.examples
    return lhs.settings == rhs.settings && lhs.count == rhs.count
      && lhs.sinceCheck == rhs.sinceCheck && lhs.isServing == rhs.isServing
      && lhs.examplesSinceHarm == rhs.examplesSinceHarm
      && lhs.lastComparison == rhs.lastComparison && lhs.lastVerdict == rhs.lastVerdict
      && left.kernel == right.kernel && left.backbone == right.backbone
      && left.labels == right.labels
  }

  private mutating func compare() -> Verdict {
    let held = examples
    let positives = held.labels.reduce(0) { $0 + ($1 ? 1 : 0) }
    guard positives >= settings.minPerClass, count - positives >= settings.minPerClass,
      let comparison = PairedComparison(
        kernel: held.kernel, backbone: held.backbone, labels: held.labels)
    else { return .undecided }
    lastComparison = comparison
    if comparison.showsHarm(z: settings.offZ) { return .harm }
    if comparison.showsNoHarm(
      z: settings.onZ, aucMargin: settings.aucMargin, logLossMargin: settings.logLossMargin)
    {
      return .noHarm
    }
    return .undecided
  }
}
