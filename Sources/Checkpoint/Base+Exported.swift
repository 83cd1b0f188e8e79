// Checkpoint's users see Base's shared types (TopicPartition, JSONValue, ServingScore, ...) without a
// second import, as they saw the copies Checkpoint used to hold.
@_exported import Base
