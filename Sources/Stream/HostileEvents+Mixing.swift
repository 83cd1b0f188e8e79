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
  /// Each hostile event carries the latest event time of the good lines before it (before the
  /// first one: the first good time), so mixing never moves event time forward and the good
  /// lines' results cannot depend on the hostile ones.
  public func mixed(into good: [[UInt8]], count: Int) -> Mix {
    let times = good.map { line in
      line.withUnsafeBytes { raw in
        try? EventDecoder.decode(raw, schema: schema).timeMilliseconds
      }
    }
    var latest = times.lazy.compactMap { $0 }.first ?? 0
    var mix = Mix(lines: [], hostile: [:])
    mix.lines.reserveCapacity(good.count + count)
    var next = 0
    let total = max(count, 0)
    for (position, line) in good.enumerated() {
      // Hostile events due before this good line: an even share of the corpus per good line.
      let due = good.isEmpty ? total : total * position / good.count
      while next < due {
        mix.hostile[mix.lines.count] = event(next, timeMilliseconds: latest)
        mix.lines.append(mix.hostile[mix.lines.count]!.bytes)
        next += 1
      }
      mix.lines.append(line)
      if let time = times[position] { latest = max(latest, time) }
    }
    while next < total {
      mix.hostile[mix.lines.count] = event(next, timeMilliseconds: latest)
      mix.lines.append(mix.hostile[mix.lines.count]!.bytes)
      next += 1
    }
    return mix
  }
}
