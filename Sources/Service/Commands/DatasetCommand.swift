import Datasets
import Foundation
import Stream

extension CommandSpec {
  /// `iak-stream dataset movielens`: converts MovieLens-100K ratings into events;
  /// `iak-stream dataset hostile`: writes a corpus of bad events, optionally mixed into a stream.
  public static let dataset = CommandSpec(
    name: "dataset",
    summary: "Make event files: MovieLens events, or a hostile corpus (dataset movielens|hostile)",
    usage: """
      iak-stream dataset movielens --source DIR --out FILE [--split-clicks \
      [--click-delay DURATION|lognormal:MEDIAN:SIGMA [--click-delay-seed S]]] \
      [--negatives K --seed S] [--inject-effects N --effect-size DELTA [--effect-seed S] \
      [--effect-since TIME] [--effect-min-impressions M] [--effects-out FILE]]
        iak-stream dataset hostile --out FILE [--count N] [--seed S] [--mix-into events.jsonl]
      """,
    details: """
      Converts the 100,000 MovieLens-100K ratings (the files scripts/fetch-data puts in
      data/ml-100k) into JSON-lines events in time order: one impression per rating with the
      features user, item, age bucket, gender, occupation, first genre and release decade, the
      region taken from the user's zip code (its first digit; Canadian codes are `ca`), and the
      label click = rating >= 4.

      --split-clicks removes the label from the impression and writes a separate click event
      5 seconds later in event time, as a real impression/click log looks. --click-delay sets
      that delay: a duration (5s, the default; 250ms, 10m, 2h, 1d) for every click, or
      lognormal:MEDIAN:SIGMA for a long tail drawn per click: the natural logarithm of the delay
      is normal around ln(MEDIAN) with standard deviation SIGMA (0 to 10), so half the clicks
      come within MEDIAN; lognormal:10m:2 puts about 9 in 10 within 2 hours and about 1 in 150
      after a day. Each click's delay is seeded by --click-delay-seed (default 1) and its
      rating's row, and is at least 1 ms. Clicks are events at their own time: the output stays
      in event-time order, a late click after the impressions that came before it, and clicks
      at one time in their ratings' order. --negatives K adds K
      sampled items the user never rated per rating, as extra non-click impressions marked
      synthetic (for load tests); --seed makes that sampling repeatable. The output is written
      to FILE.partial and renamed when complete.

      --inject-effects N --effect-size DELTA plants a known domain effect, for controlled
      experiments (scripts/controlled-experiment): N cells (region, UTC month, genre) among the
      impressions at or after --effect-since (default 1998-01-01T00:00:00Z, where the stream
      after pre-training starts) with at least --effect-min-impressions (default 200) and both
      clicks and non-clicks are chosen by --effect-seed (default 1); the choice does not depend
      on DELTA, and the cells of a smaller N are among those of a larger one. In a cell with
      click rate r the target is t = sigmoid(logit(r) + DELTA): for DELTA > 0 each non-click
      becomes a click with probability (t - r)/(1 - r), for DELTA < 0 each click becomes a
      non-click with probability (r - t)/r, so the rate moves to t in expectation, exactly DELTA
      logits, while the users' own preferences still count (an impression with click
      probability p gets p + (1 - p)q, or p(1 - q)). DELTA is in logits, from -5 to 5 (1.0 and
      -1.0 are strong but realistic). Each impression's draw is seeded by --effect-seed and its
      row, so the same arguments give the same bytes; with DELTA 0 the output equals the plain
      conversion. Split clicks follow the new labels; sampled negatives are never changed, nor
      is any event outside the cells. The truth (the rule, each cell's base, target and new
      rate, its impression ids and the ids whose label changed) goes to --effects-out (default:
      FILE with its extension replaced by .effects.json).

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
      .value(
        "--click-delay", "SPEC",
        "Split clicks' delay: a duration (default 5s) or lognormal:MEDIAN:SIGMA (e.g. 10m:2)"),
      .value("--click-delay-seed", "S", "Seed of the log-normal click delays (default 1)"),
      .value("--negatives", "K", "Sampled non-click impressions per rating (default 0)"),
      .value("--seed", "S", "Seed of the negative sampling or the hostile corpus (default 1)"),
      .value("--inject-effects", "N", "Cells (region, month, genre) whose click rate to move"),
      .value("--effect-size", "DELTA", "Their shift in logits, -5 to 5 (e.g. 1.0 or -1.0)"),
      .value("--effect-seed", "S", "Seed of the cell choice and label draws (default 1)"),
      .value(
        "--effect-since", "TIME", "Cells start here (default 1998-01-01; a date is midnight UTC)"),
      .value("--effect-min-impressions", "M", "Fewest impressions of a cell (default 200)"),
      .value("--effects-out", "FILE", "Where to write the truth (default FILE.effects.json)"),
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
        splitClicks: arguments.has("--split-clicks"), clickDelay: try clickDelay(arguments),
        negativesPerRating: try arguments.int("--negatives", default: 0, in: 0...1000),
        seed: UInt64(try arguments.int("--seed", default: 1)))
      guard let plan = try effectPlan(arguments) else {
        let summary = try MovieLensConverter.convert(
          source: source, output: output, options: options,
          schema: context.configuration.eventSchema, logger: context.logger)
        context.print(movieLensSummaryLine(summary, options: options, output: output))
        return 0
      }
      let truth =
        arguments.value("--effects-out").map { URL(fileURLWithPath: $0) }
        ?? output.deletingPathExtension().appendingPathExtension("effects.json")
      return try writeEventsWithEffects(
        context, source: source, output: output, options: options, plan: plan, truth: truth)
    })
}

/// The split clicks' delay of `dataset movielens`: --click-delay and --click-delay-seed.
private func clickDelay(_ arguments: ParsedArguments) throws -> ClickDelay {
  let seedText = arguments.value("--click-delay-seed")
  guard let text = arguments.value("--click-delay") else {
    if seedText != nil {
      throw UsageError("--click-delay-seed needs --click-delay lognormal:MEDIAN:SIGMA")
    }
    return .fixed(milliseconds: 5_000)
  }
  guard arguments.has("--split-clicks") else {
    throw UsageError("--click-delay needs --split-clicks (without it there are no click events)")
  }
  let delay: ClickDelay
  let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
  if parts.count == 3, parts[0] == "lognormal" {
    guard let median = ConfigValueParser.milliseconds(parts[1]),
      let sigma = Double(parts[2])
    else {
      throw UsageError(
        "option --click-delay expects lognormal:MEDIAN:SIGMA such as lognormal:10m:2, "
          + "got '\(text)'")
    }
    delay = .logNormal(
      medianMilliseconds: median, sigma: sigma,
      seed: UInt64(try arguments.int("--click-delay-seed", default: 1, in: 0...Int.max)))
  } else if let milliseconds = ConfigValueParser.milliseconds(text) {
    if seedText != nil {
      throw UsageError("--click-delay-seed only applies to --click-delay lognormal:MEDIAN:SIGMA")
    }
    delay = .fixed(milliseconds: milliseconds)
  } else {
    throw UsageError(
      "option --click-delay expects a duration such as 5s or lognormal:MEDIAN:SIGMA such as "
        + "lognormal:10m:2, got '\(text)'")
  }
  do {
    try delay.validate()
  } catch {
    throw UsageError(error.description)
  }
  return delay
}

/// The effect plan of `dataset movielens`, or nil without --inject-effects.
private func effectPlan(_ arguments: ParsedArguments) throws -> MovieLensEffectPlan? {
  let dependent = [
    "--effect-size", "--effect-seed", "--effect-since", "--effect-min-impressions",
    "--effects-out",
  ]
  guard arguments.value("--inject-effects") != nil else {
    if let given = dependent.first(where: { arguments.value($0) != nil }) {
      throw UsageError("\(given) needs --inject-effects N (the number of cells to change)")
    }
    return nil
  }
  let count = try arguments.int("--inject-effects", default: 0, in: 0...100_000)
  guard let sizeText = arguments.value("--effect-size") else {
    throw UsageError(
      "--inject-effects needs --effect-size DELTA, the shift in logits (such as 1.0 or -1.0)")
  }
  guard let size = Double(sizeText), size.isFinite else {
    throw UsageError(
      "option --effect-size expects a number of logits such as 1.0 or -1.0, got '\(sizeText)'")
  }
  let since = try CommandSpec.parseTime(
    arguments.value("--effect-since") ?? "1998-01-01T00:00:00Z", option: "--effect-since")
  guard let since else {
    throw UsageError("option --effect-since expects a time such as 1998-01-01T00:00:00Z")
  }
  let plan = MovieLensEffectPlan(
    cellCount: count, logitShift: size,
    seed: UInt64(try arguments.int("--effect-seed", default: 1)), sinceMilliseconds: since,
    minimumImpressions: try arguments.int("--effect-min-impressions", default: 200, in: 1...Int.max)
  )
  do {
    try plan.validate()
  } catch {
    throw UsageError(error.description)
  }
  return plan
}

/// `dataset movielens --inject-effects`: chooses the cells, writes the events, then the truth.
private func writeEventsWithEffects(
  _ context: CommandContext, source: URL, output: URL, options: MovieLensConverter.Options,
  plan: MovieLensEffectPlan, truth: URL
) throws -> Int32 {
  let converter = try MovieLensConverter(directory: source)
  let effects: MovieLensEffects
  do {
    effects = try converter.effects(plan)
  } catch {
    throw UsageError(error.description)
  }
  let summary = try converter.writeJSONLines(
    to: output, options: options, effects: effects, schema: context.configuration.eventSchema)
  do {
    try effects.writeJSON(to: truth)
  } catch {
    try? FileManager.default.removeItem(at: output)
    throw error
  }
  context.print(movieLensSummaryLine(summary, options: options, output: output))
  context.print(
    "moved the click rate by \(plan.logitShift) logits in \(effects.cells.count) of "
      + "\(effects.eligibleCells) eligible cells: \(summary.affectedImpressions) impressions, "
      + "\(summary.changedLabels) labels changed; truth in \(truth.path)")
  for cell in effects.cells {
    context.print(
      "  \(cell.month) region \(cell.region) \(cell.genre): \(cell.impressions) impressions, "
        + "click rate \(rounded(cell.baseRate)) -> \(rounded(cell.rate)) "
        + "(target \(rounded(cell.targetRate)))")
  }
  return 0
}

private func rounded(_ value: Double) -> String { String(format: "%.3f", value) }

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
      throw ServiceError(.io, "cannot read --mix-into file \(source)")
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
  OutputFolder.make(for: output)
  guard FileManager.default.createFile(atPath: partial, contents: Data(bytes)) else {
    throw ServiceError(
      .io, "cannot write \(partial); check that its folder exists and is writable")
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

/// What `dataset movielens` wrote: its events, and whether the clicks among them are events of
/// their own (`--split-clicks`) or labels of their impressions.
func movieLensSummaryLine(
  _ summary: MovieLensConverter.Summary, options: MovieLensConverter.Options, output: URL
)
  -> String
{
  let clicks =
    options.splitClicks
    ? "\(summary.clicks) click events"
    : "\(summary.clicks) of them labelled clicked"
  return "wrote \(summary.events) events (\(summary.impressions) impressions, \(clicks), "
    + "\(summary.negatives) synthetic negatives among the impressions) to \(output.path)"
}
