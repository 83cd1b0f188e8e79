import Base
import Testing

@Suite struct SplitMix64Tests {
  @Test func firstOutputsMatchTheReferenceSequence() {
    // Computed by hand from the published algorithm (state += golden gamma, then the two
    // xor-shift-multiply rounds); seed 0 is the sequence most implementations list.
    var zero = SplitMix64(seed: 0)
    #expect(zero.next() == 0xE220_A839_7B1D_CDAF)
    #expect(zero.next() == 0x6E78_9E6A_A1B9_65F4)
    #expect(zero.next() == 0x06C4_5D18_8009_454F)
    var fortyTwo = SplitMix64(seed: 42)
    #expect(fortyTwo.next() == 0xBDD7_3226_2FEB_6E95)
    #expect(fortyTwo.next() == 0x28EF_E333_B266_F103)
    #expect(fortyTwo.next() == 0x4752_6757_130F_9F52)
  }

  @Test func derivedDrawsUseOneDrawEach() {
    // The first draw of seed 42 is 0xBDD732262FEB6E95.
    var index = SplitMix64(seed: 42)
    #expect(index.index(below: 10) == 7)
    var remainder = SplitMix64(seed: 42)
    #expect(remainder.nextInt(below: 10) == 3)
    var uniform = SplitMix64(seed: 42)
    #expect(uniform.nextUniform() == 0.7415648787718234)
    #expect(uniform.state == 42 &+ 0x9E37_79B9_7F4A_7C15)
  }

  @Test func stateRoundTripsThroughItsValue() {
    var original = SplitMix64(seed: 7)
    _ = original.next()
    var copy = SplitMix64(state: original.state)
    #expect(copy.next() == original.next())
  }
}
