// Learner's users see Base's shared types (TopicPartition, JSONValue, ServingScore, ...) without a
// second import, as they saw the copies Learner used to hold.
@_exported import Base
