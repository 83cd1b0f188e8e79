import Testing

@testable import Stream

@Suite struct EventIngestTests {
  static func make() throws -> EventIngest {
    try EventIngest(
      schema: EventSchema(categoricalFields: ["user"]),
      joiner: LabelJoiner.Configuration(waitMilliseconds: 10_000, maxOutOfOrdernessMilliseconds: 0),
      router: DomainRouter.Configuration(window: try DomainWindow(parsing: "month")),
      metrics: nil)
  }

  static let lines: [String] = [
    #"{"type":"impression","id":"a","ts":1000,"region":"east","user":"u1"}"#,
    #"{"type":"impression","id":"b","ts":2000,"region":"west","user":"u2"}"#,
    #"{"type":"click","id":"a","ts":3000}"#,
    #"{"type":"impression","id":"c","ts":4000,"region":"east","user":"u3"}"#,
    #"{"type":"impression","id":"d","ts":30000,"region":"east","user":"u4"}"#,
    #"{"type":"click","id":"d","ts":31000}"#,
  ]

  @Test func decodesJoinsAndRoutesAndRefusesBadRecordsBeforeTheJoiner() throws {
    var ingest = try Self.make()
    var output: [EventIngest.Routed] = []
    #expect(throws: EventRejection.self) {
      try ingest.ingest(
        Array(#"{"type":"click","id":"a","ts":NaN}"#.utf8), partition: 0, into: &output)
    }
    for line in Self.lines { try ingest.ingest(Array(line.utf8), partition: 0, into: &output) }
    ingest.flush(into: &output)
    let labels = Dictionary(uniqueKeysWithValues: output.map { ($0.impression.id, $0.label) })
    #expect(labels == ["a": true, "b": false, "c": false, "d": true])
    #expect(output.first { $0.impression.id == "b" }?.route.domain.description == "1970-01/west")
  }

  @Test(arguments: 0...6)
  func restoringExportedStateContinuesLikeNeverStopping(stop: Int) throws {
    var whole = try Self.make()
    var expected: [EventIngest.Routed] = []
    for line in Self.lines { try whole.ingest(Array(line.utf8), partition: 0, into: &expected) }
    whole.flush(into: &expected)

    var first = try Self.make()
    var output: [EventIngest.Routed] = []
    for line in Self.lines[..<stop] {
      try first.ingest(Array(line.utf8), partition: 0, into: &output)
    }
    let (joiner, router) = first.exportState()
    var second = try Self.make()
    try second.restore(joiner: joiner, router: router)
    for line in Self.lines[stop...] {
      try second.ingest(Array(line.utf8), partition: 0, into: &output)
    }
    second.flush(into: &output)
    #expect(output == expected)
    #expect(second.exportState().joiner == whole.exportState().joiner)
    #expect(second.exportState().router == whole.exportState().router)
  }
}
