import Base
import Observability
import Stream
import Testing

/// Control records (`iak-stream upgrade`): read back from the line they write, told from
/// events by their first bytes, and refused as `bad_control` (a dead letter) when malformed.
@Suite struct ControlRecordTests {
  static let sha = String(repeating: "0123456789abcdef", count: 4)

  @Test func aSwitchRecordReadsBackFromItsLine() throws {
    let control = ControlRecord(switchingTo: Self.sha, directory: "/shared/backbones/v2")
    #expect(
      control.jsonLine
        == #"{"iak-control":"backbone-switch","backbone_sha256":"\#(Self.sha)","#
        + #""backbone_dir":"/shared/backbones/v2"}"#)
    let value = Array(control.jsonLine.utf8)
    #expect(ControlRecord.isControl(value))
    #expect(try ControlRecord(parsing: value) == control)
    #expect(control.rebaseFrom == nil)
    let windowed = ControlRecord(switchingTo: Self.sha, directory: "/b", rebaseFrom: 1234)
    #expect(windowed.jsonLine.hasSuffix(#","rebase_from":1234}"#))
    #expect(try ControlRecord(parsing: Array(windowed.jsonLine.utf8)) == windowed)
    for action in ControlRecord.Action.allCases {
      let record = ControlRecord(switchingTo: Self.sha, directory: "/b", action: action)
      #expect(try ControlRecord(parsing: Array(record.jsonLine.utf8)).action == action)
    }
  }

  @Test func eventsAreNotControlRecords() {
    for line in [
      #"{"type":"impression","id":"a","ts":1}"#, #"{"iak-control" : "x"}"#, "", "{",
      #" {"iak-control":"backbone-switch"}"#,
    ] {
      #expect(!ControlRecord.isControl(Array(line.utf8)), "\(line)")
    }
  }

  @Test(arguments: [
    (
      #"{"iak-control":"backbone-switch","backbone_sha256":"abc","backbone_dir":"/b"}"#,
      "backbone_sha256"
    ),
    (#"{"iak-control":"backbone-switch","backbone_dir":"/b"}"#, "backbone_sha256"),
    (#"{"iak-control":"reboot","backbone_sha256":"x","backbone_dir":"/b"}"#, "iak-control"),
    (
      #"{"iak-control":"backbone-switch","backbone_sha256":"SHA","backbone_dir":""}"#,
      "backbone_sha256"
    ),
    (#"{"iak-control":"#, "iak-control"),
    (
      #"{"iak-control":"backbone-switch","backbone_sha256":"sha","backbone_dir":"/b","#
        + #""rebase_from":-1}"#, "rebase_from"
    ),
  ])
  func aMalformedControlRecordIsRefusedAsBadControl(line: String, field: String) {
    let value = Array(
      line.replacingOccurrences(of: "\"SHA\"", with: "\"\(Self.sha.uppercased())\"")
        .replacingOccurrences(of: "\"sha\"", with: "\"\(Self.sha)\"").utf8)
    #expect(ControlRecord.isControl(value))
    let error = #expect(throws: EventRejection.self) { try ControlRecord(parsing: value) }
    #expect(error?.reason == .badControl, "\(line)")
    #expect(error?.field == field, "\(line)")
  }

  @Test func decodingAheadTellsAControlRecordFromAnEventAndCountsNeither() throws {
    let metrics = MetricsRegistry()
    let decoder = EventDecoder(metrics: metrics)
    let control = ControlRecord(switchingTo: Self.sha, directory: "/b")
    let good = decoder.decodeAhead(
      Record(topic: "t", partition: 2, offset: 7, value: Array(control.jsonLine.utf8)))
    #expect(good.outcome == .control(control))
    #expect(good.offset == 7 && good.partition == 2)
    let bad = decoder.decodeAhead(
      Record(topic: "t", partition: 2, offset: 8, value: Array(#"{"iak-control":1}"#.utf8)))
    guard case .rejected(let rejection, _) = bad.outcome else {
      Issue.record("\(bad.outcome)")
      return
    }
    #expect(rejection.reason == .badControl)
    decoder.count(good.outcome)
    #expect(!metrics.render().contains("iak_events_decoded_total 1"))
  }
}
