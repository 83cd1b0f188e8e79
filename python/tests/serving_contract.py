"""Checks the installed iak_serving package against what iak-stream wrote and scored.

Run by ServiceTests/ServingContractTests (make test) after a real serve run:

    python3 serving_contract.py WORK

WORK holds: ``backbone/`` (config.json + model.safetensors), ``export/`` (kernels export),
``records/records.json`` (optional: the kernels topic, key, headers, value file or null per
record, in offset order), ``events.jsonl`` (the scored impressions), ``swift-scores.jsonl`` (``iak-stream
score --kernels export``), ``alerts.jsonl`` (optional: the alerts topic values) and ``schema.json``
(the iak-alert/1 JSON Schema). Prints one JSON object with the measured figures; exits 1 with the
reason when a check fails. Also runs upgrade_records.py (the kernels topic during a backbone
upgrade, on records it builds itself).
"""

import base64
import json
import os
import sys

import numpy as np

import iak_serving as iak
import upgrade_records

TOLERANCE = 1e-5


def fail(message):
    print(json.dumps({"ok": False, "error": message}))
    sys.exit(1)


def max_difference(ours, theirs):
    both = ~(np.isnan(ours) & np.isnan(theirs))
    if (np.isnan(ours) != np.isnan(theirs)).any():
        return float("inf")
    return float(np.abs(ours[both] - theirs[both]).max()) if both.any() else 0.0


def compare(result, swift, label):
    score = np.array([row["score"] for row in swift], np.float64)
    backbone = np.array([row["backbone_score"] for row in swift], np.float64)
    kernel = np.array([np.nan if row["kernel_score"] is None else row["kernel_score"]
                       for row in swift], np.float64)
    used = np.array([row["kernel"] for row in swift])
    figures = {
        "max_abs_dp_score": max_difference(result.score.astype(np.float64), score),
        "max_abs_dp_backbone": max_difference(result.backbone_score.astype(np.float64), backbone),
        "max_abs_dp_kernel": max_difference(result.kernel_score.astype(np.float64), kernel),
        "served_by_kernel": int(used.sum()),
        "with_kernel": int((~np.isnan(kernel)).sum()),
    }
    if not (result.used_kernel == used).all():
        fail(f"{label}: {(result.used_kernel != used).sum()} impressions differ in whether the "
             "kernel served")
    for name in ("max_abs_dp_score", "max_abs_dp_backbone", "max_abs_dp_kernel"):
        if not figures[name] <= TOLERANCE:
            fail(f"{label}: {name} = {figures[name]} exceeds {TOLERANCE}")
    return figures


def check_topic(work, backbone, exported, impressions, domains, rows):
    listing = json.load(open(os.path.join(work, "records", "records.json")))
    records = []
    for record in listing:
        value = None
        if record["value"] is not None:
            value = open(os.path.join(work, "records", record["value"]), "rb").read()
        headers = [(name, base64.b64decode(v)) for name, v in record["headers"]]
        records.append((record["key"].encode("utf-8"), value, headers))
    topic = iak.KernelSet.from_records(records)
    if sorted(topic.kernels) != sorted(exported.kernels):
        fail(f"the kernels topic holds {sorted(topic.kernels)}, "
             f"the export {sorted(exported.kernels)}")
    for domain, kernel in topic.kernels.items():
        other = exported[domain]
        if kernel.active != other.active or kernel.version != other.version:
            fail(f"{domain}: topic active={kernel.active} version={kernel.version}, export "
                 f"active={other.active} version={other.version}")
        for name in ("encoder_weight", "encoder_bias", "decoder_weight", "decoder_bias",
                     "hidden_weight", "hidden_bias"):
            if not np.array_equal(getattr(kernel, name), getattr(other, name)):
                fail(f"{domain}: {name} differs between the topic and the export")
    # A tombstone removes its domain; a header that disagrees with the file is refused.
    first_key, first_value, _ = records[0]
    if first_key.decode() in iak.KernelSet.from_records(records + [(first_key, None, [])]):
        fail("a tombstone did not remove its domain")
    try:
        iak.KernelSet.from_records([(first_key, first_value, [("iak-version", b"999999")])])
        fail("a record whose iak-version differs from its kernel_version was accepted")
    except iak.FormatError:
        pass
    result = iak.Scorer(backbone, topic).score(impressions, domains)
    return {"topic_records": len(records), "topic": compare(result, rows, "topic")}


def main(work):
    backbone = iak.Backbone.load(os.path.join(work, "backbone"))
    events = [json.loads(line) for line in open(os.path.join(work, "events.jsonl"))]
    impressions = [event for event in events if event.get("type") == "impression"]
    swift = {}
    for line in open(os.path.join(work, "swift-scores.jsonl")):
        row = json.loads(line)
        swift[row["id"]] = row
    rows = [swift[event["id"]] for event in impressions]
    domains = [row["domain"] for row in rows]
    report = {"ok": True, "impressions": len(impressions), "tolerance": TOLERANCE}

    # 1. The export folder, as a serving system loads it.
    exported = iak.KernelSet.from_export(os.path.join(work, "export"))
    scorer = iak.Scorer(backbone, exported)
    report["export"] = compare(scorer.score(impressions, domains), rows, "export")
    report["kernels"] = len(exported)
    report["active_kernels"] = len(exported.active_domains)

    # 2. The kernels topic: the same set, the same scores.
    if os.path.exists(os.path.join(work, "records", "records.json")):
        report.update(check_topic(work, backbone, exported, impressions, domains, rows))

    # 3. Kernels of another backbone are refused unless asked for.
    backbone.sha256 = "0" * 64
    try:
        iak.Scorer(backbone, exported)
        fail("a scorer accepted kernels of another backbone")
    except iak.FormatError as error:
        report["refusal"] = str(error)[:120]
    iak.Scorer(backbone, exported, allow_other_backbone=True)
    backbone = iak.Backbone.load(os.path.join(work, "backbone"))

    # 4. The PyTorch module, when PyTorch is installed.
    try:
        import torch  # noqa: F401
        from iak_serving.nn import ServingModule
    except ImportError:
        report["torch"] = "not installed: skipped"
    else:
        module = ServingModule(backbone, exported)
        bucket_ids, numerics = backbone.inputs(impressions)
        served, base, kernel = module.score(bucket_ids, numerics, domains)
        result = iak.ScoreResult(served, base, kernel, module.used_kernel(domains))
        report["torch"] = compare(result, rows, "torch")

    # 5. Real alerts against the iak-alert/1 JSON Schema.
    if os.path.exists(os.path.join(work, "alerts.jsonl")):
        report.update(check_alerts(work))

    # 6. The kernels topic during a backbone upgrade (records built by upgrade_records.py).
    try:
        upgrade = upgrade_records.check()
    except upgrade_records.CheckFailed as failure:
        fail(f"backbone upgrade records: {failure}")
    report["upgrade_records"] = {"records": upgrade["records"],
                                 "refused": sorted(upgrade["refused"])}
    print(json.dumps(report))


def check_alerts(work):
    import jsonschema
    schema = json.load(open(os.path.join(work, "schema.json")))
    validator = jsonschema.Draft202012Validator(schema)
    alerts = [json.loads(line) for line in open(os.path.join(work, "alerts.jsonl"))]
    if not alerts:
        fail("no alert to validate")
    for index, alert in enumerate(alerts):
        errors = sorted(validator.iter_errors(alert), key=lambda e: e.path)
        if errors:
            fail(f"alert {index} does not match iak-alert/1: {errors[0].message} ({alert})")
    return {"alerts_validated": len(alerts),
            "alert_detectors": sorted({alert["detector"] for alert in alerts})}


if __name__ == "__main__":
    main(sys.argv[1])
