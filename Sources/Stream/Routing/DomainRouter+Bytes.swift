import Base

extension DomainRouter.State {
  /// The state as bytes (format `IAKR` version 1, little-endian, strings length-prefixed UTF-8),
  /// for a snapshot; `init(bytes:)` reads it back to an equal state.
  public func serialized() -> [UInt8] {
    var writer = ByteWriter()
    for byte in "IAKR".utf8 { writer.append(byte) }
    writer.append(UInt8(1))
    writer.appendCount(domains.count)
    for domain in domains {
      writer.append(domain.key.window)
      writer.append(domain.key.region)
      writer.append(domain.ordinal)
    }
    writer.appendCount(regionNames.count)
    for region in regionNames {
      writer.append(region.raw)
      writer.append(region.name)
    }
    return writer.bytes
  }

  /// Reads a state written by `serialized()`.
  ///
  /// - Throws: `ByteReadError` if the bytes are not such a state or name an unsafe domain.
  public init(bytes: [UInt8]) throws(ByteReadError) {
    var reader = ByteReader(bytes)
    try reader.expectMagic("IAKR", version: 1)
    var domains: [DomainRouter.KnownDomain] = []
    for _ in 0..<(try reader.readCount(minimumSize: 16)) {
      let key = DomainKey(window: try reader.readString(), region: try reader.readString())
      guard DomainName.isSafe(key.window), DomainName.isSafe(key.region) else {
        throw ByteReadError("IAKR state: domain '\(key)' is not a safe name")
      }
      domains.append(DomainRouter.KnownDomain(key: key, ordinal: try reader.read(Int64.self)))
    }
    var regionNames: [DomainRouter.RegionName] = []
    for _ in 0..<(try reader.readCount(minimumSize: 8)) {
      regionNames.append(
        DomainRouter.RegionName(raw: try reader.readString(), name: try reader.readString()))
    }
    guard reader.isAtEnd else {
      throw ByteReadError("IAKR state: unexpected bytes after the end at byte \(reader.offset)")
    }
    self.init(domains: domains, regionNames: regionNames)
  }
}
