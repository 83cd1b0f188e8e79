import Base
import Observability
import Stream

/// A deterministic generator of hostile events for reliability tests: malformed and truncated
/// JSON, wrong types, `NaN`/`Infinity`/`1e999`, values up to 10 MB, deep nesting, invalid UTF-8,
/// control characters and NUL bytes, missing and duplicated fields, bad times and labels, and
/// valid events with regions such as `../../etc`, `..`, `/`, 5,000 characters, or huge ids.
///
/// Event `i` depends only on the seed, `i` and the schema, so a corpus can be regenerated or
/// sampled at any index. Each event says whether the decoder must reject it (and why) or accept
/// it; `HostileEventsTests` holds the decoder to that.
public struct HostileEvents: Sendable {
  /// The seed every event is derived from.
  public var seed: UInt64
  /// The schema events are written for: field names, `maxEventBytes` and `maxDepth`.
  public var schema: EventSchema
  /// The size of the largest values (every `largestValueEvery`-th event), in bytes.
  public var largestValueBytes: Int
  /// Every this many events, one carries a value of `largestValueBytes`.
  public var largestValueEvery: Int

  /// Creates a generator for `schema`, with one 10 MiB value every 3,000 events by default.
  public init(
    seed: UInt64 = 1, schema: EventSchema = EventSchema(),
    largestValueBytes: Int = 10 * 1_048_576, largestValueEvery: Int = 3_000
  ) {
    self.seed = seed
    self.schema = schema
    self.largestValueBytes = largestValueBytes
    self.largestValueEvery = max(largestValueEvery, 1)
  }

  /// Events `0..<count`, each stamped with event time `timeMilliseconds` where it has one.
  public func events(count: Int, timeMilliseconds: Int64) -> [HostileEvent] {
    (0..<max(count, 0)).map { event($0, timeMilliseconds: timeMilliseconds) }
  }

  /// Event number `index`, stamped with event time `timeMilliseconds` where it has one.
  public func event(_ index: Int, timeMilliseconds: Int64) -> HostileEvent {
    var random = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: index) &* 0xD6E8_FEB8))
    _ = random.next()
    var maker = Maker(
      schema: schema, index: index, seed: seed, time: timeMilliseconds, random: random)
    if index % largestValueEvery == largestValueEvery - 1 {
      return maker.hugeValue(bytes: max(largestValueBytes, schema.maxEventBytes + 1))
    }
    let category = Self.category(at: maker.random.index(below: Self.weightTotal))
    return maker.make(category)
  }

  /// How often each category is drawn, per 1,000 events.
  static let weights: [(HostileEvent.Category, Int)] = [
    (.malformedJSON, 150), (.truncated, 150), (.wrongType, 116), (.nonFiniteNumber, 80),
    (.hugeValue, 4), (.deepNesting, 50), (.invalidUTF8, 80), (.controlCharacters, 60),
    (.nulBytes, 50), (.missingField, 50), (.badTimestamp, 60), (.badValue, 40),
    (.unknownType, 40), (.duplicateKey, 50), (.hostileRegion, 14), (.longRegion, 3),
    (.hugeID, 3),
  ]

  static let weightTotal = weights.reduce(0) { $0 + $1.1 }

  static func category(at draw: Int) -> HostileEvent.Category {
    var remaining = draw
    for (category, weight) in weights {
      if remaining < weight { return category }
      remaining -= weight
    }
    return .malformedJSON
  }

  /// Region values that try to escape a folder or confuse a name, as JSON string literals.
  static let hostileRegionLiterals: [String] = [
    #""../../etc""#, #""..""#, #"".""#, #""/""#, #""/etc/passwd""#,
    #""..\\..\\windows\\system32""#, #""east/../../west""#, #""%2e%2e%2f%2e%2e%2f""#,
    #""~root""#, #""$(rm -rf /)""#, #""`id`""#, #""<script>alert(1)</script>""#,
    #""\u0000""#, #""east\u0000west""#, #""\u0001\u001f""#, "\"\u{7F}\"", #""CON""#,
    #"" ""#, #""\t\r\n""#, #""🙂🙂""#, #""\u202eevil""#, #""e\u0301""#, #"".hidden""#,
    #""-rf""#, #""__metadata__""#, #""east/""#, #""a:b*c?d|e""#, #""..%00/""#,
  ]
}

/// Builds one hostile event from a valid base event and a seeded generator.
private struct Maker {
  let schema: EventSchema
  let index: Int
  let seed: UInt64
  let time: Int64
  var random: SplitMix64

  init(schema: EventSchema, index: Int, seed: UInt64, time: Int64, random: SplitMix64) {
    self.schema = schema
    self.index = index
    self.seed = seed
    self.time = time
    self.random = random
  }

  typealias Member = (key: String, value: [UInt8])

  // MARK: - The base event

  private func quoted(_ text: String) -> [UInt8] { Array(JSONText.quote(text).utf8) }

  /// A valid pre-labelled impression; hostile events are made by damaging it.
  private mutating func base(region: [UInt8]? = nil) -> [Member] {
    var members: [Member] = [
      (schema.typeField, quoted(schema.impressionType)),
      (schema.idField, quoted("hostile-\(seed)-\(index)")),
      (schema.timeField, Array(String(time).utf8)),
      (schema.regionField, region ?? quoted(["east", "west", "north"][random.index(below: 3)])),
    ]
    for (offset, field) in schema.categoricalFields.prefix(2).enumerated() {
      members.append((field, quoted("h\(offset)-\(random.index(below: 50))")))
    }
    members.append((schema.labelField, Array("\(random.index(below: 2))".utf8)))
    return members
  }

  private func render(_ members: [Member]) -> [UInt8] {
    var out: [UInt8] = [UInt8(ascii: "{")]
    for (position, member) in members.enumerated() {
      if position > 0 { out.append(UInt8(ascii: ",")) }
      out += quoted(member.key)
      out.append(UInt8(ascii: ":"))
      out += member.value
    }
    out.append(UInt8(ascii: "}"))
    return out
  }

  private func replacing(_ members: [Member], _ key: String, with value: [UInt8]) -> [Member] {
    var copy = members
    if let position = copy.firstIndex(where: { $0.key == key }) {
      copy[position].value = value
    } else {
      copy.append((key, value))
    }
    return copy
  }

  private mutating func pick<T>(_ choices: [T]) -> T { choices[random.index(below: choices.count)] }

  private func event(
    _ bytes: [UInt8], _ category: HostileEvent.Category, _ reason: EventRejection.Reason?
  ) -> HostileEvent {
    // A line feed would split the corpus's line; none of the makers writes one raw.
    HostileEvent(
      bytes: bytes.map { $0 == 0x0A ? UInt8(ascii: " ") : $0 }, category: category,
      expectedRejection: reason)
  }

  // MARK: - Categories

  mutating func make(_ category: HostileEvent.Category) -> HostileEvent {
    switch category {
    case .malformedJSON: return malformed()
    case .truncated: return truncated()
    case .wrongType: return wrongType()
    case .nonFiniteNumber: return nonFinite()
    case .hugeValue:
      return hugeValue(bytes: schema.maxEventBytes + 1 + random.index(below: 20_000))
    case .deepNesting: return deepNesting()
    case .invalidUTF8: return invalidUTF8()
    case .controlCharacters: return controlCharacters()
    case .nulBytes: return nulBytes()
    case .missingField: return missingField()
    case .badTimestamp: return badTimestamp()
    case .badValue: return badValue()
    case .unknownType: return unknownType()
    case .duplicateKey: return duplicateKey()
    case .hostileRegion: return hostileRegion()
    case .longRegion: return longRegion()
    case .hugeID: return hugeID()
    }
  }

  private mutating func malformed() -> HostileEvent {
    let valid = render(base())
    let text = String(decoding: valid, as: UTF8.self)
    let broken: [UInt8]
    switch random.index(below: 14) {
    case 0: broken = Array(valid.dropLast())
    case 1: broken = Array(valid.dropLast()) + Array(",}".utf8)
    case 2: broken = Array(text.replacingOccurrences(of: "\"", with: "'").utf8)
    case 3: broken = [UInt8(ascii: "{")] + Array("/* c */".utf8) + valid.dropFirst()
    case 4:
      broken = Array(text.replacingOccurrences(of: "\"\(schema.typeField)\"", with: "type").utf8)
    case 5:
      broken = Array(
        text.replacingOccurrences(of: "\"\(schema.typeField)\":", with: "\"\(schema.typeField)\" ")
          .utf8)
    case 6: broken = valid + Array(" x".utf8)
    case 7: broken = valid + valid
    case 8: broken = [0xEF, 0xBB, 0xBF] + valid
    case 9: broken = Array("<html><body>502 Bad Gateway</body></html>".utf8)
    case 10: broken = render(replacing(base(), schema.labelField, with: Array("nul".utf8)))
    case 11: broken = render(replacing(base(), schema.idField, with: Array(#""a\qb""#.utf8)))
    case 12: broken = render(replacing(base(), schema.timeField, with: Array("0123".utf8)))
    default:
      broken = render(
        replacing(base(), schema.timeField, with: Array(pick(["-", "1.", "+5", "1e", ".5"]).utf8)))
    }
    return event(broken, .malformedJSON, .malformedJSON)
  }

  private mutating func truncated() -> HostileEvent {
    var members = base()
    if random.index(below: 2) == 0 {
      members.append((schema.featuresField, Array(#"{"cat":"noodles","age":"25-34"}"#.utf8)))
      members.append(("tags", Array(#"[1,-2.5e-3,true,null,{"k":[]}]"#.utf8)))
    }
    let valid = render(members)
    let length = 1 + random.index(below: valid.count - 1)
    return event(Array(valid.prefix(length)), .truncated, .malformedJSON)
  }

  private mutating func wrongType() -> HostileEvent {
    let user = schema.categoricalFields.first ?? "user"
    let cases: [(String?, String)] = [
      (schema.timeField, "{}"), (schema.timeField, "true"), (schema.timeField, "[1]"),
      (schema.idField, #"["x"]"#), (schema.idField, #"{"a":1}"#), (schema.idField, "true"),
      (schema.idField, "1.5"), (schema.typeField, "5"), (schema.typeField, "null"),
      (schema.labelField, #""yes""#), (schema.labelField, "[]"), (user, #"{"x":1}"#),
      (user, "false"), (schema.featuresField, "[1,2]"), (schema.featuresField, #""abc""#),
      (schema.syntheticField, #""yes""#), (schema.regionField, #"{"name":"east"}"#),
      (schema.regionField, #"["../../etc"]"#), (nil, "[1,2]"), (nil, #""an event""#),
      (nil, "42"), (nil, "null"),
    ]
    let (field, value) = pick(cases)
    guard let field else { return event(Array(value.utf8), .wrongType, .wrongType) }
    return event(render(replacing(base(), field, with: Array(value.utf8))), .wrongType, .wrongType)
  }

  private mutating func nonFinite() -> HostileEvent {
    let user = schema.categoricalFields.first ?? "user"
    let cases: [(String, String, EventRejection.Reason)] = [
      (schema.timeField, "NaN", .nonFiniteNumber), (user, "NaN", .nonFiniteNumber),
      (user, "Infinity", .nonFiniteNumber), (user, "-Infinity", .nonFiniteNumber),
      ("score", "1e999", .nonFiniteNumber), ("score", "-1e999", .nonFiniteNumber),
      ("score", "Infinity", .nonFiniteNumber), ("scores", "[1,NaN]", .nonFiniteNumber),
      (schema.featuresField, #"{"cat":NaN}"#, .nonFiniteNumber),
      (schema.labelField, "NaN", .nonFiniteNumber), (schema.timeField, "1e999", .badTimestamp),
      (user, "1e999", .wrongType),
    ]
    let (field, value, reason) = pick(cases)
    return event(
      render(replacing(base(), field, with: Array(value.utf8))), .nonFiniteNumber, reason)
  }

  mutating func hugeValue(bytes size: Int) -> HostileEvent {
    var members = base()
    // The member's name and punctuation come on top, so the event is a little over `size`.
    let filler = max(size - render(members).count, 1)
    if random.index(below: 2) == 0 {
      members.append(
        ("blob", [UInt8(ascii: "\"")] + Array(repeating: 0x61, count: filler) + [0x22]))
    } else {
      members.append(("digits", [UInt8(ascii: "1")] + Array(repeating: 0x37, count: filler)))
    }
    return event(render(members), .hugeValue, .oversize)
  }

  private mutating func deepNesting() -> HostileEvent {
    // Room for the deepest nesting that still fits the event size limit.
    let room = max(schema.maxEventBytes - 300, 0)
    let isDeepest = random.index(below: 10) == 0
    func depth(bytesPerLevel: Int) -> Int {
      let deepest = max(min(room / bytesPerLevel, 30_000), schema.maxDepth)
      return isDeepest ? deepest : min(schema.maxDepth + random.index(below: 50), deepest)
    }
    let value: [UInt8]
    switch random.index(below: 3) {
    case 0:
      let depth = depth(bytesPerLevel: 2)
      value =
        Array(repeating: UInt8(ascii: "["), count: depth)
        + Array(repeating: UInt8(ascii: "]"), count: depth)
    case 1: value = Array(repeating: UInt8(ascii: "["), count: depth(bytesPerLevel: 1))
    default:
      let depth = depth(bytesPerLevel: 6)
      value =
        Array(String(repeating: #"{"a":"#, count: depth).utf8) + Array("1".utf8)
        + Array(repeating: UInt8(ascii: "}"), count: depth)
    }
    return event(render(replacing(base(), "nested", with: value)), .deepNesting, .tooDeep)
  }

  private mutating func invalidUTF8() -> HostileEvent {
    let sequences: [[UInt8]] = [
      [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82],
      [0x80], [0xF4, 0x90, 0x80, 0x80], [0xC3], [0xFE, 0xFF],
      Array(#"\ud800"#.utf8), Array(#"\udc00"#.utf8), Array(#"\ud800\u0041"#.utf8),
    ]
    let field = pick([schema.idField, schema.regionField, "comment"])
    let value = [UInt8(ascii: "\"")] + Array("ok".utf8) + pick(sequences) + [UInt8(ascii: "\"")]
    return event(render(replacing(base(), field, with: value)), .invalidUTF8, .invalidUTF8)
  }

  private mutating func controlCharacters() -> HostileEvent {
    var control = UInt8(random.index(below: 0x20))
    if control == 0 || control == 0x0A { control = 0x1B }
    if random.index(below: 3) == 0, ![0x09, 0x0D].contains(control) {
      // Between tokens, a control character that is not JSON whitespace.
      var valid = render(base())
      valid.insert(control, at: 1)
      return event(valid, .controlCharacters, .malformedJSON)
    }
    let field = pick([schema.idField, schema.regionField, schema.typeField, "comment"])
    let value = Array(#""east"#.utf8) + [control] + Array(#"west""#.utf8)
    return event(
      render(replacing(base(), field, with: value)), .controlCharacters, .malformedJSON)
  }

  private mutating func nulBytes() -> HostileEvent {
    let valid = render(base())
    switch random.index(below: 4) {
    case 0:
      let value = Array(#""east"#.utf8) + [0] + Array(#"west""#.utf8)
      return event(
        render(replacing(base(), pick([schema.regionField, schema.idField]), with: value)),
        .nulBytes, .malformedJSON)
    case 1: return event([UInt8(ascii: "{"), 0] + valid.dropFirst(), .nulBytes, .malformedJSON)
    case 2: return event(valid + [0], .nulBytes, .malformedJSON)
    default:
      return event(
        Array(repeating: 0, count: 1 + random.index(below: 64)), .nulBytes, .malformedJSON)
    }
  }

  private mutating func missingField() -> HostileEvent {
    let field = pick([schema.typeField, schema.idField, schema.timeField])
    let members = base().filter { $0.key != field }
    if random.index(below: 10) == 0 { return event(Array("{}".utf8), .missingField, .missingField) }
    return event(render(members), .missingField, .missingField)
  }

  private mutating func badTimestamp() -> HostileEvent {
    let value = pick([
      "-1", "99999999999999999", "123456789012345678901234567890", "1.5", #""yesterday""#,
      #""2024-13-45T25:61:00Z""#, #""0000-01-01T00:00:00Z""#, #""""#, #""1700000000000""#,
    ])
    return event(
      render(replacing(base(), schema.timeField, with: Array(value.utf8))), .badTimestamp,
      .badTimestamp)
  }

  private mutating func badValue() -> HostileEvent {
    let (field, value) = pick([
      (schema.idField, #""""#), (schema.labelField, "2"), (schema.labelField, "-1"),
      (schema.labelField, "0.5"), (schema.labelField, "99999999999999999999"),
    ])
    return event(render(replacing(base(), field, with: Array(value.utf8))), .badValue, .badValue)
  }

  private mutating func unknownType() -> HostileEvent {
    let value = pick([#""purchase""#, #""""#, #""IMPRESSION""#, #""click ""#, #""../../etc""#])
    return event(
      render(replacing(base(), schema.typeField, with: Array(value.utf8))), .unknownType,
      .unknownType)
  }

  private mutating func duplicateKey() -> HostileEvent {
    var members = base()
    switch random.index(below: 4) {
    case 0: members.append((schema.timeField, Array("1".utf8)))
    case 1: members.append((schema.idField, quoted("other")))
    case 2: members.append((schema.categoricalFields.first ?? "user", quoted("again")))
    default: members.append((schema.featuresField, Array(#"{"cat":"a","cat":"b"}"#.utf8)))
    }
    return event(render(members), .duplicateKey, .duplicateKey)
  }

  private mutating func hostileRegion() -> HostileEvent {
    let region = Array(pick(HostileEvents.hostileRegionLiterals).utf8)
    return event(render(base(region: region)), .hostileRegion, nil)
  }

  private mutating func longRegion() -> HostileEvent {
    let unit = pick(["a", "../", "é", "\\u0000", "/"])
    var text = ""
    while text.utf8.count < 5_000 {
      text += random.index(below: 8) == 0 ? String(random.index(below: 10)) : unit
    }
    return event(
      render(base(region: [UInt8(ascii: "\"")] + Array(text.utf8) + [UInt8(ascii: "\"")])),
      .longRegion, nil)
  }

  private mutating func hugeID() -> HostileEvent {
    let id: [UInt8]
    switch random.index(below: 3) {
    case 0: id = Array((String(index) + String(repeating: "9", count: 40)).utf8)
    case 1: id = Array(("-" + String(index) + String(repeating: "7", count: 39)).utf8)
    default:
      let length = min(50_000, schema.maxEventBytes / 2)
      id = quoted("hostile-\(seed)-\(index)-" + String(repeating: "x", count: length))
    }
    let region = Array(pick(HostileEvents.hostileRegionLiterals).utf8)
    return event(render(replacing(base(region: region), schema.idField, with: id)), .hugeID, nil)
  }
}
