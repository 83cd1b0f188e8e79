import Observability
import Testing

@testable import Stream

@Suite struct EventDecoderTests {
  let decoder = EventDecoder(metrics: MetricsRegistry())

  func decode(_ text: String, schema: EventSchema = EventSchema()) throws(EventRejection) -> Event {
    try EventDecoder(schema: schema, metrics: MetricsRegistry()).decode(Array(text.utf8))
  }

  func reason(_ text: String, schema: EventSchema = EventSchema()) -> EventRejection.Reason? {
    reason(Array(text.utf8), schema: schema)
  }

  func reason(_ bytes: [UInt8], schema: EventSchema = EventSchema()) -> EventRejection.Reason? {
    do {
      _ = try EventDecoder(schema: schema, metrics: MetricsRegistry()).decode(bytes)
      return nil
    } catch {
      return error.reason
    }
  }

  @Test func decodesTheDocumentedImpression() throws {
    let event = try decode(
      #"{"type":"impression","id":"imp-1","ts":1700000000123,"region":"sh","user":"u1","#
        + #""item":"i9","features":{"cat":"noodles"},"click":1}"#)
    #expect(event.kind == .impression)
    #expect(event.id == "imp-1")
    #expect(event.timeMilliseconds == 1_700_000_000_123)
    #expect(event.region == "sh")
    #expect(
      event.categorical == [
        .init(name: "user", value: "u1"), .init(name: "item", value: "i9"),
        .init(name: "cat", value: "noodles"),
      ])
    #expect(event.label == true)
    #expect(event.isSynthetic == false)
  }

  @Test func decodesAClickWithAnRFC3339Time() throws {
    let event = try decode(#"{"type":"click","id":"imp-1","ts":"2023-11-15T06:13:20.123+08:00"}"#)
    #expect(event.kind == .click)
    #expect(event.id == "imp-1")
    #expect(event.timeMilliseconds == 1_700_000_000_123)
    #expect(event.label == nil)
  }

  @Test func readsRFC3339Variants() {
    #expect(EventTime.milliseconds(rfc3339: "1970-01-01T00:00:00Z") == 0)
    #expect(EventTime.milliseconds(rfc3339: "2023-11-14T22:13:20.1234567z") == 1_700_000_000_123)
    #expect(EventTime.milliseconds(rfc3339: "2023-11-14 22:13:20.5Z") == 1_700_000_000_500)
    #expect(EventTime.milliseconds(rfc3339: "2000-02-29T00:00:00Z") == 951_782_400_000)
    #expect(EventTime.milliseconds(rfc3339: "1998-03-31T23:59:59-05:00") == 891_406_799_000)
    #expect(EventTime.milliseconds(rfc3339: "2001-02-29T00:00:00Z") == nil)
    #expect(EventTime.milliseconds(rfc3339: "2023-13-01T00:00:00Z") == nil)
    #expect(EventTime.milliseconds(rfc3339: "2023-11-14T22:13:20") == nil)
    #expect(EventTime.milliseconds(rfc3339: "2023-11-14T22:13:20.Z") == nil)
    #expect(EventTime.milliseconds(rfc3339: "1969-12-31T23:59:59Z") == nil)
    #expect(EventTime.milliseconds(rfc3339: "2023-11-14T22:13:20Zjunk") == nil)
  }

  @Test func readsIntegersAsCategoricalTextAndDeclaredNumbers() throws {
    var schema = EventSchema()
    schema.numericFeatures = ["price", "age"]
    let event = try decode(
      #"{"type":"impression","id":7,"ts":5,"user":42,"item":-3,"age":31.5,"#
        + #""features":{"price":1.25e1,"shop":900719925474099312345,"note":null},"x":[1,{"y":2}]}"#,
      schema: schema)
    #expect(event.id == "7")
    #expect(event.feature("user") == "42")
    #expect(event.feature("item") == "-3")
    #expect(event.feature("shop") == "900719925474099312345")
    #expect(event.feature("note") == nil)
    #expect(event.numeric == ["price": 12.5, "age": 31.5])
    #expect(event.label == nil)
  }

  @Test func acceptsDeclaredNumbersWrittenAsDecimalStrings() throws {
    var schema = EventSchema()
    schema.numericFeatures = ["position", "price", "age"]
    let event = try decode(
      #"{"type":"impression","id":"a","ts":5,"position":"3","age":" -1.5e1 ","#
        + #""features":{"price":"0.25"}}"#,
      schema: schema)
    #expect(event.numeric == ["position": 3, "age": -15, "price": 0.25])
    for (text, reason) in [
      (#""three""#, EventRejection.Reason.wrongType), (#""""#, .wrongType),
      (#""0x10""#, .wrongType), (#""NaN""#, .wrongType), (#""1e999""#, .nonFiniteNumber),
    ] {
      #expect(throws: EventRejection.self) {
        try decode(#"{"type":"impression","id":"a","ts":5,"position":\#(text)}"#, schema: schema)
      }
      do {
        _ = try decode(
          #"{"type":"impression","id":"a","ts":5,"position":\#(text)}"#, schema: schema)
      } catch let error as EventRejection {
        #expect(error.reason == reason, "\(text)")
      }
    }
  }

  @Test func honoursRenamedFields() throws {
    let schema = EventSchema(
      typeField: "kind", idField: "impression_id", timeField: "time", regionField: "city",
      labelField: "clicked", featuresField: "f", impressionType: "view", clickType: "tap",
      categoricalFields: ["uid"])
    let event = try decode(
      #"{"kind":"view","impression_id":"a","time":9,"city":"bj","uid":"u","f":{"g":"h"},"#
        + #""clicked":false,"type":"ignored","user":"ignored"}"#, schema: schema)
    #expect(event.kind == .impression)
    #expect(event.region == "bj")
    #expect(event.categorical == [.init(name: "uid", value: "u"), .init(name: "g", value: "h")])
    #expect(event.label == false)
  }

  @Test(arguments: [
    ("", EventRejection.Reason.malformedJSON),
    ("   ", .malformedJSON),
    ("[1]", .wrongType),
    (#"{"type":"impression","id":"a","ts":1,}"#, .malformedJSON),
    (#"{"type":"impression","id":"a","ts":1} x"#, .malformedJSON),
    (#"{"type":"impression","id":"a"}"#, .missingField),
    (#"{"id":"a","ts":1}"#, .missingField),
    (#"{"type":"impression","ts":1}"#, .missingField),
    (#"{"type":"view","id":"a","ts":1}"#, .unknownType),
    (#"{"type":1,"id":"a","ts":1}"#, .wrongType),
    (#"{"type":"impression","id":"","ts":1}"#, .badValue),
    (#"{"type":"impression","id":{},"ts":1}"#, .wrongType),
    (#"{"type":"impression","id":"a","ts":1.5}"#, .badTimestamp),
    (#"{"type":"impression","id":"a","ts":-1}"#, .badTimestamp),
    (#"{"type":"impression","id":"a","ts":99999999999999999999}"#, .badTimestamp),
    (#"{"type":"impression","id":"a","ts":"yesterday"}"#, .badTimestamp),
    (#"{"type":"impression","id":"a","ts":true}"#, .wrongType),
    (#"{"type":"impression","id":"a","ts":1,"click":2}"#, .badValue),
    (#"{"type":"impression","id":"a","ts":1,"click":"1"}"#, .wrongType),
    (#"{"type":"impression","id":"a","ts":1,"user":1.5}"#, .wrongType),
    (#"{"type":"impression","id":"a","ts":1,"user":[]}"#, .wrongType),
    (#"{"type":"impression","id":"a","ts":1,"features":[]}"#, .wrongType),
    (#"{"type":"impression","id":"a","ts":1,"x":NaN}"#, .nonFiniteNumber),
    (#"{"type":"impression","id":"a","ts":1,"x":-Infinity}"#, .nonFiniteNumber),
    (#"{"type":"impression","id":"a","ts":1,"x":1e999}"#, .nonFiniteNumber),
    (#"{"type":"impression","id":"a","ts":1,"x":01}"#, .malformedJSON),
    (#"{"type":"impression","id":"a","ts":1,"x":1.}"#, .malformedJSON),
    (#"{"type":"impression","id":"a","ts":1,"x":tru}"#, .malformedJSON),
    (#"{"type":"impression","id":"a","ts":1,"x":"\q"}"#, .malformedJSON),
    (#"{"type":"impression","id":"a","ts":1,"x":"\u12"}"#, .malformedJSON),
    (#"{"type":"impression","id":"a","ts":1,"x":"\ud800"}"#, .invalidUTF8),
    (#"{"type":"impression","id":"a","ts":1,"x":"\udc00\ud800"}"#, .invalidUTF8),
    ("{\"type\":\"impression\",\"id\":\"a\tb\",\"ts\":1}", .malformedJSON),
    (#"{"type":"impression","id":"a","id":"b","ts":1}"#, .duplicateKey),
    (#"{"type":"impression","id":"a","ts":1,"user":"u","features":{"user":"v"}}"#, .duplicateKey),
    (#"{"type":"impression","id":"a","ts":1,"features":{"c":"1","c":"2"}}"#, .duplicateKey),
    (#"{"type":"impression","id":"a","ts":1,"x":[[[[[[[[[]]]]]]]]]}"#, .tooDeep),
  ])
  func rejectsWithTheRightReason(text: String, expected: EventRejection.Reason) {
    #expect(reason(text) == expected, "\(text)")
  }

  @Test func rejectsInvalidUTF8Bytes() {
    let prefix = Array(#"{"type":"impression","id":"a"#.utf8)
    let suffix = Array(#"","ts":1}"#.utf8)
    for bad: [UInt8] in [[0xFF], [0xC0, 0xAF], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF8, 0x88]] {
      #expect(reason(prefix + bad + suffix) == .invalidUTF8, "\(bad)")
    }
    #expect(
      reason(Array(#"{"type":"impression","id":"a","ts":1}"#.utf8) + [0xFF]) == .malformedJSON)
    let valid = prefix + Array("é東🙂".utf8) + suffix
    #expect((try? decoder.decode(valid))?.id == "aé東🙂")
  }

  @Test func decodesEscapesIncludingSurrogatePairs() throws {
    let event = try decode(
      #"{"type":"impression","id":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude42","ts":1}"#)
    #expect(event.id == "a\"\\/\u{8}\u{c}\n\r\té🙂")
  }

  @Test func boundsSizeAndDepth() throws {
    let tenMegabytes = String(repeating: "v", count: 10_000_000)
    let huge = #"{"type":"impression","id":"a","ts":1,"blob":""# + tenMegabytes + #""}"#
    #expect(reason(huge) == .oversize)
    var roomy = EventSchema()
    roomy.maxEventBytes = 20_000_000
    #expect(try decode(huge, schema: roomy).id == "a")
    let bigUser = #"{"type":"impression","id":"a","ts":1,"user":""# + tenMegabytes + #""}"#
    #expect(try decode(bigUser, schema: roomy).feature("user")?.utf8.count == 10_000_000)

    let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    roomy.maxDepth = Int.max
    #expect(
      reason(#"{"type":"impression","id":"a","ts":1,"x":"# + deep + "}", schema: roomy)
        == .tooDeep)
    let nested = String(repeating: #"{"a":"#, count: 7) + "1" + String(repeating: "}", count: 7)
    #expect(try decode(#"{"type":"impression","id":"a","ts":1,"x":"# + nested + "}").id == "a")
  }

  @Test func manyFeaturesDecodeAndDuplicatesAmongThemAreFound() throws {
    var schema = EventSchema()
    schema.maxEventBytes = 1_000_000
    let members = (0..<5_000).map { #""f\#($0)":\#($0)"# }.joined(separator: ",")
    let head = #"{"type":"impression","id":"a","ts":1,"features":{"#
    let event = try decode(head + members + "}}", schema: schema)
    #expect(event.categorical.count == 5_000)
    #expect(event.feature("f4999") == "4999")
    #expect(reason(head + members + #","f17":"again"}}"#, schema: schema) == .duplicateKey)
    #expect(reason(head + members + #","f3":"again"}}"#, schema: schema) == .duplicateKey)
  }

  @Test func countsDecodedAndRejectedByReason() {
    let metrics = MetricsRegistry()
    let decoder = EventDecoder(metrics: metrics)
    _ = try? decoder.decode(Array(#"{"type":"click","id":"a","ts":1}"#.utf8))
    _ = try? decoder.decode(Array(#"{"type":"click","id":"a","ts":1"#.utf8))
    _ = try? decoder.decode(Array(#"{"type":"click","id":"a","ts":"x"}"#.utf8))
    _ = try? decoder.decode(Array(#"{"type":"click","id":"a","ts":"y"}"#.utf8))
    let text = metrics.render()
    #expect(text.contains("iak_events_decoded_total 1\n"))
    #expect(text.contains(#"iak_events_rejected_total{reason="malformed_json"} 1"#))
    #expect(text.contains(#"iak_events_rejected_total{reason="bad_timestamp"} 2"#))
    #expect(text.contains(#"iak_events_rejected_total{reason="oversize"} 0"#))
  }

  @Test func rejectionsSayWhatAndWhere() {
    do {
      _ = try decode(#"{"type":"impression","id":"a","ts":true}"#)
      Issue.record("expected a rejection")
    } catch {
      #expect(error.description == "wrong_type in field 'ts' at byte 35")
    }
  }

  @Test func jsonLinesRoundTrip() throws {
    var schema = EventSchema()
    schema.numericFeatures = ["price"]
    let event = Event(
      kind: .impression, id: "x\"y\u{1}", timeMilliseconds: 1_234, region: "ca",
      categorical: [.init(name: "user", value: "u"), .init(name: "g", value: "Sci-Fi")],
      numeric: ["price": 0.1], label: false, isSynthetic: true)
    let line = event.jsonLine(schema: schema)
    #expect(try decode(line, schema: schema) == event)
    let click = Event(kind: .click, id: "x", timeMilliseconds: 9)
    #expect(click.jsonLine() == #"{"type":"click","id":"x","ts":9}"#)
  }
}

@Suite struct FieldUsageTests {
  @Test func namesConfiguredFieldsNeverThereAndPresentFieldsNeverUsed() throws {
    var schema = EventSchema()
    schema.categoricalFields = ["user"]
    schema.numericFeatures = ["price"]
    let decoder = EventDecoder(schema: schema, metrics: MetricsRegistry())
    var usage = FieldUsage(configured: ["user", "device", "price"], sampleSize: 3)
    let lines = [
      #"{"type":"impression","id":"a","ts":1,"user":"u","position":2,"features":{"genre":"x"}}"#,
      #"{"type":"click","id":"a","ts":2,"position":9,"button":"b"}"#,
      #"{"type":"impression","id":"b","ts":3,"user":"v","price":"1.5"}"#,
    ]
    for line in lines { #expect(usage.observe(try decoder.decode(Array(line.utf8))) == nil) }
    #expect(!usage.isReported)
    let last = #"{"type":"impression","id":"c","ts":4,"user":"w","position":1}"#
    let warnings = try #require(usage.observe(try decoder.decode(Array(last.utf8))))
    #expect(
      warnings == [
        "configured field 'device' is in none of the first 3 impressions: every event hashes it "
          + "as missing; check its name in backbone.fields or event.numeric_fields (and "
          + "event.categorical_fields for a top-level field)",
        "field 'genre' is in 1 of the first 3 impressions but no setting uses it: add it to "
          + "backbone.fields, or to event.numeric_fields to learn from it",
        "field 'position' is in 2 of the first 3 impressions but no setting uses it: add it to "
          + "event.categorical_fields and backbone.fields, or to event.numeric_fields to learn "
          + "from it",
      ])
    #expect(usage.isReported)
    #expect(usage.observe(try decoder.decode(Array(last.utf8))) == nil)
    #expect(usage.report() == nil)
  }
}
