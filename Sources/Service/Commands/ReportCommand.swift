import Foundation

extension CommandSpec {
  /// `iak-stream report`: write a self-contained HTML report of kernels, drift and alerts.
  public static let report = CommandSpec(
    name: "report",
    summary: "Write a self-contained HTML report of kernels, drift and alerts",
    usage: "iak-stream report [--checkpoint-dir DIR] [--summary FILE] --out report.html",
    details: """
      Reads every retained snapshot of the store (--checkpoint-dir, default checkpoint.dir):
      per-domain prequential AUC and logloss of the kernel and of the backbone alone, the
      information proxies, kernel versions, the drift detectors firing and the alerts each
      snapshot recorded; and with --summary a `replay --summary` document (overall figures and
      every alert of that run). Writes one HTML page with inline CSS and SVG charts (no script,
      no network): an overview table of the domains and of the firings per detector, then per
      domain its figures over the retained snapshots and its alerts timeline. Charts have one
      point per retained snapshot: raise checkpoint.keep to see more history.
      """,
    options: [
      .value("--checkpoint-dir", "DIR", "Snapshot store (default checkpoint.dir)"),
      .value("--summary", "FILE", "A replay summary whose alerts and figures to include"),
      .value("--out", "FILE", "Where to write the HTML page (required)"),
    ],
    run: { context in
      let arguments = context.arguments
      let out = try arguments.required("--out")
      let model = try ReportModel.load(
        checkpointDirectory: arguments.value("--checkpoint-dir")
          ?? context.configuration.settings.checkpoint.dir,
        summaryPath: arguments.value("--summary"), logger: context.logger)
      for problem in model.problems {
        context.logger.warning("report: part of the store was not read", ["problem": problem])
      }
      let page = ReportPage.render(model, generatedAt: Date())
      do {
        OutputFolder.make(for: out)
        try Data(page.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
      } catch {
        throw ServiceError(
          .io, "--out \(out): cannot write the report: \(error.localizedDescription)")
      }
      let alerts = model.domains.reduce(0) { $0 + $1.alerts.filter(\.isFiring).count }
      context.print(
        "wrote \(out): \(model.domains.count) domains, \(model.snapshotVersions.count) "
          + "snapshot\(model.snapshotVersions.count == 1 ? "" : "s"), \(alerts) alerts fired")
      return 0
    })
}
