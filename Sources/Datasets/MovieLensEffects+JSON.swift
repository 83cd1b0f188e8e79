import Base
import Foundation
import Observability

extension MovieLensEffects {
  /// The rule in words, as written into the JSON file.
  public static let ruleDescription = """
    A cell is (region, UTC month, genre); its impressions are the ratings at or after since_ms \
    with those values (sampled negatives never). Eligible cells have at least min_impressions \
    impressions, both clicks and non-clicks; sorted by (month, region, genre), shuffled by \
    Fisher-Yates with SplitMix64(seed), the first cells_requested are chosen. In a cell with \
    base rate r = base_clicks/impressions the target is t = sigmoid(logit(r) + logit_shift). \
    logit_shift > 0: each non-click becomes a click with probability q = (t - r)/(1 - r); \
    logit_shift < 0: each click becomes a non-click with probability q = (r - t)/r. \
    An impression with click probability p gets p + (1 - p)q, resp. p(1 - q): exactly \
    logit_shift logits at p = r. The draw of data row R (event id ml-R) is the top 53 bits of \
    the first output of SplitMix64(seed + R * 0xD1B54A32D192ED03 mod 2^64) / 2^53; the label \
    changes when it is below q.
    """

  /// The truth as a JSON document: the plan, the rule, and per cell its rates, its impressions'
  /// ids and the ids whose label changed.
  public func jsonText() -> String {
    var out = "{\n"
    out += "  \"format\": \"iak-stream movielens effects v1\",\n"
    out += "  \"rule\": \(JSONText.quote(Self.ruleDescription)),\n"
    out += "  \"cells_requested\": \(plan.cellCount),\n"
    out += "  \"logit_shift\": \(JSONText.number(plan.logitShift)),\n"
    out += "  \"seed\": \(plan.seed),\n"
    out += "  \"since_ms\": \(plan.sinceMilliseconds),\n"
    out += "  \"min_impressions\": \(plan.minimumImpressions),\n"
    out += "  \"eligible_cells\": \(eligibleCells),\n"
    out += "  \"affected_impressions\": \(affectedImpressions),\n"
    out += "  \"changed_labels\": \(changedLabels),\n"
    out += "  \"cells\": ["
    for (index, cell) in cells.enumerated() {
      out += index == 0 ? "\n" : ",\n"
      out += "    {\"region\": \(JSONText.quote(cell.region)), "
      out += "\"month\": \(JSONText.quote(cell.month)), "
      out += "\"genre\": \(JSONText.quote(cell.genre)),\n"
      out += "     \"impressions\": \(cell.impressions), \"base_clicks\": \(cell.baseClicks), "
      out += "\"clicks\": \(cell.clicks), \"changed\": \(cell.changedIDs.count),\n"
      out += "     \"base_rate\": \(JSONText.number(cell.baseRate)), "
      out += "\"target_rate\": \(JSONText.number(cell.targetRate)), "
      out += "\"rate\": \(JSONText.number(cell.rate)), "
      out += "\"change_probability\": \(JSONText.number(cell.changeProbability)),\n"
      let impressionIDs = cell.impressionIDs.map(JSONText.quote).joined(separator: ",")
      let changedIDs = cell.changedIDs.map(JSONText.quote).joined(separator: ",")
      out += "     \"impression_ids\": [\(impressionIDs)],\n"
      out += "     \"changed_ids\": [\(changedIDs)]}"
    }
    out += cells.isEmpty ? "]\n}\n" : "\n  ]\n}\n"
    return out
  }

  /// Writes `jsonText()` to `output` atomically.
  ///
  /// - Throws: `MovieLensError` if the file cannot be written.
  public func writeJSON(to output: URL) throws(MovieLensError) {
    do {
      try Data(jsonText().utf8).write(to: output, options: .atomic)
    } catch {
      throw MovieLensError(
        "cannot write the effects to \(output.path): \(error.localizedDescription); check that "
          + "its folder exists and is writable")
    }
  }
}
