import Foundation
import Stream

extension CommandSpec {
  /// `iak-stream dataset movielens`: converts MovieLens-100K ratings into events.
  public static let dataset = CommandSpec(
    name: "dataset",
    summary: "Convert public data sets into events (dataset movielens ...)",
    usage:
      "iak-stream dataset movielens --source DIR --out FILE [--split-clicks] "
      + "[--negatives K --seed S]",
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
      """,
    options: [
      .value("--source", "DIR", "MovieLens folder (default data/ml-100k)"),
      .value("--out", "FILE", "Where to write the events (required)"),
      .flag("--split-clicks", "Write clicks as separate events after their impression"),
      .value("--negatives", "K", "Sampled non-click impressions per rating (default 0)"),
      .value("--seed", "S", "Seed of the negative sampling (default 1)"),
    ],
    run: { context in
      let arguments = context.arguments
      guard arguments.positionals == ["movielens"] else {
        throw UsageError(
          "dataset takes one data set name: movielens (got \(arguments.positionals))")
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
