#!/usr/bin/env python3
"""Served AUC vs the backbone on the MovieLens 1998 stream: is the deficit an artifact of
mixing two scorers within a domain, a guard calibration issue, or real harm?

Reads only existing files (no replay): a run's `--serving-scores` TSV (id, domain, label,
backbone_logit, kernel_logit, served_logit; one line per example in training order), the
events file it replayed (impression timestamps, joined on id) and the run's config.txt.

  scripts/served-analysis.py baseline   RUN_DIR...   reproduce the doc's kernel/served Δ
  scripts/served-analysis.py decompose  RUN_DIR...   where the served Δ comes from
  scripts/served-analysis.py transitions RUN_DIR...  each guard turn-on and what followed
                              [--confirm-z Z]         (under drift.guard_confirm_z = Z)
  scripts/served-analysis.py oracle     RUN_DIR...   hindsight per-domain upper bound
  scripts/served-analysis.py reproduce  RUN_DIR...   offline guard vs the file's served column
  scripts/served-analysis.py sweep      RUN_DIR...   offline guard settings sweep (bootstrap)
  scripts/served-analysis.py all        RUN_DIR...   all of the above

RUN_DIR is e.g. out/experiment/real/defaults (it holds serving-scores.tsv or scores.tsv, and
config.txt when present). Its events file is found from runs.tsv next to the run's group, or
given with --events FILE --offset N (the replay's --from-offset, or --from-timestamp T).

The offline guard re-implements ServingGuard/PairedComparison (Sources/Learner) and the timing
of the replay (LabelJoiner: an impression leaves when the watermark, the largest event time
minus label.max_out_of_orderness, passes impression time + label.wait; Trainer: a domain's
batch closes at train.batch_max examples or when train.batch_max_wait of the trainer's event
time has passed since it opened; the guard sees a batch's serving-time scores when it closes; an
impression is scored, with the guard state as it stands, before the joiner processes it). The
kernel never depends on the guard (drift.on_harm = deactivate only stops serving; on_collapse =
alert), so replaying the guard offline over the same kernel logits is exact up to the timing
model and the TSV's 6-digit logits.
"""
import argparse
import importlib.machinery
import importlib.util
import json
import math
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def load_report_module():
    """scripts/experiment-report, for its exact AUC and paired bootstrap (same seed/resamples)."""
    for root in (REPO, "/work/main"):
        path = os.path.join(root, "scripts", "experiment-report")
        if os.path.exists(path):
            loader = importlib.machinery.SourceFileLoader("experiment_report", path)
            spec = importlib.util.spec_from_loader("experiment_report", loader)
            module = importlib.util.module_from_spec(spec)
            loader.exec_module(module)
            return module
    sys.exit("served-analysis: scripts/experiment-report not found")


ER = load_report_module()


# ---------------------------------------------------------------------------------------------
# Inputs

def parse_duration_ms(text):
    match = re.fullmatch(r"\s*([0-9.]+)\s*(ms|s|m|h|d)?\s*", text)
    if not match:
        raise ValueError(f"duration {text!r}")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return int(round(value * {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}[unit]))


DEFAULT_CONFIG = {
    "label.wait": "30m", "label.max_out_of_orderness": "5s", "label.release": "in_order",
    "train.batch_max": "16", "train.batch_max_wait": "10m", "drift.harm_window": "2000",
    "drift.guard_min_examples": "200", "drift.guard_min_per_class": "20",
    "drift.guard_check_every": "50", "drift.guard_auc_margin": "0",
    "drift.guard_logloss_margin": "0.01", "drift.guard_on_z": "2.326",
    "drift.guard_off_z": "2.326", "drift.on_harm": "deactivate", "drift.on_collapse": "alert",
    "train.mode": "kernel",
}


def read_config(run_dir, sets=()):
    config = dict(DEFAULT_CONFIG)
    path = os.path.join(run_dir, "config.txt")
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                key, value = (part.strip() for part in line.split("=", 1))
                config[key] = value
    for item in sets:
        key, value = item.split("=", 1)
        config[key] = value
    return config


def find_command(run_dir):
    """The replay command of `run_dir` from a runs.tsv above it (experiment or controlled)."""
    run_dir = os.path.normpath(run_dir)
    probe = run_dir
    while probe not in ("", "/"):
        runs = os.path.join(probe, "runs.tsv")
        if os.path.exists(runs):
            for line in open(runs, encoding="utf-8"):
                if "replay" in line and (run_dir + "/") in line:
                    return line.rstrip("\n").split("\t")[-1]
        probe = os.path.dirname(probe)
    return None


def events_of(run_dir, events=None, offset=None):
    command = find_command(run_dir)
    sets = []
    if command:
        words = command.split()
        sets = [words[i + 1] for i, w in enumerate(words) if w == "--set"]
        if events is None:
            events = words[words.index("--input") + 1]
        if offset is None and "--from-offset" in words:
            offset = int(words[words.index("--from-offset") + 1])
        if offset is None and "--from-timestamp" in words:
            offset = words[words.index("--from-timestamp") + 1]
    if events is None:
        sys.exit(f"served-analysis: no events file known for {run_dir} (give --events)")
    root = REPO if os.path.exists(os.path.join(REPO, events)) else "/work/main"
    path = events if os.path.isabs(events) else os.path.join(root, events)
    return path, offset, sets


def read_events(path, offset):
    """Event kinds, ids and times from `offset` (a line number or an RFC 3339 time) on."""
    kinds, ids, times = [], [], []
    cutoff = None
    if isinstance(offset, str):
        cutoff = ER.parse_time_ms(offset)
        offset = 0
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number < (offset or 0):
                continue
            event = json.loads(line)
            ts = int(event["ts"])
            if cutoff is not None and ts < cutoff:
                continue
            kinds.append(event["type"] == "impression")
            ids.append(event["id"])
            times.append(ts)
    return np.array(kinds), np.array(ids), np.array(times, dtype=np.int64)


def scores_file(run_dir):
    for name in ("serving-scores.tsv", "scores.tsv"):
        path = os.path.join(run_dir, name)
        if os.path.exists(path):
            return path
    sys.exit(f"served-analysis: no serving scores in {run_dir}")


class Run:
    """One replay's serving scores (training order), with each example's impression time and
    event index, and the replay settings."""

    def __init__(self, run_dir, events=None, offset=None):
        self.dir = run_dir
        path = scores_file(run_dir)
        with open(path, encoding="utf-8") as handle:
            header = handle.readline().rstrip("\n").split("\t")
            assert header == ["id", "domain", "label", "backbone_logit", "kernel_logit",
                              "served_logit"], header
            columns = list(zip(*(line.rstrip("\n").split("\t") for line in handle)))
        self.ids = np.array(columns[0])
        self.domains = np.array(columns[1])
        self.labels = np.array(columns[2]) == "1"
        self.backbone = np.array(columns[3], dtype=np.float64)
        self.kernel = np.array(columns[4], dtype=np.float64)
        self.served = np.array(columns[5], dtype=np.float64)
        events_path, offset, sets = events_of(run_dir, events, offset)
        self.events_path = events_path
        self.config = read_config(run_dir, sets)
        kinds, event_ids, times = read_events(events_path, offset)
        impressions = np.flatnonzero(kinds)
        position = {event_ids[i]: i for i in impressions}
        self.event_index = np.array([position[i] for i in self.ids])
        self.ts = times[self.event_index]
        self.event_times = times
        self.n_events = len(times)
        self.domain_names = sorted(set(self.domains))
        # Exact order of the bootstrap (by domain, then id), as scripts/experiment-report.
        self.canonical = np.lexsort((self.ids, self.domains))
        self._timing = None

    @property
    def kernel_served(self):
        """Examples whose served score is the kernel's and differs from the backbone's."""
        return (self.served == self.kernel) & (self.kernel != self.backbone)

    # -- timing ---------------------------------------------------------------------------------

    def timing(self):
        """Per domain: the batches' closing event indexes and sizes (in appended order), and per
        example the number of its domain's examples the guard had seen when it was scored."""
        if self._timing is not None:
            return self._timing
        wait = parse_duration_ms(self.config["label.wait"])
        lateness = parse_duration_ms(self.config["label.max_out_of_orderness"])
        batch_max = int(self.config["train.batch_max"])
        batch_wait = parse_duration_ms(self.config["train.batch_max_wait"])
        if self.config["label.release"] != "in_order":
            raise SystemExit("served-analysis: timing model assumes label.release = in_order")
        # Emission: the first event whose running maximum time, minus the lateness, exceeds the
        # deadline; the impression itself is scored before the joiner sees it.
        running_max = np.maximum.accumulate(self.event_times)
        deadline = self.ts + wait
        emitted = np.searchsorted(running_max - lateness, deadline, side="right")
        # (running_max - lateness is non-decreasing; side=right gives the first index with a
        # value > deadline.) Beyond the last event: the final flush.
        monotone = np.all(np.diff(emitted) >= 0)
        # Trainer batches, processing the examples in training (file) order.
        pending = {}        # domain -> (opened_ms, [rows])
        lane_time = None
        closes = {d: [] for d in self.domain_names}   # domain -> [(event_index, size)]

        def close(domain, at):
            opened, rows = pending.pop(domain)
            closes[domain].append((at, len(rows)))

        for row in range(len(self.ids)):
            at = int(emitted[row])
            t = int(self.ts[row])
            lane_time = t if lane_time is None else max(lane_time, t)
            due = sorted(d for d, (opened, _) in pending.items() if lane_time - opened >= batch_wait)
            for domain in due:
                close(domain, at)
            domain = self.domains[row]
            if domain not in pending:
                pending[domain] = (lane_time, [])
            pending[domain][1].append(row)
            if len(pending[domain][1]) >= batch_max:
                close(domain, at)
        for domain in sorted(pending):
            close(domain, self.n_events)
        # For each example: its domain's examples in batches closed before its impression event.
        seen = np.zeros(len(self.ids), dtype=np.int64)
        for domain in self.domain_names:
            rows = np.flatnonzero(self.domains == domain)
            at = np.array([c[0] for c in closes[domain]])
            sizes = np.cumsum([c[1] for c in closes[domain]])
            count = np.searchsorted(at, self.event_index[rows], side="left")
            seen[rows] = np.where(count > 0, sizes[np.maximum(count - 1, 0)], 0)
        self._timing = {"closes": closes, "seen": seen, "monotone": monotone,
                        "emitted": emitted}
        return self._timing


# ---------------------------------------------------------------------------------------------
# The serving guard (Sources/Learner/Drift/ServingGuard.swift, Evaluation/PairedComparison.swift)

BINS_PER_LOGIT, LOWEST, BIN_COUNT = 128.0, -16.0, 4096


def bins_of(logits):
    position = np.floor((logits.astype(np.float32) - np.float32(LOWEST)) * np.float32(BINS_PER_LOGIT))
    return np.clip(position, 0, BIN_COUNT - 1).astype(np.int64)


def structural(bins, labels):
    pos, neg = bins[labels], bins[~labels]
    m, n = len(pos), len(neg)
    sorted_neg, sorted_pos = np.sort(neg), np.sort(pos)
    below = np.searchsorted(sorted_neg, pos, "left")
    equal = np.searchsorted(sorted_neg, pos, "right") - below
    for_pos = (below + 0.5 * equal) / n
    above = m - np.searchsorted(sorted_pos, neg, "right")
    equal = np.searchsorted(sorted_pos, neg, "right") - np.searchsorted(sorted_pos, neg, "left")
    for_neg = (above + 0.5 * equal) / m
    return for_pos, for_neg


def cross_entropy(logits, labels):
    y = labels.astype(np.float64)
    return np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))


def paired_comparison(kernel_bins, backbone_bins, kernel, backbone, labels):
    m = int(labels.sum())
    n = len(labels) - m
    kp, kn = structural(kernel_bins, labels)
    bp, bn = structural(backbone_bins, labels)
    auc_k, auc_b = kp.mean(), bp.mean()
    var = np.var(kp - bp, ddof=1) / m + np.var(kn - bn, ddof=1) / n
    se = math.sqrt(max(0.0, var))
    lk, lb = cross_entropy(kernel, labels), cross_entropy(backbone, labels)
    diff = lb - lk
    rate = m / len(labels)
    return {"auc_diff": auc_k - auc_b, "auc_se": se, "ll_gain": lb.mean() - lk.mean(),
            "ll_se": math.sqrt(np.var(diff, ddof=1) / len(labels)),
            "entropy": -(rate * math.log(rate) + (1 - rate) * math.log(1 - rate))}


class GuardSettings:
    def __init__(self, window=2000, min_examples=200, min_per_class=20, check_every=50,
                 auc_margin=0.0, logloss_margin=0.01, on_z=2.326, off_z=2.326,
                 require_better=False, follow=False, confirm_z=None, consecutive=1,
                 fresh_off_z=None, confirm_size="min", name=None):
        self.window, self.min_examples, self.min_per_class = window, min_examples, min_per_class
        self.check_every, self.auc_margin, self.logloss_margin = check_every, auc_margin, logloss_margin
        self.on_z, self.off_z, self.require_better = on_z, off_z, require_better
        # follow: the kernel serves only while its latest check passes the on rule (an
        # undecided check turns it off too); shipped: it keeps serving until a harm verdict.
        self.follow = follow
        # confirm_z (drift.guard_confirm_z, shipped 1.282): a passing check is only a first
        # pass; the kernel serves once the examples scored after it (at least min_examples, the
        # newest window of them) pass on their own at this z; harm on them drops the pass.
        # None: the kernel serves on its first pass (the rule of the replays in out/experiment,
        # whose config.txt predates the key).
        self.confirm_z = confirm_z
        # Candidates tried against the winner's curse and not shipped (docs/served-analysis.md):
        # consecutive: the on rule must pass at this many checks in a row (overlapping windows);
        # fresh_off_z: a serving kernel goes back to shadow once the examples scored since it
        # turned on (at least min_examples) show it worse at this z (0: on the point estimate);
        # confirm_size "same": the confirmation needs as many examples as the window of the
        # first pass held (not only min_examples).
        self.consecutive = consecutive
        self.fresh_off_z = fresh_off_z
        self.confirm_size = confirm_size
        self.name = name

    @classmethod
    def from_config(cls, config):
        confirm = config.get("drift.guard_confirm_z")
        return cls(window=int(config["drift.harm_window"]),
                   min_examples=int(config["drift.guard_min_examples"]),
                   min_per_class=int(config["drift.guard_min_per_class"]),
                   check_every=int(config["drift.guard_check_every"]),
                   auc_margin=float(config["drift.guard_auc_margin"]),
                   logloss_margin=float(config["drift.guard_logloss_margin"]),
                   on_z=float(config["drift.guard_on_z"]), off_z=float(config["drift.guard_off_z"]),
                   confirm_z=None if confirm is None else float(confirm))

    def label(self):
        if self.name:
            return self.name
        kind = "better" if self.require_better else "no-harm"
        off = "follow" if self.follow else f"z_off={self.off_z:g}"
        on = ""
        if self.confirm_z is not None:
            same = ", as many examples as the pass" if self.confirm_size == "same" else ""
            on += f" confirm z={self.confirm_z:g}{same}"
        on += f" fresh-off z={self.fresh_off_z:g}" if self.fresh_off_z is not None else ""
        on += f" consecutive={self.consecutive}" if self.consecutive > 1 else ""
        return (f"{kind}{on} z_on={self.on_z:g} auc_margin={self.auc_margin:g} {off} "
                f"window={self.window}")

    def verdict(self, c, on_z=None):
        on_z = self.on_z if on_z is None else on_z
        if c["auc_diff"] + self.off_z * c["auc_se"] < 0 or c["ll_gain"] + self.off_z * c["ll_se"] < 0:
            return "harm"
        ll_ok = c["ll_gain"] >= 0 and c["ll_gain"] - on_z * c["ll_se"] >= -self.logloss_margin * c["entropy"]
        if self.require_better:
            # The kernel must be significantly better on AUC (lower bound above the margin),
            # and show no harm on log loss as the shipped rule does.
            auc_ok = c["auc_diff"] - on_z * c["auc_se"] > self.auc_margin
        else:
            auc_ok = c["auc_diff"] >= 0 and c["auc_diff"] - on_z * c["auc_se"] >= -self.auc_margin
        return "noharm" if (ll_ok and auc_ok) else "undecided"


def guard_states(kernel, backbone, labels, settings):
    """isServing after each appended example (index k: after k examples), ServingGuard's logic."""
    total = len(labels)
    kb, bb = bins_of(kernel), bins_of(backbone)
    serving = np.zeros(total + 1, dtype=bool)
    is_serving, since_check, since_harm = False, 0, None
    since_pass = None   # examples since a first pass awaiting confirmation (None: none)
    pass_size = 0       # examples in the window of that pass
    since_on = None     # fresh_off: examples since the kernel turned on
    passes = 0          # consecutive passing checks
    window = settings.window

    def compare(lo, k, on_z=None):
        lab = labels[lo:k]
        positives = int(lab.sum())
        if positives < settings.min_per_class or (k - lo) - positives < settings.min_per_class:
            return "undecided"
        c = paired_comparison(kb[lo:k], bb[lo:k], kernel[lo:k], backbone[lo:k], lab)
        return settings.verdict(c, on_z)

    def fresh_worse(lo, k, z):
        lab = labels[lo:k]
        positives = int(lab.sum())
        if positives < settings.min_per_class or (k - lo) - positives < settings.min_per_class:
            return False
        c = paired_comparison(kb[lo:k], bb[lo:k], kernel[lo:k], backbone[lo:k], lab)
        return c["auc_diff"] + z * c["auc_se"] < 0 or c["ll_gain"] + z * c["ll_se"] < 0

    for k in range(1, total + 1):
        since_check += 1
        if since_harm is not None:
            since_harm = since_harm + 1 if since_harm + 1 < window else None
        if since_pass is not None:
            since_pass += 1
        if since_on is not None:
            since_on += 1
        count = min(k, window)
        if since_check >= settings.check_every and count >= settings.min_examples:
            since_check = 0
            verdict = compare(k - count, k)
            if verdict == "harm":
                since_harm = 0
                since_pass = None
            if verdict == "noharm" and since_harm is not None:
                verdict = "undecided"
            if verdict == "noharm" and not is_serving:
                passes += 1
                if passes < settings.consecutive:
                    verdict = "undecided"
            else:
                passes = 0
            if settings.confirm_z is not None and not is_serving and verdict != "harm":
                if since_pass is None:
                    if verdict == "noharm":
                        since_pass = 0
                        pass_size = count
                    verdict = "undecided"
                else:
                    fresh = min(count, since_pass)
                    needed = pass_size if settings.confirm_size == "same" else settings.min_examples
                    verdict = (compare(k - fresh, k, settings.confirm_z)
                               if fresh >= max(needed, settings.min_examples) else "undecided")
                    if verdict == "noharm":
                        since_pass = None
                    else:
                        if verdict == "harm":
                            since_pass = None
                        verdict = "undecided"
            if (settings.fresh_off_z is not None and is_serving and verdict != "harm"
                    and since_on >= settings.min_examples):
                fresh = min(count, since_on)
                if fresh_worse(k - fresh, k, settings.fresh_off_z):
                    verdict = "off"
            if verdict == "noharm":
                if not is_serving:
                    since_on = 0
                is_serving = True
            elif verdict in ("harm", "off") or settings.follow:
                is_serving = False
                since_on = None
        serving[k] = is_serving
    return serving


def simulate(run, settings):
    """Per example, whether the offline guard lets the kernel serve when it is scored."""
    timing = run.timing()
    flags = np.zeros(len(run.ids), dtype=bool)
    for domain in run.domain_names:
        rows = np.flatnonzero(run.domains == domain)
        states = guard_states(run.kernel[rows], run.backbone[rows], run.labels[rows], settings)
        flags[rows] = states[timing["seen"][rows]]
    # No kernel yet (scored by the backbone): nothing differs whatever the flag.
    return flags


# ---------------------------------------------------------------------------------------------
# AUC helpers

def exact_auc(scores, labels):
    """Exact rank AUC, ties 1/2; nan without both classes."""
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    return pair_wins(pos, neg) / (len(pos) * len(neg))


def pair_wins(pos, neg):
    """Sum over (positive, negative) pairs of 1 if pos > neg, 1/2 if equal."""
    if len(pos) == 0 or len(neg) == 0:
        return 0.0
    sorted_neg = np.sort(neg)
    below = np.searchsorted(sorted_neg, pos, "left")
    equal = np.searchsorted(sorted_neg, pos, "right") - below
    return float(below.sum() + 0.5 * equal.sum())


def weighted_delta(run, served_logits):
    """The doc's point figure and paired bootstrap of served_logits vs the backbone."""
    scores = {}
    order = run.canonical
    domains = run.domains[order]
    labels = run.labels[order]
    logits = np.vstack([run.backbone[order], run.kernel[order], served_logits[order]])
    starts = np.flatnonzero(np.r_[True, domains[1:] != domains[:-1]])
    ends = np.r_[starts[1:], len(domains)]
    for a, b in zip(starts, ends):
        scores[str(domains[a])] = (labels[a:b], logits[:, a:b])
    return ER.paired_bootstrap(scores)


def fmt(figure):
    return f"{100 * figure['delta']:+.3f} [{100 * figure['low']:+.3f}, {100 * figure['high']:+.3f}]"


# ---------------------------------------------------------------------------------------------
# Commands

def baseline(run):
    result = weighted_delta(run, run.served)
    print(f"## {run.dir}: {len(run.ids)} examples, {len(run.domain_names)} domains, "
          f"{result['domains']} with both classes")
    print(f"  exact AUC (example-weighted): backbone {result['exact_backbone']:.4f}, kernel "
          f"{result['exact_kernel']:.4f}, served {result['exact_served']:.4f}")
    print(f"  kernel Δ pts [95% CI]: {fmt(result['kernel'])}")
    print(f"  served Δ pts [95% CI]: {fmt(result['served'])}")
    share = run.kernel_served.mean()
    print(f"  served by kernel (served == kernel != backbone): {100 * share:.2f}% "
          f"({run.kernel_served.sum()} examples)")
    return result


def decompose(run):
    """Pairs within a domain split by who scored each side of the served score: both kernel
    (KK), both backbone (BB: contributes 0), one each (mixed). Δ_served = Δ_KK + Δ_mixed exactly."""
    ks = run.kernel_served
    total_w = 0
    sums = {"KK": 0.0, "mixed": 0.0, "shift_mixed": 0.0, "shift_oracle_mixed": 0.0}
    pair_shares = {"KK": 0.0, "mixed": 0.0, "BB": 0.0}
    rows_out = []
    seg_num, seg_den = 0.0, 0.0
    strata = {"day": [0.0, 0.0], "1000": [0.0, 0.0], "200": [0.0, 0.0]}
    shifted_served = run.served.copy()
    causal_served = run.served.copy()
    day = run.ts // 86400000
    for domain in run.domain_names:
        rows = np.flatnonzero(run.domains == domain)
        lab = run.labels[rows]
        if lab.all() or not lab.any():
            continue
        m, n = int(lab.sum()), int((~lab).sum())
        w = len(rows)
        total_w += w
        b, k, s = run.backbone[rows], run.kernel[rows], run.served[rows]
        kk = ks[rows]
        # Exact per-pair decomposition of AUC(served) - AUC(backbone).
        def wins(score_pos, score_neg, pos_mask, neg_mask):
            return pair_wins(score_pos[lab & pos_mask], score_neg[~lab & neg_mask])
        d_kk = (wins(k, k, kk, kk) - wins(b, b, kk, kk)) / (m * n)
        d_mixed = ((wins(k, b, kk, ~kk) - wins(b, b, kk, ~kk))
                   + (wins(b, k, ~kk, kk) - wins(b, b, ~kk, kk))) / (m * n)
        p_kk = (lab & kk).sum() * (~lab & kk).sum() / (m * n)
        p_bb = (lab & ~kk).sum() * (~lab & ~kk).sum() / (m * n)
        pair_shares["KK"] += w * p_kk
        pair_shares["BB"] += w * p_bb
        pair_shares["mixed"] += w * (1 - p_kk - p_bb)
        sums["KK"] += w * d_kk
        sums["mixed"] += w * d_mixed
        # Segments: maximal runs (training order) of kernel-served vs backbone-served.
        change = np.flatnonzero(np.r_[True, kk[1:] != kk[:-1]])
        ends = np.r_[change[1:], len(rows)]
        for a, e in zip(change, ends):
            seg_lab = lab[a:e]
            if seg_lab.all() or not seg_lab.any():
                continue
            d = exact_auc(s[a:e], seg_lab) - exact_auc(b[a:e], seg_lab)
            seg_num += (e - a) * d
            seg_den += e - a
            if kk[a]:
                # Kernel logits moved to the backbone's mean level over the segment (hindsight).
                offset = np.mean(b[a:e] - k[a:e])
                shifted_served[rows[a:e]] = k[a:e] + offset
        # Causal level match: kernel logit + the mean (backbone - kernel) over the domain's
        # examples scored before (what a server could know: the guard's window holds them).
        diffs = b - k
        prior = np.r_[0.0, np.cumsum(diffs)[:-1]]
        counts = np.arange(len(rows))
        window_mean = np.zeros(len(rows))
        W = 2000
        csum = np.r_[0.0, np.cumsum(diffs)]
        lo = np.maximum(0, counts - W)
        with np.errstate(invalid="ignore", divide="ignore"):
            window_mean = np.where(counts > 0, (csum[counts] - csum[lo]) / np.maximum(counts - lo, 1), 0.0)
        causal_served[rows[kk]] = k[kk] + window_mean[kk]
        # Time strata inside the domain: AUC within each stratum, weighted by its examples.
        for name, key in (("day", day[rows]), ("1000", np.arange(len(rows)) // 1000),
                          ("200", np.arange(len(rows)) // 200)):
            for value in np.unique(key):
                sel = key == value
                sl = lab[sel]
                if sl.all() or not sl.any():
                    continue
                strata[name][0] += sel.sum() * (exact_auc(s[sel], sl) - exact_auc(b[sel], sl))
                strata[name][1] += sel.sum()
        # Per-domain figures.
        auc_b, auc_k, auc_s = exact_auc(b, lab), exact_auc(k, lab), exact_auc(s, lab)
        if kk.any():
            sub = kk
            kk_k = exact_auc(k[sub], lab[sub])
            kk_b = exact_auc(b[sub], lab[sub])
            off = float(np.mean(k[sub] - b[sub]))
        else:
            kk_k = kk_b = off = float("nan")
        rows_out.append((domain, w, int(kk.sum()), auc_b, auc_k, auc_s, d_kk, d_mixed, kk_k, kk_b, off))
    print(f"## {run.dir}: decomposition of the served Δ (AUC points, example-weighted over "
          f"domains with both classes)")
    served = (sums["KK"] + sums["mixed"]) / total_w
    print(f"  served Δ = {100 * served:+.4f} = KK pairs {100 * sums['KK'] / total_w:+.4f} "
          f"+ mixed pairs {100 * sums['mixed'] / total_w:+.4f} (+ BB pairs 0)")
    print(f"  share of a domain's (pos, neg) pairs, example-weighted: KK "
          f"{100 * pair_shares['KK'] / total_w:.2f}%, mixed {100 * pair_shares['mixed'] / total_w:.2f}%, "
          f"BB {100 * pair_shares['BB'] / total_w:.2f}%")
    print(f"  (a) within constant-scorer segments: Δ {100 * seg_num / seg_den:+.4f} "
          f"(segments with both classes cover {seg_den:.0f} of {total_w} examples)")
    for name, label in (("day", "per calendar day"), ("1000", "per 1000 examples"),
                        ("200", "per 200 examples")):
        num, den = strata[name]
        print(f"  (b) within time strata {label}: Δ {100 * num / den:+.4f} (covering {den:.0f})")
    shifted = weighted_delta(run, shifted_served)
    causal = weighted_delta(run, causal_served)
    print(f"  (c) kernel logits shifted to the backbone's mean level per serving segment "
          f"(hindsight): served Δ {fmt(shifted['served'])}")
    print(f"  (c') causal shift (mean backbone - kernel over the domain's previous <=2000 "
          f"examples): served Δ {fmt(causal['served'])}")
    print("  per domain where the kernel served (examples; kernel/backbone AUC on the examples "
          "it served; mean kernel - backbone logit there; the domain's KK and mixed Δ pts):")
    num_k = num_b = den = 0.0
    for (domain, w, nk, auc_b, auc_k, auc_s, d_kk, d_mixed, kk_k, kk_b, off) in rows_out:
        if nk == 0:
            continue
        print(f"    {domain:10s} n={w:5d} served={nk:5d} ({100 * nk / w:5.1f}%)  AUC on served "
              f"ex.: kernel {kk_k:.4f} backbone {kk_b:.4f} (Δ {100 * (kk_k - kk_b):+.2f})  "
              f"offset {off:+.3f}  KK {100 * d_kk:+.3f} mixed {100 * d_mixed:+.3f}")
        if not math.isnan(kk_k):
            num_k += nk * kk_k
            num_b += nk * kk_b
            den += nk
    if den:
        print(f"  kernel vs backbone AUC on the kernel-served examples (per domain, weighted by "
              f"served examples): {num_k / den:.4f} vs {num_b / den:.4f} "
              f"(Δ {100 * (num_k - num_b) / den:+.3f} pts)")
    # Pooled over all kernel-served examples of all domains (one AUC):
    sel = run.kernel_served
    if sel.any():
        print(f"  pooled over all kernel-served examples: kernel "
              f"{exact_auc(run.kernel[sel], run.labels[sel]):.4f} vs backbone "
              f"{exact_auc(run.backbone[sel], run.labels[sel]):.4f}")
    return {"served": served, "KK": sums["KK"] / total_w, "mixed": sums["mixed"] / total_w}


def decomposition_intervals(run):
    """Paired bootstrap (the doc's resamples: 200 per domain, seed 20260101, examples in id
    order) of each decomposition term. Domains where the kernel never served contribute exactly
    0 to every term, in every resample; weights are the domains' sizes, as in the doc."""
    ks = run.kernel_served
    day = run.ts // 86400000
    weights_total = 0
    terms = ["served", "KK", "mixed", "segments", "day", "200"]
    acc = {t: np.zeros(ER.RESAMPLES + 1) for t in terms}
    for domain in run.domain_names:
        rows = np.flatnonzero(run.domains == domain)
        lab_all = run.labels[rows]
        if lab_all.all() or not lab_all.any():
            continue
        weights_total += len(rows)
        if not ks[rows].any():
            continue
        rows = rows[np.argsort(run.ids[rows], kind="stable")]
        # Segment ids in training order, carried by each example.
        train_order = np.sort(rows)
        kk_train = ks[train_order]
        seg_train = np.cumsum(np.r_[True, kk_train[1:] != kk_train[:-1]])
        segment_of = dict(zip(train_order, seg_train))
        pos_in_domain = {r: i for i, r in enumerate(train_order)}
        seg = np.array([segment_of[r] for r in rows])
        block = np.array([pos_in_domain[r] // 200 for r in rows])
        dayk = day[rows]
        picks = np.vstack([np.arange(len(rows))[None, :], ER.domain_resamples(domain, len(rows))])
        for i, pick in enumerate(picks):
            r = rows[pick]
            lab = run.labels[r]
            m, n = lab.sum(), (~lab).sum()
            if m == 0 or n == 0:
                continue
            b, k, sv, kk = run.backbone[r], run.kernel[r], run.served[r], ks[r]
            def wins(sp, sn, pm, nm):
                return pair_wins(sp[lab & pm], sn[~lab & nm])
            d_kk = (wins(k, k, kk, kk) - wins(b, b, kk, kk)) / (m * n)
            d_mx = ((wins(k, b, kk, ~kk) - wins(b, b, kk, ~kk))
                    + (wins(b, k, ~kk, kk) - wins(b, b, ~kk, kk))) / (m * n)
            acc["KK"][i] += len(rows) * d_kk
            acc["mixed"][i] += len(rows) * d_mx
            acc["served"][i] += len(rows) * (d_kk + d_mx)
            for name, key in (("segments", seg[pick]), ("day", dayk[pick]), ("200", block[pick])):
                total = 0.0
                for value in np.unique(key):
                    sel = key == value
                    sl = lab[sel]
                    if sl.all() or not sl.any():
                        continue
                    total += sel.sum() * (exact_auc(sv[sel], sl) - exact_auc(b[sel], sl))
                acc[name][i] += total
    out = {}
    for t in terms:
        values = acc[t] / weights_total
        low, high = np.percentile(values[1:], [2.5, 97.5])
        out[t] = {"delta": float(values[0]), "low": float(low), "high": float(high)}
    print(f"## {run.dir}: decomposition with paired-bootstrap 95% intervals (AUC points)")
    names = {"served": "served Δ (= KK + mixed)", "KK": "KK pairs (kernel vs backbone on pairs "
             "both scored by the serving kernel)", "mixed": "mixed pairs (kernel-scored vs "
             "backbone-scored)", "segments": "(a) within constant-scorer segments",
             "day": "(b) within calendar-day strata", "200": "(b) within 200-example strata"}
    for t in terms:
        print(f"  {names[t]}: {fmt(out[t])}")
    return out


def transitions(run, confirm_z=None):
    """Each time the (shipped) guard turned a kernel on: the window's comparison that did it,
    and the kernel's AUC Δ on the domain's examples after it, up to the guard turning it off.
    With `confirm_z`, the guard confirming first passes at that z (the window figures are then
    those of the whole window at the confirmation)."""
    settings = GuardSettings.from_config(run.config)
    if confirm_z is not None:
        settings.confirm_z = confirm_z
    rule = "" if settings.confirm_z is None else f" (first passes confirmed at z {settings.confirm_z:g})"
    print(f"## {run.dir}: guard turn-ons{rule} (window figures) and the AUC Δ on what followed")
    for domain in run.domain_names:
        rows = np.flatnonzero(run.domains == domain)
        k_all, b_all, l_all = run.kernel[rows], run.backbone[rows], run.labels[rows]
        states = guard_states(k_all, b_all, l_all, settings)
        ons = np.flatnonzero(states[1:] & ~states[:-1]) + 1
        offs = np.flatnonzero(~states[1:] & states[:-1]) + 1
        for k in ons:
            lo = max(0, k - settings.window)
            c = paired_comparison(bins_of(k_all[lo:k]), bins_of(b_all[lo:k]), k_all[lo:k],
                                  b_all[lo:k], l_all[lo:k])
            later = offs[offs > k]
            end = int(later[0]) if len(later) else len(rows)
            lab = l_all[k:end]
            after = exact_auc(k_all[k:end], lab) - exact_auc(b_all[k:end], lab)
            print(f"  {domain} ({len(rows)} ex.): on after {k} examples; window AUC Δ "
                  f"{100 * c['auc_diff']:+.2f} pts (se {100 * c['auc_se']:.2f}, z "
                  f"{c['auc_diff'] / c['auc_se']:.2f}), log-loss gain {c['ll_gain']:+.4f} (z "
                  f"{c['ll_gain'] / c['ll_se']:.1f}); off {'after ' + str(end) if len(later) else 'never'}"
                  f"; AUC Δ on the {end - k} examples in between: {100 * after:+.2f} pts")


def oracle(run):
    """Hindsight upper bound: serve each domain's kernel for the whole month exactly where its
    month AUC beat the backbone's (example-weighted mean Δ, AUC points)."""
    total = gain = wins = domains = 0
    for domain in run.domain_names:
        rows = np.flatnonzero(run.domains == domain)
        lab = run.labels[rows]
        if lab.all() or not lab.any():
            continue
        d = exact_auc(run.kernel[rows], lab) - exact_auc(run.backbone[rows], lab)
        total += len(rows)
        gain += len(rows) * max(0.0, d)
        wins += d > 0
        domains += 1
    print(f"## {run.dir}: hindsight per-domain oracle {100 * gain / total:+.3f} pts "
          f"(kernel beats the backbone over the month in {wins} of {domains} domains)")


def reproduce(run):
    settings = GuardSettings.from_config(run.config)
    flags = simulate(run, settings)
    timing = run.timing()
    observable = run.kernel != run.backbone
    actual = run.served == run.kernel
    agree = (flags == actual)[observable]
    print(f"## {run.dir}: offline guard ({settings.label()}, check {settings.check_every}, min "
          f"{settings.min_examples}/{settings.min_per_class}, off z {settings.off_z:g}, ll margin "
          f"{settings.logloss_margin:g}), batch_max {run.config['train.batch_max']}")
    print(f"  emission order monotone in the file's training order: {timing['monotone']}")
    print(f"  agreement with the file's served column on the {observable.sum()} examples whose "
          f"kernel and backbone logits differ: {100 * agree.mean():.3f}% "
          f"({(~agree).sum()} disagree; file serves kernel on {actual[observable].sum()}, "
          f"offline on {flags[observable].sum()})")
    simulated = np.where(flags, run.kernel, run.backbone)
    result = weighted_delta(run, simulated)
    print(f"  offline served Δ {fmt(result['served'])} (file: {fmt(weighted_delta(run, run.served)['served'])})")
    return flags


def sweep_settings(base, family="margins"):
    out = []
    if family == "offrule":
        for on_z in (1.645, 2.326, 3.09, 4.0):
            for off_z, follow in ((2.326, False), (1.0, False), (0.0, False), (2.326, True)):
                out.append(GuardSettings(
                    window=base.window, min_examples=base.min_examples,
                    min_per_class=base.min_per_class, check_every=base.check_every,
                    auc_margin=0.0, logloss_margin=base.logloss_margin, on_z=on_z,
                    off_z=off_z, follow=follow))
        return out
    if family == "shipped":
        return [base]
    def variant(**changes):
        fields = dict(window=base.window, min_examples=base.min_examples,
                      min_per_class=base.min_per_class, check_every=base.check_every,
                      auc_margin=base.auc_margin, logloss_margin=base.logloss_margin,
                      on_z=base.on_z, off_z=base.off_z, confirm_z=None)
        fields.update(changes)
        return GuardSettings(**fields)
    if family == "confirm":
        return [variant()] + [variant(confirm_z=z) for z in (1.282, 2.326, 1.645, 1.0, 0.0)]
    if family == "curse":
        return [variant(consecutive=2), variant(consecutive=3), variant(consecutive=5),
                variant(fresh_off_z=0.0), variant(fresh_off_z=1.0),
                variant(confirm_z=1.282, confirm_size="same")]
    for window in (2000, 5000):
        for require_better in (False, True):
            for on_z in (1.645, 2.326, 3.09, 4.0):
                for margin in (0.0, 0.005, 0.01, 0.02):
                    # For "better", the margin is how much better (lower bound > margin).
                    out.append(GuardSettings(
                        window=window, min_examples=base.min_examples,
                        min_per_class=base.min_per_class, check_every=base.check_every,
                        auc_margin=margin, logloss_margin=base.logloss_margin, on_z=on_z,
                        off_z=base.off_z, require_better=require_better))
    return out


def causal_level_offset(run, window=2000):
    """Per example: mean (backbone - kernel) logit over its domain's previous `window` scored
    examples (training order; no labels needed), 0 for a domain's first example."""
    offset = np.zeros(len(run.ids))
    for domain in run.domain_names:
        rows = np.flatnonzero(run.domains == domain)
        diffs = run.backbone[rows] - run.kernel[rows]
        csum = np.r_[0.0, np.cumsum(diffs)]
        counts = np.arange(len(rows))
        lo = np.maximum(0, counts - window)
        offset[rows] = np.where(counts > 0, (csum[counts] - csum[lo]) / np.maximum(counts - lo, 1), 0.0)
    return offset


ZERO = {"delta": 0.0, "low": 0.0, "high": 0.0}


def sweep(runs, settings_list=None, shift=False, family="margins"):
    print("## guard sweep: served Δ pts [95% CI] (paired bootstrap, 200 resamples within domain, "
          "the doc's seed) and share served by kernel"
          + (" -- kernel logits level-matched to the backbone (causal offset)" if shift else ""))
    print("   (no-harm: turn on when AUC Δ >= 0 and its lower bound at z_on >= -margin, as shipped; "
          "better: turn on when the lower bound > +margin; both keep the log-loss no-harm test; "
          "z_off: turn off on a harm verdict at z_off (shipped 2.326); follow: turn off as soon as "
          "a check does not pass the on rule; confirm z: a pass serves only once the examples "
          "scored after it pass on their own at z (drift.guard_confirm_z); without it the kernel "
          "serves on its first pass, as in the replays)")
    header = "| guard | " + " | ".join(os.path.relpath(r.dir, "/work/main") if r.dir.startswith("/") else r.dir for r in runs) + " |"
    print(header)
    print("|---|" + "---|" * len(runs))
    base = GuardSettings.from_config(runs[0].config)
    results = []
    for settings in (settings_list or sweep_settings(base, family)):
        cells = []
        for run in runs:
            flags = simulate(run, settings)
            kernel = run.kernel + causal_level_offset(run) if shift else run.kernel
            served = np.where(flags, kernel, run.backbone)
            if not (flags & (run.kernel != run.backbone)).any():
                figure = ZERO
            else:
                figure = weighted_delta(run, served)["served"]
            share = (flags & (run.kernel != run.backbone)).mean()
            cells.append(f"{fmt(figure)} {100 * share:.1f}%")
            results.append((settings.label(), run.dir, figure, share))
        print(f"| {settings.label()} | " + " | ".join(cells) + " |", flush=True)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["baseline", "decompose", "transitions", "oracle", "reproduce", "sweep", "all"])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--events")
    parser.add_argument("--offset")
    parser.add_argument("--shift", action="store_true",
                        help="sweep: serve the kernel's logit moved to the backbone's level")
    parser.add_argument("--family", default="margins", choices=["margins", "offrule", "shipped", "confirm", "curse"],
                        help="sweep: z_on x AUC margin x window x (no-harm, better) [margins]; "
                        "z_on x off rule (z_off 2.326/1/0, follow) [offrule]; the run's own "
                        "[shipped]; one pass vs a pass confirmed at drift.guard_confirm_z 1.282 "
                        "(and 2.326, 1.645, 1, 0) [confirm]; other candidates against the "
                        "winner's curse [curse]")
    parser.add_argument("--confirm-z", type=float,
                        help="transitions: replay the guard with drift.guard_confirm_z = Z "
                        "(default: the run's own rule)")
    arguments = parser.parse_args()
    offset = arguments.offset
    if offset is not None and offset.isdigit():
        offset = int(offset)
    runs = [Run(path, arguments.events, offset) for path in arguments.runs]
    if arguments.command in ("baseline", "all"):
        for run in runs:
            baseline(run)
    if arguments.command in ("decompose", "all"):
        for run in runs:
            decompose(run)
            decomposition_intervals(run)
    if arguments.command in ("transitions", "all"):
        for run in runs:
            transitions(run, arguments.confirm_z)
    if arguments.command in ("oracle", "all"):
        for run in runs:
            oracle(run)
    if arguments.command in ("reproduce", "all"):
        for run in runs:
            reproduce(run)
    if arguments.command in ("sweep", "all"):
        sweep(runs, shift=arguments.shift, family=arguments.family)


if __name__ == "__main__":
    main()
