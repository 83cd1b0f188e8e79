import Testing

@testable import Learner

/// The feature hash as docs/FORMAT.md specifies it, with the known answers printed there: a
/// serving system that hashes differently picks other embedding rows.
@Suite struct FeatureHasherTests {
  @Test(arguments: [
    ("user", "1", UInt64(0), UInt64(0xf815_22aa_751b_e2e4), 18_436),
    ("age", "", 0, 0xe302_6783_e013_b7d3, 8115),
    ("user", "1", 7, 0x52cd_6269_fc9f_b79b, 9019),
  ])
  func theDocumentedExamplesHashAsPrinted(
    field: String, value: String, seed: UInt64, hash: UInt64, bucket: Int
  ) {
    let hasher = FeatureHasher(seed: seed)
    #expect(hasher.hash(field: field, value: value) == hash)
    #expect(hasher.bucket(field: field, value: value, buckets: 20_000) == bucket)
  }

  /// The seed goes into the offset basis: it is not hashed as data, so seed 7 differs from
  /// hashing the text with a "7" anywhere in it.
  @Test func theSeedIsXoredIntoTheOffsetBasis() {
    var state: UInt64 = 0xcbf2_9ce4_8422_2325 ^ 7
    for byte in "user=1".utf8 { state = (state ^ UInt64(byte)) &* 0x100_0000_01b3 }
    #expect(FeatureHasher(seed: 7).hash(field: "user", value: "1") == state)
    #expect(state != FeatureHasher(seed: 0).hash(field: "user", value: "1"))
  }
}
