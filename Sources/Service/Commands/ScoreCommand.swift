import Base
import Foundation
import Learner
import Observability

extension CommandSpec {
  /// `iak-stream score`: scores impressions with the backbone and kernels, side by side.
  public static let score = CommandSpec(
    name: "score",
    summary: "Score impressions with the backbone and the published kernels",
    usage: """
      iak-stream score --backbone DIR [--kernels PATH [--allow-other-backbone]] \\
             --input events.jsonl --out FILE
      """,
    details: """
      Routes every impression of the input to its domain (domain.*) and scores it in one pass
      with domain activation: each domain whose kernel serves through that kernel, the others
      (no kernel, not active, deactivated by drift, kept in shadow by the serving guard) through
      the backbone alone. Writes one JSON line per impression:
      {"id":...,"domain":...,"score":...,"backbone_score":...,"kernel_score":...|null,
       "kernel":true|false}: score is what is served, kernel_score the domain's kernel's score
      whether or not it serves (null without a kernel), kernel whether score is kernel_score.
      --kernels takes a folder written by `kernels export` (kernels.json and one file per
      domain: the active flags it holds), one published kernel file (its active metadata), or
      a snapshot's kernels.safetensors in its version folder (or that folder: the kernels that
      served when it was taken). Kernels trained on another backbone than --backbone (their
      backbone sha256 differs from its model.safetensors') are refused unless
      --allow-other-backbone is given. docs/FORMAT.md says how to compute the same scores.
      """,
    options: [
      .value("--backbone", "DIR", "Backbone folder (default backbone.dir)"),
      .value("--kernels", "PATH", "Kernels to apply (default: none, the backbone alone)"),
      .flag(
        "--allow-other-backbone",
        "Apply kernels stamped with another backbone's sha256 (a warning names them)"),
      .value("--input", "FILE", "JSON-lines events (required)"),
      .value("--out", "FILE", "Where to write the scores (required)"),
    ],
    run: { context in
      let configuration = context.configuration
      let arguments = context.arguments
      let backbone = try Backbone.load(
        from: arguments.value("--backbone") ?? configuration.settings.backbone.dir)
      let loaded = try arguments.value("--kernels").map(ServingKernels.load)
      let backboneSHA256 = backbone.weightsSHA256
      let foreign = loaded?.domains(notTrainedOn: backboneSHA256) ?? []
      if !foreign.isEmpty {
        let recorded = Set(foreign.map { loaded?.backboneSHA256[$0] ?? "(not recorded)" })
          .sorted()
        let what =
          "\(foreign.count) kernel(s) (\(foreign.prefix(3).joined(separator: ", "))"
          + "\(foreign.count > 3 ? ", ..." : "")) were trained on backbone "
          + "\(recorded.joined(separator: ", ")), not on this one (\(backboneSHA256))"
        guard arguments.has("--allow-other-backbone") else {
          throw UsageError(
            what + "; pass the backbone they were trained on, or --allow-other-backbone to "
              + "apply them anyway")
        }
        context.logger.warning(
          "applying kernels of another backbone (--allow-other-backbone)", ["detail": what])
      }
      let kernels = try loaded?.scoringKernels() ?? [:]
      let scorer = try Scorer(
        backbone: backbone, kernelConfig: try configuration.kernelConfig(), kernels: kernels)
      let input = try arguments.required("--input")
      let contents = try EventFile.read(
        input, configuration: configuration, logger: context.logger)
      // Lines and none readable: not an empty stream to score, but the wrong file or format.
      if contents.lines > 0 && contents.rejected.values.reduce(0, +) == contents.lines {
        throw UsageError("no event to score in --input \(input): \(contents.noExampleReason)")
      }
      let assembler = ExampleAssembler(backbone: backbone.config)
      let outPath = try arguments.required("--out")
      var text = ""
      var usedKernel = 0
      let serving = kernels.values.filter(\.isActive).count
      let chunk = 4096
      for start in stride(from: 0, to: contents.examples.count, by: chunk) {
        let slice = contents.examples[start..<min(start + chunk, contents.examples.count)]
        let scores = scorer.score(
          slice.map { assembler.example(for: $0.impression, label: $0.label, domain: $0.domain) })
        for (labelled, score) in zip(slice, scores) {
          if score.usedKernel { usedKernel += 1 }
          text += "{\"id\":\(JSONText.quote(labelled.impression.id)),"
          text += "\"domain\":\(JSONText.quote(labelled.domain)),"
          text += "\"score\":\(score.probability),\"backbone_score\":\(score.backboneProbability),"
          text += "\"kernel_score\":\(score.kernelProbability.map { "\($0)" } ?? "null"),"
          text += "\"kernel\":\(score.usedKernel)}\n"
        }
      }
      OutputFolder.make(for: outPath)
      try Data(text.utf8).write(to: URL(fileURLWithPath: outPath), options: .atomic)
      context.print(
        "scored \(contents.examples.count) impressions (\(usedKernel) through a kernel, "
          + "\(loaded?.kernels.count ?? 0) kernels loaded, \(serving) serving) into "
          + outPath
          + (foreign.isEmpty
            ? ""
            : "; \(foreign.count) kernel(s) of another backbone applied (--allow-other-backbone)"))
      return 0
    })
}
