extension Event {
  /// The event with only what `features` names: the first categorical feature of each name in
  /// `features` (the one `feature(_:)` returns) and the numeric features it names; every other
  /// feature and `unreadFields` are dropped. With `features` nil every feature is kept.
  ///
  /// What a labelled impression keeps on its way to training (`LabelJoiner.Configuration
  /// .keptFeatures`): `feature(_:)` and `numeric` answer as before for every name in `features`.
  public func keepingOnly(_ features: Set<String>?) -> Event {
    var names: [String] = []
    return keepingOnly(features, sameAs: &names)
  }

  /// `keepingOnly(features)`, quicker on a stream of events alike: `keptNames` holds the
  /// categorical names, in order, of an event that had nothing to drop, and an event whose
  /// names are the same is checked against them (one comparison each) rather than looked up in
  /// `features` (a hash each, about 3% of serve's training thread). A caller keeps `keptNames`
  /// for one `features` set; this updates it.
  public func keepingOnly(_ features: Set<String>?, sameAs keptNames: inout [String]) -> Event {
    var kept = self
    kept.unreadFields = []
    guard let features else { return kept }
    // Most events carry just the features training reads, each once: they are kept as they are.
    let isLikeKept =
      categorical.count == keptNames.count
      && categorical.indices.allSatisfy { categorical[$0].name == keptNames[$0] }
    let isKeptAlready =
      isLikeKept
      || (categorical.count <= features.count
        && categorical.indices.allSatisfy { index in
          let name = categorical[index].name
          return features.contains(name) && !categorical[..<index].contains { $0.name == name }
        })
    if !isKeptAlready {
      var seen: Set<String> = []
      kept.categorical = categorical.filter {
        features.contains($0.name) && seen.insert($0.name).inserted
      }
    } else if !isLikeKept {
      keptNames = categorical.map(\.name)
    }
    if !numeric.keys.allSatisfy(features.contains) {
      kept.numeric = numeric.filter { features.contains($0.key) }
    }
    return kept
  }
}
