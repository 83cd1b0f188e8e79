import CCrypto

/// SHA-256 (FIPS 180-4), computed by OpenSSL's libcrypto (Foundation on Linux has no
/// CryptoKit; libcrypto uses the CPU's SHA extensions where it has them, ~5-20x a Swift loop).
///
/// Feed bytes with `update`, then read `finalize()`; or hash at once with `digest(of:)` or
/// `hexDigest(of:)`. A value: a copy made mid-message hashes on independently.
public struct SHA256: @unchecked Sendable {
  /// The libcrypto digest context, freed with its last owner; copied before a shared one is
  /// fed, so that a copy of a hasher never feeds another's.
  private final class Context {
    let pointer: OpaquePointer

    init() {
      guard let pointer = EVP_MD_CTX_new(), EVP_DigestInit_ex(pointer, EVP_sha256(), nil) == 1
      else { fatalError("libcrypto could not start a SHA-256 digest (out of memory?)") }
      self.pointer = pointer
    }

    init(copying other: Context) {
      guard let pointer = EVP_MD_CTX_new(), EVP_MD_CTX_copy_ex(pointer, other.pointer) == 1
      else { fatalError("libcrypto could not copy a SHA-256 digest (out of memory?)") }
      self.pointer = pointer
    }

    deinit { EVP_MD_CTX_free(pointer) }
  }

  private var context = Context()

  /// Creates a hasher with nothing fed yet.
  public init() {}

  /// Feeds `bytes` into the hash.
  public mutating func update(_ bytes: some Collection<UInt8>) {
    if !isKnownUniquelyReferenced(&context) { context = Context(copying: context) }
    let pointer = context.pointer
    let done: Void? = bytes.withContiguousStorageIfAvailable {
      _ = EVP_DigestUpdate(pointer, $0.baseAddress, $0.count)
    }
    if done == nil {
      Array(bytes).withUnsafeBufferPointer {
        _ = EVP_DigestUpdate(pointer, $0.baseAddress, $0.count)
      }
    }
  }

  /// Returns the 32-byte digest and leaves the hasher spent.
  public mutating func finalize() -> [UInt8] {
    if !isKnownUniquelyReferenced(&context) { context = Context(copying: context) }
    var digest = [UInt8](repeating: 0, count: 32)
    var length: UInt32 = 0
    let pointer = context.pointer
    digest.withUnsafeMutableBufferPointer {
      _ = EVP_DigestFinal_ex(pointer, $0.baseAddress, &length)
    }
    precondition(length == 32, "libcrypto gave a SHA-256 digest of \(length) bytes")
    return digest
  }

  /// The 32-byte digest of `bytes`.
  public static func digest(of bytes: some Collection<UInt8>) -> [UInt8] {
    var hasher = SHA256()
    hasher.update(bytes)
    return hasher.finalize()
  }

  /// The digest of `bytes` as 64 lowercase hexadecimal characters, as `sha256sum` prints it.
  public static func hexDigest(of bytes: some Collection<UInt8>) -> String {
    hex(digest(of: bytes))
  }

  /// `bytes` as lowercase hexadecimal.
  public static func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
      out.append(digits[Int(byte >> 4)])
      out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
  }
}
