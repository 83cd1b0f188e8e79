import Learner

extension Configuration {
  /// The problems of settings that depend on each other or on the model, checked the way the
  /// learner checks them when it starts (`BackboneConfig`, `KernelConfig`, `TrainConfig`,
  /// `PretrainConfig`, the domain router): `config` reports what `replay` or `serve` would
  /// refuse, at the key that causes it. Empty when the configuration is usable.
  public func problems() -> [ConfigError] {
    var problems: [ConfigError] = []
    func check(_ body: () throws -> Void) {
      do {
        try body()
      } catch let error as ConfigError {
        problems.append(contentsOf: error.problems)
      } catch let error as LearnerError {
        problems.append(located(error))
      } catch {
        problems.append(ConfigError(location: "configuration", message: "\(error)"))
      }
    }
    check {
      let backbone = try backboneConfig()
      try backbone.validate()
      try kernelConfig().validate(for: backbone)
    }
    check { try trainConfig.validate() }
    check { try pretrainConfig.validate() }
    check { _ = try routerConfiguration() }
    let label = settings.label
    if label.mode == .esDFM && label.window > label.wait {
      problems.append(
        ConfigError(
          location: location(of: "label.window"),
          message:
            "label.window = \(string("label.window")): must be at most label.wait = "
            + "\(string("label.wait")) (an impression trains as a negative when its window "
            + "ends; its label is final when its wait ends)"))
    }
    return problems
  }

  /// Where `key`'s value came from, as `ConfigError` locations say it.
  private func location(of key: String) -> String {
    origins[key].map { $0 == "default" ? "default \(key)" : $0 } ?? "configuration"
  }

  /// `error` located at the key its message starts with (`train.learning_rate = 0.0: ...`),
  /// that is where that key's value came from.
  private func located(_ error: LearnerError) -> ConfigError {
    let message: String
    switch error {
    case .invalidConfiguration(let text), .invalidModel(let text), .io(let text): message = text
    }
    let key = String(message.prefix { !$0.isWhitespace && $0 != ":" })
    return ConfigError(location: location(of: key), message: message)
  }
}
