import Base

extension Example {
  /// Encodes `examples` in the trainer snapshot's binary form, all integers little-endian:
  /// `u32` example count, then per example the domain as a string, a `u32` count of categorical
  /// values and each as a string, a `u32` count of numeric values and each as the `u32` bit
  /// pattern of its float32, the label's float32 bit pattern as `u32`, the event time as
  /// `i64` and the lane as `i32`, then (since trainer state format 4) a `u8` 1 and the serving
  /// score (backbone and kernel logit as `u32` float32 bit patterns, a `u8` serving flag) or a
  /// `u8` 0, then (since format 5) the use (`u8`, `ExampleUse`), the click delay (a `u8`
  /// presence flag, then `i64` milliseconds) and whether it corrects a provisional negative
  /// (`u8`). A string is a `u32` byte count followed by its
  /// UTF-8 bytes. Floats keep their exact bits (NaN payloads included), so decoding gives back
  /// equal examples. `withScores` false writes the layout before serving scores, `withUses`
  /// false the one before uses (to test reading them).
  static func encoded(_ examples: [Example], withScores: Bool = true, withUses: Bool = true)
    -> [UInt8]
  {
    var writer = ByteWriter()
    writer.append(UInt32(examples.count))
    for example in examples {
      writer.append(example.domain)
      writer.append(UInt32(example.categorical.count))
      for value in example.categorical { writer.append(value) }
      writer.append(UInt32(example.numeric.count))
      for value in example.numeric { writer.append(value.bitPattern) }
      writer.append(example.label.bitPattern)
      writer.append(example.eventTimeMs)
      writer.append(example.lane)
      if !withScores { continue }
      if let score = example.servingScore {
        writer.append(UInt8(1))
        writer.append(score.backboneLogit.bitPattern)
        writer.append(score.kernelLogit.bitPattern)
        writer.append(score.servesKernel)
      } else {
        writer.append(UInt8(0))
      }
      if !withUses { continue }
      writer.append(example.use.rawValue)
      writer.append(example.clickDelayMs != nil)
      if let delay = example.clickDelayMs { writer.append(delay) }
      writer.append(example.correctsProvisional)
    }
    return writer.bytes
  }

  /// Decodes examples written by `encoded(_:)`; `source` names the bytes in errors;
  /// `hasScores` false reads the form before serving scores (trainer state format 3 and older),
  /// `hasUses` false the form before uses and click delays (format 4 and older).
  ///
  /// - Throws: `LearnerError.invalidModel` saying at which byte the bytes are truncated, hold
  ///   invalid UTF-8, a flag other than 0 or 1, an unknown use, or continue past the last
  ///   example.
  static func decoded(
    from bytes: [UInt8], source: String, hasScores: Bool = true, hasUses: Bool = true
  ) throws(LearnerError) -> [Example] {
    var reader = ByteReader(bytes)
    do throws(ByteReadError) {
      let count = try reader.readCount(minimumSize: hasScores ? 29 : 28)
      var examples: [Example] = []
      examples.reserveCapacity(count)
      for _ in 0..<count {
        let domain = try reader.readString()
        let categoricalCount = try reader.readCount(minimumSize: 4)
        var categorical: [String] = []
        categorical.reserveCapacity(categoricalCount)
        for _ in 0..<categoricalCount { categorical.append(try reader.readString()) }
        let numericCount = try reader.readCount(minimumSize: 4)
        var numeric: [Float] = []
        numeric.reserveCapacity(numericCount)
        for _ in 0..<numericCount {
          numeric.append(Float(bitPattern: try reader.read(UInt32.self)))
        }
        let label = Float(bitPattern: try reader.read(UInt32.self))
        let eventTimeMs = try reader.read(Int64.self)
        let lane = try reader.read(Int32.self)
        var score: ServingScore?
        if hasScores, try reader.readBool() {
          score = ServingScore(
            backboneLogit: Float(bitPattern: try reader.read(UInt32.self)),
            kernelLogit: Float(bitPattern: try reader.read(UInt32.self)),
            servesKernel: try reader.readBool())
        }
        var use = ExampleUse.trainAndEvaluate
        var delay: Int64?
        var corrects = false
        if hasScores && hasUses {
          let byte = try reader.readByte()
          guard let known = ExampleUse(rawValue: byte) else {
            throw ByteReadError("byte \(reader.offset - 1): unknown example use \(byte)")
          }
          use = known
          if try reader.readBool() { delay = try reader.read(Int64.self) }
          corrects = try reader.readBool()
        }
        examples.append(
          Example(
            domain: domain, categorical: categorical, numeric: numeric, label: label,
            eventTimeMs: eventTimeMs, lane: lane, servingScore: score, use: use,
            clickDelayMs: delay, correctsProvisional: corrects))
      }
      guard reader.isAtEnd else {
        throw ByteReadError("\(reader.remainingCount) bytes follow the last of \(count) examples")
      }
      return examples
    } catch {
      throw .damagedBytes(source, error)
    }
  }
}
