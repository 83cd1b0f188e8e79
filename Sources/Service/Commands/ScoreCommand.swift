import Foundation
import Learner
import Observability

extension CommandSpec {
  /// `iak-stream score`: scores impressions with the backbone and kernels, side by side.
  public static let score = CommandSpec(
    name: "score",
    summary: "Score impressions with the backbone and the published kernels",
    usage: "iak-stream score --backbone DIR [--kernels FILE] --input events.jsonl --out FILE",
    details: """
      Routes every impression of the input to its domain (domain.*) and scores it in one pass
      with domain activation: each domain with an active kernel through that kernel, inactive or
      unknown domains through the backbone alone. Writes one JSON line per impression:
      {"id":...,"domain":...,"score":...,"backbone_score":...,"kernel":true|false}.
      --kernels takes a snapshot's kernels.safetensors or one published kernel file.
      """,
    options: [
      .value("--backbone", "DIR", "Backbone folder (default backbone.dir)"),
      .value("--kernels", "FILE", "Kernels to apply (default: none, the backbone alone)"),
      .value("--input", "FILE", "JSON-lines events (required)"),
      .value("--out", "FILE", "Where to write the scores (required)"),
    ],
    run: { context in
      let configuration = context.configuration
      let arguments = context.arguments
      let backbone = try Backbone.load(
        from: arguments.value("--backbone") ?? configuration.string("backbone.dir"))
      let kernels = try arguments.value("--kernels").map(KernelFile.load) ?? [:]
      let scorer = try Scorer(
        backbone: backbone, kernelConfig: try configuration.kernelConfig(), kernels: kernels)
      let contents = try EventFile.read(
        try arguments.required("--input"), configuration: configuration, logger: context.logger)
      let assembler = ExampleAssembler(backbone: backbone.config)
      let outPath = try arguments.required("--out")
      var text = ""
      var usedKernel = 0
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
          text += "\"kernel\":\(score.usedKernel)}\n"
        }
      }
      OutputFolder.make(for: outPath)
      try Data(text.utf8).write(to: URL(fileURLWithPath: outPath), options: .atomic)
      context.print(
        "scored \(contents.examples.count) impressions (\(usedKernel) through a kernel, "
          + "\(kernels.count) kernels loaded) into \(outPath)")
      return 0
    })
}
