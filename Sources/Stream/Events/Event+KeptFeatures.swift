extension Event {
  /// The event with only what `features` names: the first categorical feature of each name in
  /// `features` (the one `feature(_:)` returns) and the numeric features it names; every other
  /// feature and `unreadFields` are dropped. With `features` nil every feature is kept.
  ///
  /// What a labelled impression keeps on its way to training (`LabelJoiner.Configuration
  /// .keptFeatures`): `feature(_:)` and `numeric` answer as before for every name in `features`.
  public func keepingOnly(_ features: Set<String>?) -> Event {
    var kept = self
    kept.unreadFields = []
    guard let features else { return kept }
    // Most events carry just the features training reads, each once: they are kept as they are.
    let isKeptAlready =
      categorical.count <= features.count
      && categorical.indices.allSatisfy { index in
        let name = categorical[index].name
        return features.contains(name) && !categorical[..<index].contains { $0.name == name }
      }
    if !isKeptAlready {
      var seen: Set<String> = []
      kept.categorical = categorical.filter {
        features.contains($0.name) && seen.insert($0.name).inserted
      }
    }
    if !numeric.keys.allSatisfy(features.contains) {
      kept.numeric = numeric.filter { features.contains($0.key) }
    }
    return kept
  }
}
