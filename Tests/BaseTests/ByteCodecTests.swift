import Base
import Testing

@Suite struct ByteCodecTests {
  @Test func writesAFixedLittleEndianLayout() {
    var writer = ByteWriter()
    writer.append(UInt8(0xAB))
    writer.append(Int32(-2))
    writer.append(true)
    writer.append("hé")
    writer.append(1.5)
    writer.appendCount(2)
    #expect(
      writer.bytes == [
        0xAB,
        0xFE, 0xFF, 0xFF, 0xFF,
        0x01,
        0x03, 0x00, 0x00, 0x00, 0x68, 0xC3, 0xA9,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF8, 0x3F,
        0x02, 0x00, 0x00, 0x00,
      ])
  }

  @Test func readsBackWhatWasWritten() throws {
    var writer = ByteWriter()
    for byte in "TEST".utf8 { writer.append(byte) }
    writer.append(UInt8(2))
    writer.append(UInt64.max - 1)
    writer.append(Int64.min)
    writer.append(false)
    writer.append("")
    writer.append("ünïcødé 🎈")
    writer.append(-0.0)
    writer.appendCount(2)
    writer.append(UInt16(7))
    writer.append(UInt16(8))
    var reader = ByteReader(writer.bytes)
    #expect(try reader.expectMagic("TEST", versions: 1...2) == 2)
    #expect(try reader.read(UInt64.self) == UInt64.max - 1)
    #expect(try reader.read(Int64.self) == Int64.min)
    #expect(try reader.readBool() == false)
    #expect(try reader.readString() == "")
    #expect(try reader.readString() == "ünïcødé 🎈")
    #expect(try reader.readDouble().bitPattern == (-0.0).bitPattern)
    #expect(try reader.readCount(minimumSize: 2) == 2)
    #expect(try reader.read(UInt16.self) == 7)
    #expect(try reader.read(UInt16.self) == 8)
    #expect(reader.isAtEnd)
  }

  @Test func damagedBytesThrowSayingWhere() {
    var truncated = ByteReader([1, 2, 3])
    #expect(throws: ByteReadError("truncated at byte 0: 4 more bytes wanted, 3 left")) {
      try truncated.read(UInt32.self)
    }
    var notBool = ByteReader([2])
    #expect(throws: ByteReadError("byte 0: 2 is not a boolean")) { try notBool.readBool() }
    var tooMany = ByteReader([9, 0, 0, 0, 1, 2, 3])
    #expect(throws: ByteReadError("byte 0: 9 items cannot fit in the 3 bytes left")) {
      try tooMany.readCount(minimumSize: 1)
    }
    var invalid = ByteReader([1, 0, 0, 0, 0xFF])
    #expect(throws: ByteReadError("byte 4: string of 1 bytes is not valid UTF-8")) {
      try invalid.readString()
    }
    var magic = ByteReader(Array("IAKX".utf8) + [1])
    #expect(throws: ByteReadError("not a IAKJ state: wrong magic bytes at byte 3")) {
      try magic.expectMagic("IAKJ", version: 1)
    }
    var version = ByteReader(Array("IAKJ".utf8) + [4])
    #expect(throws: ByteReadError("IAKJ state version 4 is not supported (expected 1 to 3)")) {
      _ = try version.expectMagic("IAKJ", versions: 1...3)
    }
  }

  @Test func varintsTakeSevenBitsABytePerLEB128() throws {
    let cases: [(UInt64, [UInt8])] = [
      (0, [0x00]), (1, [0x01]), (127, [0x7F]), (128, [0x80, 0x01]), (300, [0xAC, 0x02]),
      (16_383, [0xFF, 0x7F]), (16_384, [0x80, 0x80, 0x01]),
      (UInt64.max, Array(repeating: 0xFF, count: 9) + [0x01]),
    ]
    for (value, bytes) in cases {
      var writer = ByteWriter()
      writer.appendVarint(value)
      #expect(writer.bytes == bytes, "\(value)")
      #expect(ByteWriter.varintSize(of: value) == bytes.count, "\(value)")
      var reader = ByteReader(bytes)
      #expect(try reader.readVarint() == value)
      #expect(reader.isAtEnd)
    }
    var writer = ByteWriter()
    writer.appendShortString("hé")
    writer.appendShortString(String(repeating: "x", count: 200))
    #expect(Array(writer.bytes.prefix(4)) == [0x03, 0x68, 0xC3, 0xA9])
    #expect(Array(writer.bytes[4..<6]) == [0xC8, 0x01])
    #expect(ByteWriter.shortStringSize(of: "hé") == 4)
    var reader = ByteReader(writer.bytes)
    #expect(try reader.readShortString() == "hé")
    #expect(try reader.readShortString() == String(repeating: "x", count: 200))
    #expect(reader.isAtEnd)
  }

  @Test func malformedVarintsAreRefused() {
    let refused: [(bytes: [UInt8], message: String)] = [
      ([], "truncated at byte 0"),
      ([0x80], "truncated at byte 1"),
      ([0x80, 0x00], "byte 0: varint with a redundant zero byte"),
      (Array(repeating: 0xFF, count: 9) + [0x02], "byte 0: varint overflows 64 bits"),
      (Array(repeating: 0x80, count: 10) + [0x01], "byte 0: varint longer than 10 bytes"),
    ]
    for (bytes, message) in refused {
      var reader = ByteReader(bytes)
      #expect(throws: ByteReadError.self, "\(bytes)") { try reader.readVarint() }
      var again = ByteReader(bytes)
      do {
        _ = try again.readVarint()
      } catch {
        #expect("\(error)".contains(message), "\(bytes): \(error)")
      }
    }
    var long = ByteReader([0x05, 0x61])
    #expect(throws: ByteReadError.self) { try long.readShortString() }
    var invalid = ByteReader([0x01, 0xFF])
    #expect(throws: ByteReadError.self) { try invalid.readShortString() }
    var many = ByteReader([0x0A, 0x00])
    #expect(throws: ByteReadError.self) { try many.readVarintCount(minimumSize: 1) }
  }

  @Test func theFirstIndexNotBelowAValueIsFoundByBinarySearch() {
    var generator = SplitMix64(seed: 4)
    for length in 0..<40 {
      let sorted = (0..<length).map { _ in UInt16.random(in: 0...20, using: &generator) }.sorted()
      for value: UInt16 in 0...21 {
        let linear = sorted.firstIndex { $0 >= value } ?? sorted.count
        #expect(sorted.firstIndex(notBelow: value) == linear, "\(sorted) \(value)")
        // On a slice too: indices are the slice's own.
        let slice = sorted.dropFirst(length / 3)
        let sliceLinear = slice.firstIndex { $0 >= value } ?? slice.endIndex
        #expect(slice.firstIndex(notBelow: value) == sliceLinear)
      }
    }
  }
}
