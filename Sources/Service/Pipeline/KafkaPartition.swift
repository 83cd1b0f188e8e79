import Stream

/// Stream's topic-partition, named apart from Checkpoint's (and from `Foundation.Stream`).
public typealias KafkaPartition = TopicPartition
