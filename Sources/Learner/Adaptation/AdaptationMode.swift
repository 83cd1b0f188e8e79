/// What the trainer adapts per domain; the alternatives exist for comparison experiments.
public enum AdaptationMode: String, Sendable, Equatable, CaseIterable {
  /// One IAK kernel per domain on the frozen backbone (the service's purpose).
  case kernel
  /// One trainable logit bias per domain on the frozen backbone.
  case outputBias = "output_bias"
  /// One online copy of the whole backbone, fine-tuned on every domain's batches (no kernels).
  case fullFineTuning = "full_fine_tuning"
}
