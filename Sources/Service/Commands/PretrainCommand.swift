import Foundation
import Learner
import Observability
import Stream

extension CommandSpec {
  /// `iak-stream pretrain`: trains the backbone on historical events.
  public static let pretrain = CommandSpec(
    name: "pretrain",
    summary: "Train the backbone on historical events and write model.safetensors + config.json",
    usage: "iak-stream pretrain --input events.jsonl [--until TIME] --out DIR",
    details: """
      Reads the events (impressions and clicks, joined in event time as the service does),
      keeps the impressions before --until (default backbone.until; RFC 3339 such as
      1998-01-01T00:00:00Z, a date such as 1998-01-01 meaning midnight UTC, or epoch
      milliseconds), and trains every parameter of the backbone described by backbone.*:
      hashed embeddings, the MLP tower and the logit. Adam, the training part shuffled with
      backbone.seed. The last backbone.validation_fraction of the examples (the most recent) is
      held out while up to backbone.epochs epochs train on the rest; the epoch count with the
      best validation AUC is kept, and with backbone.refit (the default) a fresh backbone is
      trained on every example, the tail included, for that many epochs. Prints the validation
      AUC and logloss per epoch and of the chosen one (measured without the tail, so honest),
      and writes DIR/model.safetensors and DIR/config.json (the pair a PyTorch user would
      export); the sha256 it prints is what every kernel trained on this backbone records.
      """,
    options: [
      .value("--input", "FILE", "JSON-lines events (required)"),
      .value("--until", "TIME", "Use impressions before this time (default backbone.until)"),
      .value("--out", "DIR", "Where to write the backbone (default backbone.dir)"),
    ],
    run: { context in
      let configuration = context.configuration
      let arguments = context.arguments
      let input = try arguments.required("--input")
      let untilName = arguments.value("--until") == nil ? "backbone.until" : "--until"
      let until =
        try arguments.value("--until").map { text throws(UsageError) in
          try parseTime(text, option: untilName)
        } ?? configuration.settings.backbone.until
      let out = arguments.value("--out") ?? configuration.settings.backbone.dir
      let backboneConfig = try configuration.backboneConfig()
      let assembler = ExampleAssembler(backbone: backboneConfig)
      let contents = try EventFile.read(
        input, configuration: configuration, until: until, logger: context.logger)
      if contents.examples.isEmpty && contents.timeRange == nil {
        throw UsageError("no usable example in --input \(input): \(contents.noExampleReason)")
      }
      if contents.examples.isEmpty, let until, let range = contents.timeRange {
        throw UsageError(
          "no labelled impression in \(input) is before \(untilName) "
            + "(\(RFC3339.string(milliseconds: until))): its \(contents.outsideRange) are from "
            + "\(RFC3339.string(milliseconds: range.lowerBound)) to "
            + "\(RFC3339.string(milliseconds: range.upperBound)); give --until a later time, or "
            + "set backbone.until (empty = every event)")
      }
      let examples = contents.examples.map {
        assembler.example(for: $0.impression, label: $0.label, domain: $0.domain)
      }
      context.logger.info(
        "pretraining", ["examples": "\(examples.count)", "rejected": contents.rejectedDescription])
      let pretrainConfig = configuration.pretrainConfig
      var reporter: ProgressReporter?
      var reporterIsRefit = false
      let (backbone, report) = try Pretrainer.train(
        examples: examples, backbone: backboneConfig, config: pretrainConfig,
        logger: context.logger,
        progress: { progress in
          if reporter == nil || reporterIsRefit != progress.isRefit {
            reporter?.finish()
            reporterIsRefit = progress.isRefit
            reporter = ProgressReporter(
              label: progress.isRefit ? "pretrain refit" : "pretrain", unit: "examples",
              total: progress.examplesTotal, logger: context.logger)
          }
          reporter?.update(done: progress.examplesDone)
        })
      reporter?.finish()
      let sha = try backbone.save(to: out)
      let auc = report.validationAUC.map { String(format: "%.4f", $0) } ?? "n/a"
      let logloss = report.validationLogLoss.map { String(format: "%.4f", $0) } ?? "n/a"
      let byEpoch = report.validationAUCByEpoch.map {
        $0.map { String(format: "%.4f", $0) } ?? "n/a"
      }
      context.print(
        "validation on the held-out \(report.validationExamples) examples, AUC by epoch "
          + "[\(byEpoch.joined(separator: ", "))]: chose \(report.chosenEpochs) epochs, AUC \(auc), "
          + "logloss \(logloss)")
      context.print(
        report.isRefitted
          ? "pretrained on \(report.trainingExamples) examples (every one, the held-out tail "
            + "included) for \(report.chosenEpochs) epochs"
          : "pretrained on \(report.trainingExamples) examples for \(report.chosenEpochs) epochs")
      context.print("wrote \(out)/model.safetensors (sha256 \(sha)) and \(out)/config.json")
      return 0
    })

  /// Parses a time (`TimeValue`: RFC 3339, a date meaning midnight UTC, or epoch
  /// milliseconds); an empty text means no bound.
  static func parseTime(_ text: String, option: String) throws(UsageError) -> Int64? {
    if text.isEmpty { return nil }
    guard let milliseconds = TimeValue.milliseconds(text) else {
      throw UsageError("\(option) expects a time: \(TimeValue.forms); got '\(text)'")
    }
    return milliseconds
  }
}
