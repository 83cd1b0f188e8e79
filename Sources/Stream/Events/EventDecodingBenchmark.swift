import Observability

/// Measures how fast `EventDecoder` turns JSON lines into events (`make bench`).
public enum EventDecodingBenchmark {
  /// What one measurement found.
  public struct Figures: Sendable, CustomStringConvertible {
    /// Lines decoded (accepted or rejected), over every pass.
    public var events: Int
    /// Lines rejected, over every pass.
    public var rejected: Int
    /// Bytes decoded, over every pass.
    public var bytes: Int
    /// Wall time of all passes, in seconds.
    public var seconds: Double

    /// Decoded events per second.
    public var eventsPerSecond: Double { Double(events) / seconds }

    /// Decoded megabytes (10^6 bytes) per second.
    public var megabytesPerSecond: Double { Double(bytes) / seconds / 1e6 }

    /// `events=... seconds=... events_per_s=... mb_per_s=... rejected=...`.
    public var description: String {
      "events=\(events) seconds=\(rounded(seconds, 3)) "
        + "events_per_s=\(Int(eventsPerSecond)) mb_per_s=\(rounded(megabytesPerSecond, 1)) "
        + "rejected=\(rejected)"
    }

    private func rounded(_ value: Double, _ places: Int) -> String {
      var scale = 1.0
      for _ in 0..<places { scale *= 10 }
      return "\((value * scale).rounded() / scale)"
    }
  }

  /// Decodes every line `passes` times with `schema` and times it.
  public static func measure(
    lines: [[UInt8]], schema: EventSchema = EventSchema(), passes: Int = 3
  ) -> Figures {
    let clock = ContinuousClock()
    var rejected = 0
    var checksum: Int64 = 0
    let elapsed = clock.measure {
      for _ in 0..<passes {
        for line in lines {
          line.withUnsafeBytes { raw in
            do {
              let event = try EventDecoder.decode(raw, schema: schema)
              checksum &+= event.timeMilliseconds
            } catch {
              rejected += 1
            }
          }
        }
      }
    }
    precondition(checksum != 1, "keeps the decoding from being optimised away")
    let seconds = elapsed.inSeconds
    return Figures(
      events: lines.count * passes, rejected: rejected,
      bytes: lines.reduce(0) { $0 + $1.count } * passes, seconds: seconds)
  }

  /// Decodes, joins and routes every line once, as the pipeline does before training, and times
  /// it; labelled examples left waiting at the end are flushed inside the timing.
  public static func measureDecodeJoinRoute(
    lines: [[UInt8]], schema: EventSchema = EventSchema(),
    joiner configuration: LabelJoiner.Configuration, router: DomainRouter
  ) -> Figures {
    var joiner = LabelJoiner(configuration: configuration)
    var router = router
    var rejected = 0
    var examples: [LabelJoiner.LabelledExample] = []
    examples.reserveCapacity(1_024)
    var routed = 0
    let elapsed = ContinuousClock().measure {
      for line in lines {
        line.withUnsafeBytes { raw in
          do {
            let event = try EventDecoder.decode(raw, schema: schema)
            joiner.process(event, partition: 0, into: &examples)
          } catch {
            rejected += 1
          }
        }
        for example in examples where router.route(example.impression).isNew { routed += 1 }
        examples.removeAll(keepingCapacity: true)
      }
      joiner.flush(into: &examples)
      for example in examples where router.route(example.impression).isNew { routed += 1 }
    }
    precondition(routed >= 0)
    let seconds = elapsed.inSeconds
    return Figures(
      events: lines.count, rejected: rejected, bytes: lines.reduce(0) { $0 + $1.count },
      seconds: seconds)
  }
}
