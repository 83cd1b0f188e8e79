/// A single-pass JSON reader over one event's UTF-8 bytes, reading only what the schema names.
///
/// It follows RFC 8259 strictly (no comments, no trailing commas, no NaN), checks UTF-8, bounds
/// nesting, and turns every fault into an `EventRejection`; it never traps on input.
import Base
struct EventParser {
  /// The JSON lexer over the event's bytes; `scanner.index` is the next byte to read.
  private var scanner: JSONScanner
  private let schema: EventSchema
  /// Names of the categorical features read so far, once there are many of them.
  private var featureNames: Set<String> = []

  /// The deepest nesting ever followed, whatever the schema says, so recursion stays shallow.
  static let depthCeiling = 256

  init(bytes: UnsafeBufferPointer<UInt8>, schema: EventSchema) {
    scanner = JSONScanner(bytes: bytes)
    var schema = schema
    schema.maxDepth = min(max(schema.maxDepth, 1), Self.depthCeiling)
    self.schema = schema
  }

  // MARK: - The event object

  private enum Known: Int {
    case type = 0, id, time, region, label, synthetic, features
  }

  private enum Time {
    case milliseconds(Int64)
    case text(String)
  }

  mutating func parseEvent() throws(EventRejection) -> Event {
    if scanner.bytes.count > schema.maxEventBytes { throw EventRejection(.oversize, offset: 0) }
    scanner.skipWhitespace()
    guard scanner.peek() == UInt8(ascii: "{") else { throw typeFault(field: nil) }
    scanner.index += 1
    var seen: UInt8 = 0
    var type: String?
    var id: String?
    var time: Time?
    var timeOffset = 0
    var region: String?
    var label: Bool?
    var isSynthetic = false
    var categorical: [Event.Feature] = []
    categorical.reserveCapacity(8)
    var numeric: [String: Double] = [:]
    var unread: [String] = []

    try forEachMember { (parser, key) throws(EventRejection) in
      let known = parser.knownField(key)
      if let known {
        let bit = UInt8(1) << UInt8(known.rawValue)
        if seen & bit != 0 { throw parser.fault(.duplicateKey, field: key) }
        seen |= bit
      }
      switch known {
      case .type: type = try parser.readString(field: key)
      case .id: id = try parser.readText(field: key)
      case .time:
        timeOffset = parser.scanner.index
        time = try parser.readTime(field: key)
      case .region: region = try parser.readOptionalText(field: key)
      case .label: label = try parser.readLabel(field: key)
      case .synthetic: isSynthetic = try parser.readBool(field: key)
      case .features:
        try parser.readFeatures(into: &categorical, numeric: &numeric)
      case nil:
        if try !parser.readFeatureOrSkip(
          key, depth: 1, categorical: &categorical, numeric: &numeric, isTopLevel: true)
        {
          unread.append(key)
        }
      }
    }
    scanner.skipWhitespace()
    if scanner.index != scanner.bytes.count { throw fault(.malformedJSON) }

    guard let type else { throw EventRejection(.missingField, field: schema.typeField, offset: 0) }
    let kind: Event.Kind
    if type == schema.impressionType {
      kind = .impression
    } else if type == schema.clickType {
      kind = .click
    } else {
      throw EventRejection(.unknownType, field: schema.typeField, offset: 0)
    }
    guard let id else { throw EventRejection(.missingField, field: schema.idField, offset: 0) }
    if id.isEmpty { throw EventRejection(.badValue, field: schema.idField, offset: 0) }
    guard let time else {
      throw EventRejection(.missingField, field: schema.timeField, offset: 0)
    }
    let milliseconds: Int64
    switch time {
    case .milliseconds(let value): milliseconds = value
    case .text(let text):
      guard let parsed = EventTime.milliseconds(rfc3339: text) else {
        throw EventRejection(.badTimestamp, field: schema.timeField, offset: timeOffset)
      }
      milliseconds = parsed
    }
    var event = Event(
      kind: kind, id: id, timeMilliseconds: milliseconds, region: region,
      categorical: categorical, numeric: numeric, label: kind == .impression ? label : nil,
      isSynthetic: isSynthetic)
    event.unreadFields = unread
    return event
  }

  private func knownField(_ key: String) -> Known? {
    if key == schema.typeField { return .type }
    if key == schema.idField { return .id }
    if key == schema.timeField { return .time }
    if key == schema.regionField { return .region }
    if key == schema.labelField { return .label }
    if key == schema.syntheticField { return .synthetic }
    if key == schema.featuresField { return .features }
    return nil
  }

  private mutating func readFeatures(
    into categorical: inout [Event.Feature], numeric: inout [String: Double]
  ) throws(EventRejection) {
    scanner.skipWhitespace()
    if scanner.peekLiteral("null") {
      scanner.index += 4
      return
    }
    guard scanner.peek() == UInt8(ascii: "{") else { throw typeFault(field: schema.featuresField) }
    try checkDepth(2, field: schema.featuresField)
    scanner.index += 1
    try forEachMember { (parser, key) throws(EventRejection) in
      try parser.readFeatureOrSkip(
        key, depth: 2, categorical: &categorical, numeric: &numeric, isTopLevel: false)
    }
  }

  /// Reads a numeric or categorical feature named `key`, or skips the value of an unknown
  /// top-level field; returns false when it skipped.
  @discardableResult
  private mutating func readFeatureOrSkip(
    _ key: String, depth: Int, categorical: inout [Event.Feature],
    numeric: inout [String: Double], isTopLevel: Bool
  ) throws(EventRejection) -> Bool {
    if !schema.numericFeatures.isEmpty && schema.numericFeatures.contains(key) {
      if numeric[key] != nil { throw fault(.duplicateKey, field: key) }
      scanner.skipWhitespace()
      if scanner.peekLiteral("null") {
        scanner.index += 4
        return true
      }
      numeric[key] = try readNumber(field: key)
      return true
    }
    guard !isTopLevel || schema.categoricalFields.contains(key) else {
      try skipValue(depth: depth)
      return false
    }
    if isKnownFeature(key, in: categorical) { throw fault(.duplicateKey, field: key) }
    if let value = try readOptionalText(field: key) {
      categorical.append(Event.Feature(name: key, value: value))
      if !featureNames.isEmpty || categorical.count == Self.linearSearchLimit {
        if featureNames.isEmpty { featureNames = Set(categorical.map(\.name)) }
        featureNames.insert(key)
      }
    }
    return true
  }

  /// Up to this many features, duplicates are found by a linear search; past it, by a set, so
  /// an event with thousands of features costs linear time.
  private static let linearSearchLimit = 16

  private func isKnownFeature(_ name: String, in categorical: [Event.Feature]) -> Bool {
    if featureNames.isEmpty { return categorical.contains { $0.name == name } }
    return featureNames.contains(name)
  }

  // MARK: - Typed values

  private mutating func readString(field: String) throws(EventRejection) -> String {
    scanner.skipWhitespace()
    guard scanner.peek() == UInt8(ascii: "\"") else { throw typeFault(field: field) }
    return try readStringLiteral(field: field)
  }

  /// A string, or an integer as its decimal text.
  private mutating func readText(field: String) throws(EventRejection) -> String {
    guard let text = try readOptionalText(field: field) else {
      throw fault(.wrongType, field: field)
    }
    return text
  }

  /// A string, an integer as its decimal text, or `nil` for `null`.
  private mutating func readOptionalText(field: String) throws(EventRejection) -> String? {
    scanner.skipWhitespace()
    switch scanner.peek() {
    case UInt8(ascii: "\""): return try readStringLiteral(field: field)
    case UInt8(ascii: "n"):
      try expectLiteral("null", field: field)
      return nil
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      let start = scanner.index
      let isInteger = try scanNumber(field: field)
      guard isInteger else { throw EventRejection(.wrongType, field: field, offset: start) }
      return scanner.text(start..<scanner.index)
    default: throw typeFault(field: field)
    }
  }

  private mutating func readTime(field: String) throws(EventRejection) -> Time {
    scanner.skipWhitespace()
    let start = scanner.index
    switch scanner.peek() {
    case UInt8(ascii: "\""): return .text(try readStringLiteral(field: field))
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      let isInteger = try scanNumber(field: field)
      guard isInteger, let value = scanner.integer(start..<scanner.index), value >= 0,
        value <= EventTime.latestMilliseconds
      else { throw EventRejection(.badTimestamp, field: field, offset: start) }
      return .milliseconds(value)
    default: throw typeFault(field: field)
    }
  }

  private mutating func readLabel(field: String) throws(EventRejection) -> Bool? {
    scanner.skipWhitespace()
    let start = scanner.index
    switch scanner.peek() {
    case UInt8(ascii: "n"):
      try expectLiteral("null", field: field)
      return nil
    case UInt8(ascii: "t"), UInt8(ascii: "f"): return try readBool(field: field)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      let isInteger = try scanNumber(field: field)
      switch isInteger ? scanner.integer(start..<scanner.index) : nil {
      case 0?: return false
      case 1?: return true
      default: throw EventRejection(.badValue, field: field, offset: start)
      }
    default: throw typeFault(field: field)
    }
  }

  private mutating func readBool(field: String) throws(EventRejection) -> Bool {
    scanner.skipWhitespace()
    if scanner.peekLiteral("true") {
      scanner.index += 4
      return true
    }
    if scanner.peekLiteral("false") {
      scanner.index += 5
      return false
    }
    throw typeFault(field: field)
  }

  private mutating func readNumber(field: String) throws(EventRejection) -> Double {
    scanner.skipWhitespace()
    let start = scanner.index
    switch scanner.peek() {
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      _ = try scanNumber(field: field)
      let text = scanner.text(start..<scanner.index)
      guard let value = Double(text), value.isFinite else {
        throw EventRejection(.nonFiniteNumber, field: field, offset: start)
      }
      return value
    case UInt8(ascii: "\""):
      // A number written as a string ("3", " -1.5e2 "), as many producers do: decimal only.
      let text = try readStringLiteral(field: field).trimmingCharacters(in: .whitespaces)
      let isDecimal =
        !text.isEmpty
        && text.utf8.allSatisfy { byte in
          (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "e")
            || byte == UInt8(ascii: "E")
        }
      guard isDecimal, let value = Double(text) else {
        throw EventRejection(.wrongType, field: field, offset: start)
      }
      guard value.isFinite else {
        throw EventRejection(.nonFiniteNumber, field: field, offset: start)
      }
      return value
    default: throw typeFault(field: field)
    }
  }

  /// The rejection for a value of the wrong type, or `nonFiniteNumber` for NaN/Infinity literals.
  private func typeFault(field: String?) -> EventRejection {
    if scanner.peekLiteral("NaN") || scanner.peekLiteral("Infinity")
      || scanner.peekLiteral("-Infinity")
    {
      return fault(.nonFiniteNumber, field: field)
    }
    switch scanner.peek() {
    case UInt8(ascii: "\""), UInt8(ascii: "{"), UInt8(ascii: "["):
      return fault(.wrongType, field: field)
    case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
      let isLiteral =
        scanner.peekLiteral("true") || scanner.peekLiteral("false") || scanner.peekLiteral("null")
      return fault(isLiteral ? .wrongType : .malformedJSON, field: field)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      var probe = self
      let isNumber = (try? probe.scanNumber(field: field)) != nil
      return fault(isNumber ? .wrongType : .malformedJSON, field: field)
    default: return fault(.malformedJSON, field: field)
    }
  }

  // MARK: - JSON grammar

  /// Calls `body` with each member key of an object whose `{` was consumed; `body` reads the value.
  private mutating func forEachMember(
    _ body: (inout EventParser, String) throws(EventRejection) -> Void
  ) throws(EventRejection) {
    scanner.skipWhitespace()
    if scanner.peek() == UInt8(ascii: "}") {
      scanner.index += 1
      return
    }
    while true {
      scanner.skipWhitespace()
      guard scanner.peek() == UInt8(ascii: "\"") else { throw fault(.malformedJSON) }
      let key = try readStringLiteral(field: nil)
      scanner.skipWhitespace()
      guard scanner.peek() == UInt8(ascii: ":") else { throw fault(.malformedJSON, field: key) }
      scanner.index += 1
      try body(&self, key)
      scanner.skipWhitespace()
      switch scanner.peek() {
      case UInt8(ascii: ","): scanner.index += 1
      case UInt8(ascii: "}"):
        scanner.index += 1
        return
      default: throw fault(.malformedJSON, field: key)
      }
    }
  }

  /// Validates and skips one value nested at `depth` (the containing object's depth).
  private mutating func skipValue(depth: Int) throws(EventRejection) {
    scanner.skipWhitespace()
    switch scanner.peek() {
    case UInt8(ascii: "\""): try skipStringLiteral()
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      let start = scanner.index
      let isInteger = try scanNumber(field: nil)
      if !isInteger {
        let text = scanner.text(start..<scanner.index)
        if !(Double(text)?.isFinite ?? false) {
          throw EventRejection(.nonFiniteNumber, offset: start)
        }
      }
    case UInt8(ascii: "t"): try expectLiteral("true", field: nil)
    case UInt8(ascii: "f"): try expectLiteral("false", field: nil)
    case UInt8(ascii: "n"): try expectLiteral("null", field: nil)
    case UInt8(ascii: "{"):
      try checkDepth(depth + 1)
      scanner.index += 1
      try forEachMember { (parser, _) throws(EventRejection) in
        try parser.skipValue(depth: depth + 1)
      }
    case UInt8(ascii: "["):
      try checkDepth(depth + 1)
      scanner.index += 1
      scanner.skipWhitespace()
      if scanner.peek() == UInt8(ascii: "]") {
        scanner.index += 1
        return
      }
      while true {
        try skipValue(depth: depth + 1)
        scanner.skipWhitespace()
        switch scanner.peek() {
        case UInt8(ascii: ","): scanner.index += 1
        case UInt8(ascii: "]"):
          scanner.index += 1
          return
        default: throw fault(.malformedJSON)
        }
      }
    default: throw typeFault(field: nil)
    }
  }

  /// Scans a JSON number at the scanner; returns whether it has neither fraction nor exponent.
  private mutating func scanNumber(field: String?) throws(EventRejection) -> Bool {
    if scanner.peekLiteral("-Infinity") {
      throw EventRejection(.nonFiniteNumber, field: field, offset: scanner.index)
    }
    do throws(JSONScanner.Fault) {
      return try scanner.scanNumber()
    } catch {
      throw EventRejection(.malformedJSON, field: field, offset: error.offset)
    }
  }

  /// Reads a string literal at the scanner (which holds `"`) and returns its decoded text.
  private mutating func readStringLiteral(field: String?) throws(EventRejection) -> String {
    let token = try scanStringLiteral(field: field)
    do throws(JSONScanner.Fault) {
      return try scanner.decodeString(token, deferringUTF8Faults: true)
    } catch {
      throw rejection(error, in: token, field: field)
    }
  }

  private mutating func skipStringLiteral() throws(EventRejection) {
    let token = try scanStringLiteral(field: nil)
    if token.hasEscape || !token.isASCII {
      do throws(JSONScanner.Fault) {
        _ = try scanner.decodeString(token, deferringUTF8Faults: true)
      } catch {
        throw rejection(error, in: token, field: nil)
      }
    }
  }

  /// Finds the closing quote; returns where the contents lie and what decoding them needs.
  private mutating func scanStringLiteral(
    field: String?
  ) throws(EventRejection) -> JSONScanner.StringToken {
    do throws(JSONScanner.Fault) {
      return try scanner.scanString()
    } catch {
      throw EventRejection(.malformedJSON, field: field, offset: error.offset)
    }
  }

  /// The rejection for a fault in the text of a string: invalid UTF-8 at the start of the
  /// text, a broken surrogate pair just after its high half, any other escape where it is.
  private func rejection(
    _ fault: JSONScanner.Fault, in token: JSONScanner.StringToken, field: String?
  ) -> EventRejection {
    switch fault.kind {
    case .invalidUTF8:
      return EventRejection(.invalidUTF8, field: field, offset: token.contents.lowerBound)
    case .loneHighSurrogate, .missingLowSurrogate, .loneLowSurrogate:
      return EventRejection(
        .invalidUTF8, field: field, offset: fault.surrogateOffset ?? fault.offset)
    case .truncatedUnicodeEscape, .invalidHexDigit:
      if let highEnd = fault.surrogateOffset {
        return EventRejection(.invalidUTF8, field: field, offset: highEnd)
      }
      return EventRejection(
        .malformedJSON, field: field, offset: fault.escapeOffset ?? fault.offset)
    default:
      return EventRejection(.malformedJSON, field: field, offset: fault.offset)
    }
  }

  // MARK: - Bytes

  private mutating func expectLiteral(
    _ literal: StaticString, field: String?
  ) throws(EventRejection) {
    guard scanner.peekLiteral(literal) else { throw fault(.malformedJSON, field: field) }
    scanner.index += literal.utf8CodeUnitCount
  }

  /// Throws `tooDeep` unless `depth` is within the schema's bound.
  private func checkDepth(_ depth: Int, field: String? = nil) throws(EventRejection) {
    do throws(JSONScanner.Fault) {
      try scanner.checkDepth(depth, limit: schema.maxDepth)
    } catch {
      throw EventRejection(.tooDeep, field: field, offset: error.offset)
    }
  }

  private func fault(_ reason: EventRejection.Reason, field: String? = nil) -> EventRejection {
    EventRejection(reason, field: field, offset: scanner.index)
  }
}
