extension AdaptationMode {
  /// The stage that adapts in this mode, for a trainer on `backbone` with `config`, stepping
  /// with `optimizer`.
  func makeStage(backbone: Backbone, config: TrainConfig, optimizer: AdamOptimizer)
    -> any AdaptationStage
  {
    switch self {
    case .kernel:
      KernelStage(optimizer: optimizer, clip: config.gradientClip)
    case .outputBias:
      OutputBiasStage(optimizer: optimizer)
    case .fullFineTuning:
      FullFineTuningStage(
        backbone: backbone, capacity: config.batchMax, optimizer: optimizer,
        clip: config.gradientClip)
    }
  }
}
