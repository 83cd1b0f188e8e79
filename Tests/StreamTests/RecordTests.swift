import Base
import Testing

@testable import Stream

@Suite struct RecordTests {
  @Test func topicPartitionsOrderByTopicThenPartition() {
    let sorted = [
      TopicPartition(topic: "b", partition: 0), TopicPartition(topic: "a", partition: 2),
      TopicPartition(topic: "a", partition: 1),
    ].sorted()
    #expect(sorted.map(\.description) == ["a/1", "a/2", "b/0"])
  }

  @Test func aTopicPartitionReadsBackFromItsDescription() {
    let partition = TopicPartition(topic: "events/eu", partition: 12)
    #expect(TopicPartition(parsing: partition.description) == partition)
    for bad in ["events", "events/", "/3", "events/-1", "events/x"] {
      #expect(TopicPartition(parsing: bad) == nil, "\(bad)")
    }
  }

  @Test func headerLookupReturnsTheFirstMatch() {
    let record = Record(
      topic: "t", partition: 0, offset: 0, value: [1],
      headers: [.init(name: "x", text: "one"), .init(name: "x", text: "two")])
    #expect(record.header(named: "x") == Array("one".utf8))
    #expect(record.header(named: "y") == nil)
  }
}
