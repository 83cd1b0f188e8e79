extension LogitHistogram {
  /// The histogram as bytes, for snapshots: per occupied bin, ascending, the bin as a
  /// little-endian `u16`, then its positives and its negatives as unsigned LEB128 varints (7 bits
  /// a byte, low bits first, the high bit set on every byte but the last). Typically 4 to 6
  /// bytes a bin.
  public var encoded: [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(5 * bins.count)
    for index in bins.indices {
      bytes.append(UInt8(bins[index] & 0xff))
      bytes.append(UInt8(bins[index] >> 8))
      for count in [positiveCounts[index], negativeCounts[index]] {
        var value = UInt64(count)
        while value >= 0x80 {
          bytes.append(UInt8(value & 0x7f) | 0x80)
          value >>= 7
        }
        bytes.append(UInt8(value))
      }
    }
    return bytes
  }

  /// Reads bytes written by `encoded`; nil when they are truncated, a varint is longer than 10
  /// bytes or exceeds `Int64.max`, or the bins and counts break the rules of
  /// `init(bins:positiveCounts:negativeCounts:)`.
  public init?(encoded bytes: [UInt8]) {
    var bins: [UInt16] = []
    var positives: [Int64] = []
    var negatives: [Int64] = []
    var position = 0
    func varint() -> Int64? {
      var value: UInt64 = 0
      var shift: UInt64 = 0
      while position < bytes.count, shift < 64 {
        let byte = bytes[position]
        position += 1
        let bits = UInt64(byte & 0x7f)
        // The tenth byte may carry only the top bit of a 64-bit value.
        if shift == 63, bits > 1 { return nil }
        value |= bits << shift
        if byte & 0x80 == 0 { return Int64(exactly: value) }
        shift += 7
      }
      return nil
    }
    while position < bytes.count {
      guard position + 2 <= bytes.count else { return nil }
      bins.append(UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8)
      position += 2
      guard let p = varint(), let n = varint() else { return nil }
      positives.append(p)
      negatives.append(n)
    }
    self.init(bins: bins, positiveCounts: positives, negativeCounts: negatives)
  }
}
