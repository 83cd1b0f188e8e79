extension Settings {
  /// The topics `serve` writes to (`publish.topic`, `alert.topic`, `input.dead_letter_topic`,
  /// `checkpoint.state_topic`), in that order, without the ones left empty.
  public var outputTopics: [String] {
    [publish.topic, alert.topic, input.deadLetterTopic, checkpoint.stateTopic].filter {
      !$0.isEmpty
    }
  }
}
