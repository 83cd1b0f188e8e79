import Checkpoint

/// Checkpoint's topic-partition as stored in snapshot manifests.
public typealias StoredPartition = TopicPartition
