import Base

extension LabelJoiner.State {
  /// The state as bytes (format `IAKJ` version 5, little-endian, strings length-prefixed UTF-8),
  /// for a snapshot; `init(bytes:)` reads it back to an equal state. Version 2 adds to each
  /// waiting impression its `ServingScore` (a presence byte, then the two logits as float32
  /// bit patterns and the serving flag); version 3 adds to each partition, after its resolved
  /// ids, the admission memory: its recent event times (a count, then int64s), whether its clock
  /// is borne out (a byte), the new-domain day (int64) and the domains started that day (a
  /// count, then strings). Version 4 adds two counts (provisional negatives, fake negatives)
  /// after the nine others, and to each waiting impression, after its score, whether it is
  /// provisional (a byte) and its held click's delay (a presence byte, then an int64). Version 5
  /// writes waiting impressions compactly: each partition lists, after its next sequence number,
  /// a table of feature names (a count, then strings: the sorted names of its first waiting
  /// impression), and each impression's strings carry a varint length (LEB128) instead of a
  /// `u32`, its feature counts are varints, and each feature names itself by a varint: `k + 1`
  /// for the table's `k`th name, 0 for a name written out after it. Versions 1 to 4 are still
  /// read (an empty admission memory, the clock of a partition that ran borne out; no
  /// provisional impression, no click delay).
  public func serialized() -> [UInt8] {
    Self.serialized(counts: counts, blocks: partitions.map { $0.serializedBlock() })
  }

  /// The bytes of a state with `counts` whose partitions serialized to `blocks`, in order.
  public static func serialized(counts: LabelJoiner.Counts, blocks: [[UInt8]]) -> [UInt8] {
    var writer = ByteWriter()
    for byte in "IAKJ".utf8 { writer.append(byte) }
    writer.append(UInt8(5))
    for count in [
      counts.clicked, counts.expired, counts.evicted, counts.preLabelled,
      counts.duplicateImpressions, counts.duplicateClicks, counts.lateClicks, counts.orphanClicks,
      counts.overflowClicks, counts.provisional, counts.fakeNegatives,
    ] {
      writer.append(UInt64(count))
    }
    writer.appendCount(blocks.count)
    var bytes = writer.bytes
    bytes.reserveCapacity(bytes.count + blocks.reduce(0) { $0 + $1.count })
    for block in blocks { bytes += block }
    return bytes
  }

  /// Reads a state written by `serialized()`.
  ///
  /// - Throws: `ByteReadError` if the bytes are not such a state (wrong magic or version,
  ///   truncated, impossible counts, invalid UTF-8, trailing bytes).
  public init(bytes: [UInt8]) throws(ByteReadError) {
    var reader = ByteReader(bytes)
    let version = try reader.expectMagic("IAKJ", versions: 1...5)
    var counts = LabelJoiner.Counts()
    var values: [Int] = []
    for _ in 0..<(version >= 4 ? 11 : 9) {
      values.append(Int(truncatingIfNeeded: try reader.read(UInt64.self)))
    }
    counts.clicked = values[0]
    counts.expired = values[1]
    counts.evicted = values[2]
    counts.preLabelled = values[3]
    counts.duplicateImpressions = values[4]
    counts.duplicateClicks = values[5]
    counts.lateClicks = values[6]
    counts.orphanClicks = values[7]
    counts.overflowClicks = values[8]
    if version >= 4 {
      counts.provisional = values[9]
      counts.fakeNegatives = values[10]
    }
    var partitions: [LabelJoiner.PartitionState] = []
    for _ in 0..<(try reader.readCount(minimumSize: 32)) {
      var partition = LabelJoiner.PartitionState(
        partition: try reader.read(Int32.self),
        maxEventTimeMilliseconds: try reader.read(Int64.self),
        nextSequence: try reader.read(UInt64.self))
      var names: [String] = []
      if version >= 5 {
        for _ in 0..<(try reader.readCount(minimumSize: 4)) {
          names.append(try reader.readString())
        }
      }
      for _ in 0..<(try reader.readCount(minimumSize: version >= 5 ? 34 : 40)) {
        var waiting = LabelJoiner.PendingImpression(
          impression: try reader.readEvent(names: version >= 5 ? names : nil),
          deadlineMilliseconds: try reader.read(Int64.self),
          sequence: try reader.read(UInt64.self))
        if version >= 2, try reader.readBool() {
          waiting.score = ServingScore(
            backboneLogit: Float(bitPattern: try reader.read(UInt32.self)),
            kernelLogit: Float(bitPattern: try reader.read(UInt32.self)),
            servesKernel: try reader.readBool())
        }
        if version >= 4 {
          waiting.isProvisional = try reader.readBool()
          if try reader.readBool() { waiting.clickDelayMilliseconds = try reader.read(Int64.self) }
        }
        partition.pending.append(waiting)
      }
      for _ in 0..<(try reader.readCount(minimumSize: 20)) {
        partition.earlyClicks.append(
          LabelJoiner.EarlyClick(
            impressionID: try reader.readString(), timeMilliseconds: try reader.read(Int64.self),
            sequence: try reader.read(UInt64.self)))
      }
      for _ in 0..<(try reader.readCount(minimumSize: 13)) {
        partition.resolved.append(
          LabelJoiner.ResolvedImpression(
            impressionID: try reader.readString(), wasClicked: try reader.readBool(),
            forgetAtMilliseconds: try reader.read(Int64.self)))
      }
      if version >= 3 {
        for _ in 0..<(try reader.readCount(minimumSize: 8)) {
          partition.recentEventTimesMilliseconds.append(try reader.read(Int64.self))
        }
        partition.isClockConfirmed = try reader.readBool()
        partition.newDomainDay = try reader.read(Int64.self)
        for _ in 0..<(try reader.readCount(minimumSize: 4)) {
          partition.newDomains.append(try reader.readString())
        }
      } else {
        // Written before the admission memory: a partition that ran has a clock borne out.
        partition.isClockConfirmed = partition.maxEventTimeMilliseconds != .min
      }
      partitions.append(partition)
    }
    guard reader.isAtEnd else {
      throw ByteReadError("IAKJ state: unexpected bytes after the end at byte \(reader.offset)")
    }
    self.init(partitions: partitions, counts: counts)
  }
}

extension ByteWriter {
  /// Appends a waiting impression as a block lists it: the impression (compact, `names` giving
  /// the index of each name in the block's table), its deadline and sequence, its score,
  /// whether it is provisional and its held click's delay.
  mutating func append(_ waiting: LabelJoiner.PendingImpression, names: [String: Int]) {
    appendCompact(waiting.impression, names: names)
    append(waiting.deadlineMilliseconds)
    append(waiting.sequence)
    append(waiting.score != nil)
    if let score = waiting.score {
      append(score.backboneLogit.bitPattern)
      append(score.kernelLogit.bitPattern)
      append(score.servesKernel)
    }
    append(waiting.isProvisional)
    append(waiting.clickDelayMilliseconds != nil)
    if let delay = waiting.clickDelayMilliseconds { append(delay) }
  }
}

extension ByteWriter {
  /// Appends `event` in version 5's compact form: a feature name in `names` is written as its
  /// index plus one, any other as 0 and the name.
  mutating func appendCompact(_ event: Event, names: [String: Int]) {
    append(UInt8(event.kind == .impression ? 0 : 1))
    appendShortString(event.id)
    append(event.timeMilliseconds)
    append(event.region != nil)
    if let region = event.region { appendShortString(region) }
    appendVarint(UInt64(event.categorical.count))
    for feature in event.categorical {
      appendName(feature.name, names: names)
      appendShortString(feature.value)
    }
    appendVarint(UInt64(event.numeric.count))
    for name in event.numeric.keys.sorted() {
      appendName(name, names: names)
      append(event.numeric[name]!)
    }
    append(UInt8(event.label.map { $0 ? 2 : 1 } ?? 0))
    append(event.isSynthetic)
  }

  /// Appends a feature name as a reference to the table (`index + 1`) or, when it is not
  /// there, as 0 and the name.
  private mutating func appendName(_ name: String, names: [String: Int]) {
    if let index = ByteWriter.tableIndex(of: name, in: names) {
      appendVarint(UInt64(index + 1))
    } else {
      appendVarint(0)
      appendShortString(name)
    }
  }

  /// The index of `name` in a block's table, if the table holds the same UTF-8 bytes: Swift's
  /// string equality is canonical (an "é" of one code point equals one of two), and a name read
  /// back must be the bytes that were written (features are hashed by their bytes).
  static func tableIndex(of name: String, in names: [String: Int]) -> Int? {
    guard let index = names.index(forKey: name) else { return nil }
    let entry = names[index]
    return entry.key.utf8.elementsEqual(name.utf8) ? entry.value : nil
  }

  /// The bytes `appendCompact(_:names:)` writes for `event`.
  static func compactSize(of event: Event, names: [String: Int]) -> Int {
    func nameSize(_ name: String) -> Int {
      tableIndex(of: name, in: names).map { varintSize(of: UInt64($0 + 1)) }
        ?? (1 + shortStringSize(of: name))
    }
    var total = 1 + shortStringSize(of: event.id) + 8 + 1
    total += event.region.map { shortStringSize(of: $0) } ?? 0
    total += varintSize(of: UInt64(event.categorical.count))
    for feature in event.categorical {
      total += nameSize(feature.name) + shortStringSize(of: feature.value)
    }
    total += varintSize(of: UInt64(event.numeric.count))
    for name in event.numeric.keys { total += nameSize(name) + 8 }
    return total + 2
  }
}

extension Event {
  /// The feature names of a block's table when this is its first waiting impression: its
  /// categorical and numeric names, sorted, each once.
  var featureNameTable: [String] {
    Array(Set(categorical.map(\.name)).union(numeric.keys)).sorted()
  }
}

extension ByteReader {
  /// An event as version 5 writes it (`appendCompact(_:names:)`), its feature names read from
  /// `names`, its block's table; with nil, as versions 1 to 4 wrote it (`u32` lengths and
  /// counts, every name written out).
  mutating func readEvent(names: [String]?) throws(ByteReadError) -> Event {
    let compact = names != nil
    let kindByte = try readByte()
    guard kindByte <= 1 else { throw ByteReadError("byte \(offset - 1): bad event kind") }
    let id = try readEventString(compact: compact)
    let time = try read(Int64.self)
    let region = try readBool() ? try readEventString(compact: compact) : nil
    var categorical: [Event.Feature] = []
    for _ in 0..<(try readEventCount(compact: compact, minimumSize: compact ? 2 : 8)) {
      categorical.append(
        Event.Feature(name: try readName(names), value: try readEventString(compact: compact)))
    }
    var numeric: [String: Double] = [:]
    for _ in 0..<(try readEventCount(compact: compact, minimumSize: compact ? 9 : 12)) {
      let name = try readName(names)
      numeric[name] = try readDouble()
    }
    let labelByte = try readByte()
    guard labelByte <= 2 else { throw ByteReadError("byte \(offset - 1): bad label") }
    return Event(
      kind: kindByte == 0 ? .impression : .click, id: id, timeMilliseconds: time, region: region,
      categorical: categorical, numeric: numeric, label: labelByte == 0 ? nil : labelByte == 2,
      isSynthetic: try readBool())
  }

  private mutating func readEventString(compact: Bool) throws(ByteReadError) -> String {
    compact ? try readShortString() : try readString()
  }

  private mutating func readEventCount(
    compact: Bool, minimumSize: Int
  ) throws(ByteReadError) -> Int {
    compact
      ? try readVarintCount(minimumSize: minimumSize) : try readCount(minimumSize: minimumSize)
  }

  /// A feature name: written out (versions 1 to 4, `names` nil), or a reference to the table.
  private mutating func readName(_ names: [String]?) throws(ByteReadError) -> String {
    guard let names else { return try readString() }
    let start = offset
    let reference = try readVarint()
    if reference == 0 { return try readShortString() }
    guard reference <= UInt64(names.count) else {
      throw ByteReadError(
        "byte \(start): feature name \(reference) of a table of \(names.count)")
    }
    return names[Int(reference - 1)]
  }
}

extension LabelJoiner.PartitionState {
  /// This partition's part of `LabelJoiner.State.serialized()`.
  func serializedBlock() -> [UInt8] {
    let names = pending.first?.impression.featureNameTable ?? []
    let indices = Self.indices(of: names)
    var writer = ByteWriter(capacity: serializedBlockSize)
    appendHead(to: &writer, names: names)
    writer.appendCount(pending.count)
    for waiting in pending { writer.append(waiting, names: indices) }
    appendTail(to: &writer)
    return writer.bytes
  }

  /// Each name of a table by its index in it.
  static func indices(of names: [String]) -> [String: Int] {
    Dictionary(names.enumerated().map { ($0.element, $0.offset) }) { first, _ in first }
  }

  /// What a block holds before its waiting impressions: the partition, its clock, its next
  /// sequence number and the table of feature names they refer to.
  func appendHead(to writer: inout ByteWriter, names: [String]) {
    writer.append(partition)
    writer.append(maxEventTimeMilliseconds)
    writer.append(nextSequence)
    writer.appendCount(names.count)
    for name in names { writer.append(name) }
  }

  /// What a block holds after its waiting impressions: early clicks, resolved ids and the
  /// admission memory.
  func appendTail(to writer: inout ByteWriter) {
    writer.appendCount(earlyClicks.count)
    for click in earlyClicks {
      writer.append(click.impressionID)
      writer.append(click.timeMilliseconds)
      writer.append(click.sequence)
    }
    writer.appendCount(resolved.count)
    for entry in resolved {
      writer.append(entry.impressionID)
      writer.append(entry.wasClicked)
      writer.append(entry.forgetAtMilliseconds)
    }
    writer.appendCount(recentEventTimesMilliseconds.count)
    for time in recentEventTimesMilliseconds { writer.append(time) }
    writer.append(isClockConfirmed)
    writer.append(newDomainDay)
    writer.appendCount(newDomains.count)
    for domain in newDomains { writer.append(domain) }
  }

  /// The size of `serializedBlock()`, worked out without writing it (strings know their UTF-8
  /// length): the block's buffer is reserved once, not grown by doubling through every copy.
  var serializedBlockSize: Int {
    let names = pending.first?.impression.featureNameTable ?? []
    let indices = Self.indices(of: names)
    var size = 4 + 8 + 8 + 4 + names.reduce(0) { $0 + ByteWriter.size(of: $1) } + 4
    for waiting in pending {
      size += ByteWriter.compactSize(of: waiting.impression, names: indices) + 8 + 8 + 1
      if waiting.score != nil { size += 4 + 4 + 1 }
      size += 1 + 1 + (waiting.clickDelayMilliseconds == nil ? 0 : 8)
    }
    size += 4
    for click in earlyClicks { size += ByteWriter.size(of: click.impressionID) + 8 + 8 }
    size += 4
    for entry in resolved { size += ByteWriter.size(of: entry.impressionID) + 1 + 8 }
    size += 4 + 8 * recentEventTimesMilliseconds.count + 1 + 8 + 4
    for domain in newDomains { size += ByteWriter.size(of: domain) }
    return size
  }
}
