/// A single-pass JSON reader over one event's UTF-8 bytes, reading only what the schema names.
///
/// It follows RFC 8259 strictly (no comments, no trailing commas, no NaN), checks UTF-8, bounds
/// nesting, and turns every fault into an `EventRejection`; it never traps on input.
struct EventParser {
  private let bytes: UnsafeBufferPointer<UInt8>
  private let schema: EventSchema
  private var index = 0
  /// Names of the categorical features read so far, once there are many of them.
  private var featureNames: Set<String> = []

  /// The deepest nesting ever followed, whatever the schema says, so recursion stays shallow.
  static let depthCeiling = 256

  init(bytes: UnsafeBufferPointer<UInt8>, schema: EventSchema) {
    self.bytes = bytes
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
    if bytes.count > schema.maxEventBytes { throw EventRejection(.oversize, offset: 0) }
    skipWhitespace()
    guard peek() == UInt8(ascii: "{") else { throw typeFault(field: nil) }
    index += 1
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
        timeOffset = parser.index
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
    skipWhitespace()
    if index != bytes.count { throw fault(.malformedJSON) }

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
    skipWhitespace()
    if peekLiteral("null") {
      index += 4
      return
    }
    guard peek() == UInt8(ascii: "{") else { throw typeFault(field: schema.featuresField) }
    if schema.maxDepth < 2 { throw fault(.tooDeep, field: schema.featuresField) }
    index += 1
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
      skipWhitespace()
      if peekLiteral("null") {
        index += 4
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
    skipWhitespace()
    guard peek() == UInt8(ascii: "\"") else { throw typeFault(field: field) }
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
    skipWhitespace()
    switch peek() {
    case UInt8(ascii: "\""): return try readStringLiteral(field: field)
    case UInt8(ascii: "n"):
      try expectLiteral("null", field: field)
      return nil
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      let start = index
      let isInteger = try scanNumber(field: field)
      guard isInteger else { throw EventRejection(.wrongType, field: field, offset: start) }
      return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
    default: throw typeFault(field: field)
    }
  }

  private mutating func readTime(field: String) throws(EventRejection) -> Time {
    skipWhitespace()
    let start = index
    switch peek() {
    case UInt8(ascii: "\""): return .text(try readStringLiteral(field: field))
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      let isInteger = try scanNumber(field: field)
      guard isInteger, let value = integer(start..<index), value >= 0,
        value <= EventTime.latestMilliseconds
      else { throw EventRejection(.badTimestamp, field: field, offset: start) }
      return .milliseconds(value)
    default: throw typeFault(field: field)
    }
  }

  private mutating func readLabel(field: String) throws(EventRejection) -> Bool? {
    skipWhitespace()
    let start = index
    switch peek() {
    case UInt8(ascii: "n"):
      try expectLiteral("null", field: field)
      return nil
    case UInt8(ascii: "t"), UInt8(ascii: "f"): return try readBool(field: field)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      let isInteger = try scanNumber(field: field)
      switch isInteger ? integer(start..<index) : nil {
      case 0?: return false
      case 1?: return true
      default: throw EventRejection(.badValue, field: field, offset: start)
      }
    default: throw typeFault(field: field)
    }
  }

  private mutating func readBool(field: String) throws(EventRejection) -> Bool {
    skipWhitespace()
    if peekLiteral("true") {
      index += 4
      return true
    }
    if peekLiteral("false") {
      index += 5
      return false
    }
    throw typeFault(field: field)
  }

  private mutating func readNumber(field: String) throws(EventRejection) -> Double {
    skipWhitespace()
    let start = index
    switch peek() {
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      _ = try scanNumber(field: field)
      let text = String(
        decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
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
    if peekLiteral("NaN") || peekLiteral("Infinity") || peekLiteral("-Infinity") {
      return fault(.nonFiniteNumber, field: field)
    }
    switch peek() {
    case UInt8(ascii: "\""), UInt8(ascii: "{"), UInt8(ascii: "["):
      return fault(.wrongType, field: field)
    case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
      let isLiteral = peekLiteral("true") || peekLiteral("false") || peekLiteral("null")
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
    skipWhitespace()
    if peek() == UInt8(ascii: "}") {
      index += 1
      return
    }
    while true {
      skipWhitespace()
      guard peek() == UInt8(ascii: "\"") else { throw fault(.malformedJSON) }
      let key = try readStringLiteral(field: nil)
      skipWhitespace()
      guard peek() == UInt8(ascii: ":") else { throw fault(.malformedJSON, field: key) }
      index += 1
      try body(&self, key)
      skipWhitespace()
      switch peek() {
      case UInt8(ascii: ","): index += 1
      case UInt8(ascii: "}"):
        index += 1
        return
      default: throw fault(.malformedJSON, field: key)
      }
    }
  }

  /// Validates and skips one value nested at `depth` (the containing object's depth).
  private mutating func skipValue(depth: Int) throws(EventRejection) {
    skipWhitespace()
    switch peek() {
    case UInt8(ascii: "\""): try skipStringLiteral()
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      let start = index
      let isInteger = try scanNumber(field: nil)
      if !isInteger {
        let text = String(
          decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if !(Double(text)?.isFinite ?? false) {
          throw EventRejection(.nonFiniteNumber, offset: start)
        }
      }
    case UInt8(ascii: "t"): try expectLiteral("true", field: nil)
    case UInt8(ascii: "f"): try expectLiteral("false", field: nil)
    case UInt8(ascii: "n"): try expectLiteral("null", field: nil)
    case UInt8(ascii: "{"):
      if depth + 1 > schema.maxDepth { throw fault(.tooDeep) }
      index += 1
      try forEachMember { (parser, _) throws(EventRejection) in
        try parser.skipValue(depth: depth + 1)
      }
    case UInt8(ascii: "["):
      if depth + 1 > schema.maxDepth { throw fault(.tooDeep) }
      index += 1
      skipWhitespace()
      if peek() == UInt8(ascii: "]") {
        index += 1
        return
      }
      while true {
        try skipValue(depth: depth + 1)
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: ","): index += 1
        case UInt8(ascii: "]"):
          index += 1
          return
        default: throw fault(.malformedJSON)
        }
      }
    default: throw typeFault(field: nil)
    }
  }

  /// Scans a JSON number at `index`; returns whether it has neither fraction nor exponent.
  private mutating func scanNumber(field: String?) throws(EventRejection) -> Bool {
    let start = index
    if peek() == UInt8(ascii: "-") { index += 1 }
    if peekLiteral("Infinity") {
      throw EventRejection(.nonFiniteNumber, field: field, offset: start)
    }
    let first = peek()
    guard isDigit(first) else { throw fault(.malformedJSON, field: field) }
    index += 1
    if first != UInt8(ascii: "0") {
      while isDigit(peek()) { index += 1 }
    }
    var isInteger = true
    if peek() == UInt8(ascii: ".") {
      isInteger = false
      index += 1
      try scanDigits(field: field)
    }
    if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
      isInteger = false
      index += 1
      if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
      try scanDigits(field: field)
    }
    return isInteger
  }

  private mutating func scanDigits(field: String?) throws(EventRejection) {
    guard isDigit(peek()) else { throw fault(.malformedJSON, field: field) }
    while isDigit(peek()) { index += 1 }
  }

  /// The value of an integer token, or `nil` if it does not fit in `Int64`.
  private func integer(_ range: Range<Int>) -> Int64? {
    var position = range.lowerBound
    let isNegative = bytes[position] == UInt8(ascii: "-")
    if isNegative { position += 1 }
    var value: Int64 = 0
    while position < range.upperBound {
      let digit = Int64(bytes[position] &- UInt8(ascii: "0"))
      let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
      let (sum, overflow2) = times.addingReportingOverflow(digit)
      if overflow1 || overflow2 { return nil }
      value = sum
      position += 1
    }
    return isNegative ? -value : value
  }

  /// Reads a string literal at `index` (which holds `"`) and returns its decoded text.
  private mutating func readStringLiteral(field: String?) throws(EventRejection) -> String {
    let start = index + 1
    let (end, hasEscape, isASCII) = try scanStringLiteral(field: field)
    let raw = UnsafeBufferPointer(rebasing: bytes[start..<end])
    if !hasEscape {
      if isASCII { return String(decoding: raw, as: UTF8.self) }
      guard let text = String(validating: raw, as: UTF8.self) else {
        throw EventRejection(.invalidUTF8, field: field, offset: start)
      }
      return text
    }
    return try unescape(raw, offset: start, field: field)
  }

  private mutating func skipStringLiteral() throws(EventRejection) {
    let start = index + 1
    let (end, hasEscape, isASCII) = try scanStringLiteral(field: nil)
    let raw = UnsafeBufferPointer(rebasing: bytes[start..<end])
    if hasEscape {
      _ = try unescape(raw, offset: start, field: nil)
    } else if !isASCII, String(validating: raw, as: UTF8.self) == nil {
      throw EventRejection(.invalidUTF8, offset: start)
    }
  }

  /// Finds the closing quote; returns its index and what the contents need to be decoded.
  private mutating func scanStringLiteral(
    field: String?
  ) throws(EventRejection) -> (end: Int, hasEscape: Bool, isASCII: Bool) {
    index += 1
    var hasEscape = false
    var isASCII = true
    while index < bytes.count {
      let byte = bytes[index]
      if byte == UInt8(ascii: "\"") {
        let end = index
        index += 1
        return (end, hasEscape, isASCII)
      }
      if byte == UInt8(ascii: "\\") {
        hasEscape = true
        index += 2
        continue
      }
      if byte < 0x20 { throw fault(.malformedJSON, field: field) }
      if byte >= 0x80 { isASCII = false }
      index += 1
    }
    index = bytes.count
    throw fault(.malformedJSON, field: field)
  }

  private func unescape(
    _ raw: UnsafeBufferPointer<UInt8>, offset: Int, field: String?
  ) throws(EventRejection) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(raw.count)
    var position = 0
    while position < raw.count {
      let byte = raw[position]
      guard byte == UInt8(ascii: "\\") else {
        out.append(byte)
        position += 1
        continue
      }
      guard position + 1 < raw.count else {
        throw EventRejection(.malformedJSON, field: field, offset: offset + position)
      }
      let escaped = raw[position + 1]
      position += 2
      switch escaped {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "u"):
        guard let unit = hex4(raw, at: position) else {
          throw EventRejection(.malformedJSON, field: field, offset: offset + position)
        }
        position += 4
        var scalarValue = UInt32(unit)
        if (0xD800...0xDBFF).contains(unit) {
          guard position + 1 < raw.count, raw[position] == UInt8(ascii: "\\"),
            raw[position + 1] == UInt8(ascii: "u"), let low = hex4(raw, at: position + 2),
            (0xDC00...0xDFFF).contains(low)
          else { throw EventRejection(.invalidUTF8, field: field, offset: offset + position) }
          position += 6
          scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(unit) {
          throw EventRejection(.invalidUTF8, field: field, offset: offset + position)
        }
        guard let scalar = Unicode.Scalar(scalarValue) else {
          throw EventRejection(.invalidUTF8, field: field, offset: offset + position)
        }
        UTF8.encode(scalar) { out.append($0) }
      default:
        throw EventRejection(.malformedJSON, field: field, offset: offset + position - 1)
      }
    }
    guard let text = String(validating: out, as: UTF8.self) else {
      throw EventRejection(.invalidUTF8, field: field, offset: offset)
    }
    return text
  }

  private func hex4(_ raw: UnsafeBufferPointer<UInt8>, at position: Int) -> UInt16? {
    guard position + 4 <= raw.count else { return nil }
    var value: UInt16 = 0
    for byte in raw[position..<position + 4] {
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
      default: return nil
      }
      value = value << 4 | UInt16(digit)
    }
    return value
  }

  // MARK: - Bytes

  /// The byte at `index`, or 0 (never valid outside a string) at the end.
  private func peek() -> UInt8 { index < bytes.count ? bytes[index] : 0 }

  private func isDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
  }

  private func peekLiteral(_ literal: StaticString) -> Bool {
    let count = literal.utf8CodeUnitCount
    guard index + count <= bytes.count else { return false }
    let pointer = literal.utf8Start
    for offset in 0..<count where bytes[index + offset] != pointer[offset] { return false }
    return true
  }

  private mutating func expectLiteral(
    _ literal: StaticString, field: String?
  ) throws(EventRejection) {
    guard peekLiteral(literal) else { throw fault(.malformedJSON, field: field) }
    index += literal.utf8CodeUnitCount
  }

  private mutating func skipWhitespace() {
    while index < bytes.count {
      switch bytes[index] {
      case 0x20, 0x0A, 0x0D, 0x09: index += 1
      default: return
      }
    }
  }

  private func fault(_ reason: EventRejection.Reason, field: String? = nil) -> EventRejection {
    EventRejection(reason, field: field, offset: index)
  }
}
