/// Decides whether a domain's kernel may serve, from serving-time scores only.
///
/// It keeps the last `window` examples' serving-time logits (kernel, backbone) and labels and,
/// every `checkEvery` examples once it holds `minExamples` with at least `minPerClass` of each
/// class, compares kernel and backbone on the same examples (`PairedComparison`: DeLong's paired
/// AUC test and the paired log-loss difference). A kernel starts in shadow (scored, not served). It
/// serves once it has shown no harm twice, on examples that do not overlap: a comparison of its
/// window passes (`PairedComparison.showsNoHarm` at `onZ`), and then the examples scored after that
/// pass (at least `minExamples` of them, the newest `window`) pass on their own at `confirmZ`. The
/// first pass is one of many looks (a comparison every `checkEvery` examples), so a kernel no
/// better than the backbone gets one now and then by chance, mostly on the small windows of a
/// domain's first examples; on the examples that follow it is only as good as it really is, and the
/// confirmation stops it (the winner's curse: on the MovieLens replay every IAK kernel let in by a
/// single pass then ranked worse than the backbone; see docs/served-analysis.md). Harm on the
/// examples after the pass drops it. A serving kernel goes back to shadow as soon as it is
/// significantly worse on AUC or on log loss at `offZ` (`PairedComparison.showsHarm`), and its next
/// first pass must come from a window of examples all scored after that harm verdict (`window`
/// examples later at the earliest): a verdict on a window that still holds the harmful examples
/// would let a kernel hovering near the thresholds flap in and out. Margins are relative: the
/// log-loss margin is a share of the window's label entropy, so one setting holds from 0.1% to 60%
/// click rate; the AUC margin is in AUC units.
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
    /// One-sided z of the no-harm bounds that confirm a first pass, on the examples scored after
    /// it (1.282: 90%). Those examples are not the ones the pass was chosen on, so a bound
    /// looser than `onZ` is enough to stop a kernel that passed by chance (it is no better on
    /// them), and a kernel that truly helps meets it soon.
    public var confirmZ: Double

    /// Creates settings; the defaults are the shipped ones, calibrated by `iak-stream bench
    /// guard` (`GuardCalibration`; figures in docs/experiments.md).
    public init(
      window: Int = 2000, minExamples: Int = 200, minPerClass: Int = 20, checkEvery: Int = 50,
      aucMargin: Double = 0, logLossMargin: Double = 0.01, onZ: Double = 2.326,
      offZ: Double = 2.326, confirmZ: Double = 1.282
    ) {
      self.window = max(1, window)
      self.minExamples = max(4, minExamples)
      self.minPerClass = max(2, minPerClass)
      self.checkEvery = max(1, checkEvery)
      self.aucMargin = aucMargin
      self.logLossMargin = logLossMargin
      self.onZ = onZ
      self.offZ = offZ
      self.confirmZ = confirmZ
    }
  }

  /// What a comparison decided.
  public enum Verdict: Sendable, Equatable {
    /// Not enough evidence either way (or not checked); also a shadowed kernel's first pass,
    /// until it is confirmed.
    case undecided
    /// The kernel showed no harm (a shadowed kernel: confirmed, so it serves).
    case noHarm
    /// The kernel is significantly worse.
    case harm
  }

  /// The settings.
  public let settings: Settings
  /// Per slot: kernel logit, backbone logit, label (0 or 1), in ring order. It grows with the
  /// examples up to `settings.window` slots, so a quiet domain holds only what it saw.
  var slots: [Float] = []
  /// Per slot: the kernel's and the backbone's log loss on its example, in the ring order of
  /// `slots`. Derived from `slots` (so not saved, and computed again on restore); kept so that a
  /// check does not compute `2 * window` log losses again every `checkEvery` examples.
  var losses: [Float] = []
  /// Per slot: the kernel's and the backbone's key (`PairedComparison.key(bin:isPositive:)`:
  /// the logit's bin and the label), in the ring order of `slots`. Derived like `losses`, so
  /// that a check does not bin `2 * window` logits again every `checkEvery` examples.
  var keys: [Int16] = []
  /// Of the examples held, how many are positive (derived from `slots`, kept as they come and
  /// go so that a check does not count them).
  var positivesHeld = 0
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
  /// until then a no-harm verdict does not count as a first pass.
  public internal(set) var examplesSinceHarm: Int?
  /// Examples since a shadowed kernel's first pass, while that pass awaits its confirmation
  /// (nil otherwise); it stops counting at `settings.window`, when the whole window was scored
  /// after the pass.
  public internal(set) var examplesSincePass: Int?

  /// Creates an empty guard, in shadow.
  public init(settings: Settings = Settings()) {
    self.settings = settings
  }

  /// Adds one example's serving-time logits and label; returns the verdict when it compared.
  public mutating func append(kernelLogit: Float, backboneLogit: Float, isPositive: Bool)
    -> Verdict?
  {
    let slot = 3 * next
    let label: Float = isPositive ? 1 : 0
    let (kernelLoss, backboneLoss) = Self.losses(kernelLogit, backboneLogit, label: label)
    let (kernelKey, backboneKey) = Self.keys(kernelLogit, backboneLogit, isPositive: isPositive)
    if isPositive { positivesHeld += 1 }
    if slot == slots.count {
      if slots.count + 3 > slots.capacity {
        // Grown by doubling, but never past the window.
        let slotCount = min(settings.window, max(16, 2 * slots.count / 3))
        slots.reserveCapacity(3 * slotCount)
        losses.reserveCapacity(2 * slotCount)
        keys.reserveCapacity(2 * slotCount)
      }
      slots += [kernelLogit, backboneLogit, label]
      losses += [kernelLoss, backboneLoss]
      keys += [kernelKey, backboneKey]
    } else {
      if slots[slot + 2] >= 0.5 { positivesHeld -= 1 }
      slots[slot] = kernelLogit
      slots[slot + 1] = backboneLogit
      slots[slot + 2] = label
      losses[2 * next] = kernelLoss
      losses[2 * next + 1] = backboneLoss
      keys[2 * next] = kernelKey
      keys[2 * next + 1] = backboneKey
    }
    next = (next + 1) % settings.window
    count = min(count + 1, settings.window)
    sinceCheck += 1
    if let since = examplesSinceHarm {
      examplesSinceHarm = since + 1 < settings.window ? since + 1 : nil
    }
    if let since = examplesSincePass { examplesSincePass = min(since + 1, settings.window) }
    guard sinceCheck >= settings.checkEvery, count >= settings.minExamples else { return nil }
    sinceCheck = 0
    var verdict = compare()
    if verdict == .harm {
      examplesSinceHarm = 0
      examplesSincePass = nil
    }
    // No harm shown on a window that still holds examples from before the last harm verdict
    // is no evidence yet.
    if verdict == .noHarm, examplesSinceHarm != nil { verdict = .undecided }
    if !isServing, verdict != .harm { verdict = confirmation(of: verdict) }
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
    slots = Array(saved.suffix(3 * kept))
    losses = []
    losses.reserveCapacity(2 * kept)
    keys = []
    keys.reserveCapacity(2 * kept)
    for slot in stride(from: 0, to: slots.count, by: 3) {
      let isPositive = slots[slot + 2] >= 0.5
      let (kernel, backbone) = Self.losses(
        slots[slot], slots[slot + 1], label: isPositive ? 1 : 0)
      losses.append(kernel)
      losses.append(backbone)
      let (kernelKey, backboneKey) = Self.keys(
        slots[slot], slots[slot + 1], isPositive: isPositive)
      keys.append(kernelKey)
      keys.append(backboneKey)
    }
    count = kept
    next = kept % settings.window
    positivesHeld = stride(from: 2, to: slots.count, by: 3).reduce(0) {
      $0 + (slots[$1] >= 0.5 ? 1 : 0)
    }
  }

  /// Forgets every example and goes back to shadow (the kernel was replaced).
  public mutating func restart() {
    slots.removeAll(keepingCapacity: true)
    losses.removeAll(keepingCapacity: true)
    keys.removeAll(keepingCapacity: true)
    positivesHeld = 0
    next = 0
    count = 0
    sinceCheck = 0
    isServing = false
    lastComparison = nil
    lastVerdict = .undecided
    examplesSinceHarm = nil
    examplesSincePass = nil
  }

  /// The held examples, oldest first: kernel logits, backbone logits, labels.
  public var examples: (kernel: [Float], backbone: [Float], labels: [Bool]) {
    var kernel: [Float] = []
    var backbone: [Float] = []
    var labels: [Bool] = []
    let runs = newest()
    for position in [runs.0, runs.1].joined() {
      kernel.append(slots[3 * position])
      backbone.append(slots[3 * position + 1])
      labels.append(slots[3 * position + 2] >= 0.5)
    }
    return (kernel, backbone, labels)
  }

  /// The kernel's and the backbone's log loss on one example (what `losses` holds per slot).
  private static func losses(_ kernelLogit: Float, _ backboneLogit: Float, label: Float) -> (
    Float, Float
  ) {
    (
      Logistic.crossEntropy(logit: kernelLogit, label: label),
      Logistic.crossEntropy(logit: backboneLogit, label: label)
    )
  }

  /// The kernel's and the backbone's key (what `keys` holds per slot).
  private static func keys(_ kernelLogit: Float, _ backboneLogit: Float, isPositive: Bool) -> (
    Int16, Int16
  ) {
    (
      PairedComparison.key(bin: PairedComparison.bin(kernelLogit), isPositive: isPositive),
      PairedComparison.key(bin: PairedComparison.bin(backboneLogit), isPositive: isPositive)
    )
  }

  /// Guards are equal when they hold the same examples in the same order and decided the same,
  /// wherever their rings start (a restored guard's starts at 0).
  public static func == (lhs: ServingGuard, rhs: ServingGuard) -> Bool {
    let left = lhs.examples
    let right = rhs.examples
    return lhs.settings == rhs.settings && lhs.count == rhs.count
      && lhs.sinceCheck == rhs.sinceCheck && lhs.isServing == rhs.isServing
      && lhs.examplesSinceHarm == rhs.examplesSinceHarm
      && lhs.examplesSincePass == rhs.examplesSincePass
      && lhs.lastComparison == rhs.lastComparison && lhs.lastVerdict == rhs.lastVerdict
      && left.kernel == right.kernel && left.backbone == right.backbone
      && left.labels == right.labels
  }

  /// A shadowed kernel's verdict: no harm on its window (`verdict`) is only a first pass, and
  /// the kernel serves (no harm) once the examples scored since then show no harm on their own
  /// at `confirmZ`; harm on them drops the pass.
  private mutating func confirmation(of verdict: Verdict) -> Verdict {
    guard let since = examplesSincePass else {
      if verdict == .noHarm { examplesSincePass = 0 }
      return .undecided
    }
    guard since >= settings.minExamples else { return .undecided }
    switch judge(newest(since), onZ: settings.confirmZ).verdict {
    case .noHarm:
      examplesSincePass = nil
      return .noHarm
    case .harm:
      examplesSincePass = nil
      return .undecided
    case .undecided:
      return .undecided
    }
  }

  /// The ring positions of the newest `length` held examples (all of them by default), oldest
  /// first: at most two runs, the second from the ring's start.
  private func newest(_ length: Int = .max) -> (Range<Int>, Range<Int>) {
    let kept = min(length, count)
    let first = ((count == settings.window ? next : 0) + (count - kept)) % settings.window
    let end = first + kept
    return end <= settings.window
      ? (first..<end, 0..<0) : (first..<settings.window, 0..<(end - settings.window))
  }

  private mutating func compare() -> Verdict {
    let result = judge(newest(), positives: positivesHeld, onZ: settings.onZ)
    if let comparison = result.comparison { lastComparison = comparison }
    return result.verdict
  }

  /// The verdict on the held examples at ring positions `runs` (harm at `offZ`, else no harm
  /// at `onZ`), with the comparison it rests on (nil: too few of a class to compare). The
  /// comparison reads them in place.
  private func judge(
    _ runs: (Range<Int>, Range<Int>), positives known: Int? = nil, onZ: Double
  ) -> (verdict: Verdict, comparison: PairedComparison?) {
    let comparison = losses.withUnsafeBufferPointer { losses in
      keys.withUnsafeBufferPointer { keys in
        let held = PairedComparison.Examples(losses: losses, keys: keys, runs: runs)
        let positives = known ?? held.positives()
        guard positives >= settings.minPerClass, held.count - positives >= settings.minPerClass
        else { return PairedComparison?.none }
        return PairedComparison(held, positives: positives)
      }
    }
    guard let comparison else { return (.undecided, nil) }
    if comparison.showsHarm(z: settings.offZ) { return (.harm, comparison) }
    if comparison.showsNoHarm(
      z: onZ, aucMargin: settings.aucMargin, logLossMargin: settings.logLossMargin)
    {
      return (.noHarm, comparison)
    }
    return (.undecided, comparison)
  }
}
