import Base

extension LabelJoiner.State {
  /// The state as bytes (format `IAKJ` version 3, little-endian, strings length-prefixed UTF-8),
  /// for a snapshot; `init(bytes:)` reads it back to an equal state. Version 2 adds to each
  /// waiting impression its `ServingScore` (a presence byte, then the two logits as float32
  /// bit patterns and the serving flag); version 3 adds to each partition, after its resolved
  /// ids, the admission memory: its recent event times (a count, then int64s), whether its clock
  /// is borne out (a byte), the new-domain day (int64) and the domains started that day (a
  /// count, then strings). Version 4 adds two counts (provisional negatives, fake negatives)
  /// after the nine others, and to each waiting impression, after its score, whether it is
  /// provisional (a byte) and its held click's delay (a presence byte, then an int64). Versions
  /// 1 to 3 are still read (an empty admission memory, the clock of a partition that ran borne
  /// out; no provisional impression, no click delay).
  public func serialized() -> [UInt8] {
    Self.serialized(counts: counts, blocks: partitions.map { $0.serializedBlock() })
  }

  /// The bytes of a state with `counts` whose partitions serialized to `blocks`, in order.
  public static func serialized(counts: LabelJoiner.Counts, blocks: [[UInt8]]) -> [UInt8] {
    var writer = ByteWriter()
    for byte in "IAKJ".utf8 { writer.append(byte) }
    writer.append(UInt8(4))
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
    let version = try reader.expectMagic("IAKJ", versions: 1...4)
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
      for _ in 0..<(try reader.readCount(minimumSize: 40)) {
        var waiting = LabelJoiner.PendingImpression(
          impression: try reader.readEvent(), deadlineMilliseconds: try reader.read(Int64.self),
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
  mutating func append(_ event: Event) {
    append(UInt8(event.kind == .impression ? 0 : 1))
    append(event.id)
    append(event.timeMilliseconds)
    append(event.region != nil)
    if let region = event.region { append(region) }
    appendCount(event.categorical.count)
    for feature in event.categorical {
      append(feature.name)
      append(feature.value)
    }
    appendCount(event.numeric.count)
    for name in event.numeric.keys.sorted() {
      append(name)
      append(event.numeric[name]!)
    }
    append(UInt8(event.label.map { $0 ? 2 : 1 } ?? 0))
    append(event.isSynthetic)
  }
}

extension ByteWriter {
  /// Appends a waiting impression as a block lists it: the impression, its deadline and
  /// sequence, its score, whether it is provisional and its held click's delay.
  mutating func append(_ waiting: LabelJoiner.PendingImpression) {
    append(waiting.impression)
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
  /// The bytes `append(_:)` writes for `event`.
  static func size(of event: Event) -> Int {
    var total = 1 + size(of: event.id) + 8 + 1 + (event.region.map { size(of: $0) } ?? 0) + 4
    for feature in event.categorical { total += size(of: feature.name) + size(of: feature.value) }
    total += 4
    for name in event.numeric.keys { total += size(of: name) + 8 }
    return total + 2
  }
}

extension ByteReader {
  mutating func readEvent() throws(ByteReadError) -> Event {
    let kindByte = try readByte()
    guard kindByte <= 1 else { throw ByteReadError("byte \(offset - 1): bad event kind") }
    let id = try readString()
    let time = try read(Int64.self)
    let region = try readBool() ? try readString() : nil
    var categorical: [Event.Feature] = []
    for _ in 0..<(try readCount(minimumSize: 8)) {
      categorical.append(Event.Feature(name: try readString(), value: try readString()))
    }
    var numeric: [String: Double] = [:]
    for _ in 0..<(try readCount(minimumSize: 12)) {
      let name = try readString()
      numeric[name] = try readDouble()
    }
    let labelByte = try readByte()
    guard labelByte <= 2 else { throw ByteReadError("byte \(offset - 1): bad label") }
    return Event(
      kind: kindByte == 0 ? .impression : .click, id: id, timeMilliseconds: time, region: region,
      categorical: categorical, numeric: numeric, label: labelByte == 0 ? nil : labelByte == 2,
      isSynthetic: try readBool())
  }
}

extension LabelJoiner.PartitionState {
  /// This partition's part of `LabelJoiner.State.serialized()`.
  func serializedBlock() -> [UInt8] {
    var writer = ByteWriter(capacity: serializedBlockSize)
    appendHead(to: &writer)
    writer.appendCount(pending.count)
    for waiting in pending { writer.append(waiting) }
    appendTail(to: &writer)
    return writer.bytes
  }

  /// What a block holds before its waiting impressions: the partition, its clock and its next
  /// sequence number.
  func appendHead(to writer: inout ByteWriter) {
    writer.append(partition)
    writer.append(maxEventTimeMilliseconds)
    writer.append(nextSequence)
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
    var size = 4 + 8 + 8 + 4
    for waiting in pending {
      size += ByteWriter.size(of: waiting.impression) + 8 + 8 + 1
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
