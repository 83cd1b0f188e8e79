import Stream

extension HostileEvents {
  /// A stream of good lines with hostile events spread through it.
  public struct Mix: Sendable {
    /// Every line in order, good and hostile, without line feeds.
    public var lines: [[UInt8]]
    /// The hostile events, keyed by their line number (from 0) in `lines`.
    public var hostile: [Int: HostileEvent]

    /// The lines as one JSON-lines text (each line ends with a line feed).
    public var jsonLines: [UInt8] {
      var out: [UInt8] = []
      out.reserveCapacity(lines.reduce(0) { $0 + $1.count + 1 })
      for line in lines {
        out += line
        out.append(0x0A)
      }
      return out
    }
  }

  /// Spreads events `0..<count` evenly through `good` (lines without their line feeds).
  ///
  /// Every hostile event carries the earliest event time of the good lines that decode. The
  /// accepted ones are valid events: a later time would legitimately move their partition's
  /// event-time clock (closing other domains' batches sooner), so they are stamped with a time
  /// the stream has already passed, and the good lines' results cannot depend on them.
  public func mixed(into good: [[UInt8]], count: Int) -> Mix {
    let earliest =
      good.compactMap { line in
        line.withUnsafeBytes { raw in
          try? EventDecoder.decode(raw, schema: schema).timeMilliseconds
        }
      }.min() ?? 0
    let total = max(count, 0)
    var mix = Mix(lines: [], hostile: [:])
    mix.lines.reserveCapacity(good.count + total)
    var next = 0
    func addHostile(until due: Int) {
      while next < due {
        let hostile = event(next, timeMilliseconds: earliest)
        mix.hostile[mix.lines.count] = hostile
        mix.lines.append(hostile.bytes)
        next += 1
      }
    }
    for (position, line) in good.enumerated() {
      // Before each good line, an even share of the corpus.
      addHostile(until: total * position / good.count)
      mix.lines.append(line)
    }
    addHostile(until: total)
    return mix
  }
}
