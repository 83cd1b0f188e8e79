import Foundation
import Stream

extension CommandSpec {
  /// `iak-stream dataset movielens`: converts MovieLens-100K ratings into events;
  /// `iak-stream dataset hostile`: writes a corpus of bad events, optionally mixed into a stream.
  public static let dataset = CommandSpec(
    name: "dataset",
    summary: "Make event files: MovieLens events, or a hostile corpus (dataset movielens|hostile)",
    usage: """
      iak-stream dataset movielens --source DIR --out FILE [--split-clicks] \
      [--negatives K --seed S]
        iak-stream dataset hostile --out FILE [--count N] [--seed S] [--mix-into events.jsonl]
      """,
    details: """
      Converts the 100,000 MovieLens-100K ratings (the files scripts/fetch-data puts in
      data/ml-100k) into JSON-lines events in time order: one impression per rating with the
      features user, item, age bucket, gender, occupation, first genre and release decade, the
      region taken from the user's zip code (its first digit; Canadian codes are `ca`), and the
      label click = rating >= 4.

      --split-clicks removes the label from the impression and writes a separate click event
      5 seconds later in event time, as a real impression/click log looks. --negatives K adds K
      sampled items the user never rated per rating, as extra non-click impressions marked
      synthetic (for load tests); --seed makes that sampling repeatable. The output is written
      to FILE.partial and renamed when complete.

      `dataset hostile` writes N (default 10000) deliberately bad events for reliability tests:
      malformed and truncated JSON, wrong types, NaN/Infinity/1e999, values up to 10 MB, deep
      nesting, invalid UTF-8, control characters and NUL bytes, missing and duplicated fields,
      bad times and labels, and valid events whose region is `../../etc`, `..`, `/` or 5,000
      characters long, or whose id is huge. The same --seed (default 1) gives the same bytes.
      With --mix-into, the events of that file are kept in order and the hostile ones spread
      evenly among them (stamped with the file's earliest event time). It prints how many events
      the decoder must reject, by reason, and how many it must accept: after a run, the
      dead-letter topic must hold exactly the rejected ones.
      """,
    options: [
      .value("--source", "DIR", "MovieLens folder (default data/ml-100k)"),
      .value("--out", "FILE", "Where to write the events (required)"),
      .flag("--split-clicks", "Write clicks as separate events after their impression"),
      .value("--negatives", "K", "Sampled non-click impressions per rating (default 0)"),
      .value("--seed", "S", "Seed of the negative sampling or the hostile corpus (default 1)"),
      .value("--count", "N", "Hostile events to write (default 10000)"),
      .value("--mix-into", "FILE", "Spread the hostile events through this JSON-lines file"),
    ],
    run: { context in
      let arguments = context.arguments
      if arguments.positionals == ["hostile"] { return try writeHostileEvents(context) }
      guard arguments.positionals == ["movielens"] else {
        throw UsageError(
          "dataset takes one data set name: movielens or hostile (got \(arguments.positionals))")
      }
      let source = URL(fileURLWithPath: arguments.value("--source") ?? "data/ml-100k")
      let output = URL(fileURLWithPath: try arguments.required("--out"))
      let options = MovieLensConverter.Options(
        splitClicks: arguments.has("--split-clicks"),
        negativesPerRating: try arguments.int("--negatives", default: 0, in: 0...1000),
        seed: UInt64(try arguments.int("--seed", default: 1)))
      let summary = try MovieLensConverter.convert(
        source: source, output: output, options: options,
        schema: context.configuration.eventSchema, logger: context.logger)
      context.print(
        "wrote \(summary.events) events (\(summary.impressions) impressions, "
          + "\(summary.clicks) clicks, \(summary.negatives) synthetic negatives) to \(output.path)")
      return 0
    })
}

/// `dataset hostile`: writes the corpus (or the mix) and prints the verdicts the decoder owes.
private func writeHostileEvents(_ context: CommandContext) throws -> Int32 {
  let arguments = context.arguments
  let output = try arguments.required("--out")
  let count = try arguments.int("--count", default: 10_000, in: 0...10_000_000)
  let generator = HostileEvents(
    seed: UInt64(try arguments.int("--seed", default: 1, in: 0...Int.max)),
    schema: context.configuration.eventSchema)
  var lines: [[UInt8]] = []
  var hostile: [HostileEvent] = []
  var goodCount = 0
  if let source = arguments.value("--mix-into") {
    guard let data = FileManager.default.contents(atPath: source) else {
      throw UsageError("cannot read --mix-into file \(source)")
    }
    let good = data.split(separator: UInt8(ascii: "\n")).filter { !$0.isEmpty }.map { Array($0) }
    goodCount = good.count
    let mix = generator.mixed(into: good, count: count)
    lines = mix.lines
    hostile = mix.hostile.keys.sorted().map { mix.hostile[$0]! }
  } else {
    hostile = generator.events(count: count, timeMilliseconds: 1_704_067_200_000)
    lines = hostile.map(\.bytes)
  }
  var bytes: [UInt8] = []
  bytes.reserveCapacity(lines.reduce(0) { $0 + $1.count + 1 })
  for line in lines {
    bytes += line
    bytes.append(UInt8(ascii: "\n"))
  }
  let partial = output + ".partial"
  guard FileManager.default.createFile(atPath: partial, contents: Data(bytes)) else {
    throw UsageError("cannot write \(partial); check that its folder exists and is writable")
  }
  if FileManager.default.fileExists(atPath: output) {
    try FileManager.default.removeItem(atPath: output)
  }
  try FileManager.default.moveItem(atPath: partial, toPath: output)
  var verdicts: [String: Int] = [:]
  for event in hostile { verdicts[event.verdict, default: 0] += 1 }
  let rejected = hostile.count - (verdicts["accepted"] ?? 0)
  let byReason = verdicts.filter { $0.key != "accepted" }.sorted { $0.key < $1.key }
    .map { "\($0.key) \($0.value)" }.joined(separator: ", ")
  context.print(
    "wrote \(hostile.count) hostile events to \(output)"
      + (goodCount > 0 ? " mixed into \(goodCount) events" : "") + ": \(rejected) to reject ("
      + byReason + "), \(verdicts["accepted"] ?? 0) valid with hostile regions or ids to accept")
  return 0
}
