import Base
import Foundation
import Testing

@testable import Checkpoint

@Suite struct SHA256Tests {
  @Test func matchesThePublishedVectors() {
    #expect(
      SHA256.hexDigest(of: Array("".utf8))
        == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(
      SHA256.hexDigest(of: Array("abc".utf8))
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(
      SHA256.hexDigest(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(
      SHA256.hexDigest(of: [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
        == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  @Test func givesTheSameDigestHoweverTheInputIsSplit() {
    var generator = SplitMix64(seed: 7)
    let message = (0..<1000).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    let whole = SHA256.digest(of: message)
    for chunk in [1, 3, 63, 64, 65, 127, 500] {
      var hasher = SHA256()
      var start = 0
      while start < message.count {
        let end = min(start + chunk, message.count)
        hasher.update(message[start..<end])
        start = end
      }
      #expect(hasher.finalize() == whole, "chunks of \(chunk)")
    }
  }

  @Test func aCopyMadeMidMessageHashesOnByItself() {
    var first = SHA256()
    first.update(Array("abcdbcdecdefdefgefghfghighijhijk".utf8))
    var second = first
    first.update(Array("ijkljklmklmnlmnomnopnopq".utf8))
    second.update(Array("xyz".utf8))
    let third = second
    #expect(
      SHA256.hex(first.finalize())
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(
      second.finalize() == SHA256.digest(of: Array("abcdbcdecdefdefgefghfghighijhijkxyz".utf8)))
    var fourth = third
    #expect(
      fourth.finalize() == SHA256.digest(of: Array("abcdbcdecdefdefgefghfghighijhijkxyz".utf8)))
  }

  @Test func agreesWithSha256sumAtEveryPaddingBoundary() throws {
    let folder = try TemporaryFolder()
    var generator = SplitMix64(seed: 11)
    for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 4099] {
      let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
      let path = folder.path + "/sample-\(length)"
      try Data(bytes).write(to: URL(fileURLWithPath: path))
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      process.arguments = ["sha256sum", path]
      let pipe = Pipe()
      process.standardOutput = pipe
      try process.run()
      let output = String(
        decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      process.waitUntilExit()
      #expect(process.terminationStatus == 0)
      #expect(String(output.prefix(64)) == SHA256.hexDigest(of: bytes), "length \(length)")
    }
  }
}
