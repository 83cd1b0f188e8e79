"""Checks ``KernelSet.from_records`` on the kernels topic during a backbone upgrade
(docs/FORMAT.md, "During a backbone upgrade"), on records built here: no iak-stream output needed.

    python3 upgrade_records.py

Prints one JSON object with what it checked; exits 1 with the reason when a check fails.
``serving_contract.py`` runs it too (``check()``).
"""

import json
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from safetensors.numpy import save as save_tensors

import iak_serving as iak

OLD = "a" * 64  # the backbone before the switch
NEW = "b1" + "c" * 62  # the backbone switched to
OTHER = "b1" + "d" * 62  # shares nothing with NEW beyond "b1": a different sha12
WIDTH, BOTTLENECK = 4, 2

Record = Tuple[bytes, Optional[bytes], List[Tuple[str, bytes]]]


class CheckFailed(Exception):
    """One of the checks below did not hold."""


def kernel_file(domain: str, backbone_sha256: str, version: int, bias: float,
                active: bool = True) -> bytes:
    """An ``iak-kernel/1`` file whose ``decoder.bias`` is all ``bias`` (tells kernels apart)."""
    tensors = {
        "encoder.weight": np.full((WIDTH, 2 * BOTTLENECK), 0.25, np.float32),
        "encoder.bias": np.zeros(2 * BOTTLENECK, np.float32),
        "decoder.weight": np.full((BOTTLENECK, WIDTH), 0.5, np.float32),
        "decoder.bias": np.full(WIDTH, bias, np.float32),
    }
    metadata = {
        "format": "iak-kernel/1", "domain": domain, "kernel_version": str(version),
        "active": "true" if active else "false", "backbone_sha256": backbone_sha256,
        "insert_at": "hidden1", "bottleneck": str(BOTTLENECK), "encoder_hidden": "0",
        "examples_seen": str(10 * version), "snapshot_version": "1",
        "created_at_ms": "1700000000000",
    }
    return save_tensors(tensors, metadata=metadata)


def kernel(key: str, domain: str, backbone_sha256: str, version: int, bias: float) -> Record:
    """A kernel record under ``key``, with its ``iak-version`` header."""
    return (key.encode(), kernel_file(domain, backbone_sha256, version, bias),
            [("iak-version", str(version).encode())])


def announcement(backbone_sha256: str, previous: str = OLD, **changes) -> Record:
    """A ``.backbone`` record announcing a switch to ``backbone_sha256``."""
    value = {
        "format": "iak-backbone/1", "backbone_sha256": backbone_sha256,
        "backbone_dir": "/shared/backbones/1998-03", "previous_backbone_sha256": previous,
        "switched_at": {"events/0": 1200, "events/1": 1187}, "snapshot_version": 42,
        "created_at_ms": 1700000000000,
    }
    value.update(changes)
    value = {k: v for k, v in value.items() if v is not None}
    return (b".backbone", json.dumps(value, separators=(",", ":")).encode(), [])


def biases(kernels: iak.KernelSet) -> Dict[str, Tuple[str, int, float]]:
    """Per domain: the backbone (first 4 hex digits), version and bias of its kernel."""
    return {domain: (k.backbone_sha256[:4], k.version, round(float(k.decoder_bias[0]), 4))
            for domain, k in sorted(kernels.kernels.items())}


def expect(what: str, got, wanted) -> None:
    if got != wanted:
        raise CheckFailed(f"{what}: got {got!r}, expected {wanted!r}")


def refused(what: str, records: Sequence[Record], offset: int, words: str,
            backbone_sha256: Optional[str] = None) -> str:
    """Checks that ``records`` are refused with a FormatError naming ``offset`` and ``words``."""
    try:
        iak.KernelSet.from_records(records, backbone_sha256)
    except iak.FormatError as error:
        message = str(error)
        if f"kernels record {offset}" not in message or words not in message:
            raise CheckFailed(f"{what}: refused with {message!r}, which does not name record "
                              f"{offset} and {words!r}") from None
        return message
    raise CheckFailed(f"{what}: accepted")


def check() -> Dict[str, object]:
    """Runs every check; returns what was checked. Raises CheckFailed."""
    ahead_key = "1998-03/4@" + NEW[:12]
    # The topic through a switch from OLD to NEW: three domains on OLD; kernels published ahead
    # for NEW (1998-03/4 twice, 1998-03/5 once, 1998-03/6 once); the switch; 1998-03/4 trained on
    # NEW under its plain key (newer than its ahead record), 1998-03/5 not (the switch retired
    # it); one more ahead record of 1998-03/4 after its plain one (plain must still win); then
    # the announcement.
    records: List[Record] = [
        kernel("1998-03/4", "1998-03/4", OLD, 3, 0.1),                     # 0
        kernel("1998-03/5", "1998-03/5", OLD, 2, 0.2),                     # 1
        kernel("1998-03/6", "1998-03/6", OLD, 1, 0.3),                     # 2
        kernel(ahead_key, "1998-03/4", NEW, 40, 1.1),                      # 3
        kernel("1998-03/5@" + NEW[:12], "1998-03/5", NEW, 50, 1.2),        # 4
        kernel(ahead_key, "1998-03/4", NEW, 41, 1.4),                      # 5: newer ahead
        kernel("1998-03/6@" + NEW[:12], "1998-03/6", NEW, 60, 1.3),        # 6
        kernel("1998-03/4", "1998-03/4", NEW, 42, 2.1),                    # 7: after the switch
        kernel(ahead_key, "1998-03/4", NEW, 43, 1.5),                      # 8: late ahead
        kernel("1998-03/6", "1998-03/6", NEW, 61, 2.3),                    # 9
        announcement(NEW),                                                 # 10
    ]
    before_switch = records[:7]
    report: Dict[str, object] = {"ok": True, "records": len(records)}

    # 1. The announcement is read, as written.
    topic = iak.KernelSet.from_records(records)
    expect("announcements", len(topic.announcements), 1)
    read = topic.announcements[0]
    expect("announcement backbone", read["backbone_sha256"], NEW)
    expect("announcement previous backbone", read["previous_backbone_sha256"], OLD)
    expect("announcement switched_at", read["switched_at"], {"events/0": 1200, "events/1": 1187})
    expect("announcement snapshot_version", read["snapshot_version"], 42)
    expect("announcement created_at_ms", read["created_at_ms"], 1700000000000)
    expect("announcement backbone_dir", read["backbone_dir"], "/shared/backbones/1998-03")
    expect("announcements of an export", iak.KernelSet().announcements, [])
    report["announcement"] = read

    # 2. The default set: the plain keys naming the newest announcement's backbone; 1998-03/5
    # (still on OLD: retired by the switch) is left out, ahead records never count.
    expect("default set after the switch", biases(topic),
           {"1998-03/4": ("b1cc", 42, 2.1), "1998-03/6": ("b1cc", 61, 2.3)})
    report["default_after_switch"] = sorted(topic.kernels)

    # 3. NEW's set: plain keys win over ahead records (before or after them); a domain with no
    # plain-key kernel of NEW takes its newest ahead record.
    new = iak.KernelSet.from_records(records, NEW)
    expect("NEW's set", biases(new), {"1998-03/4": ("b1cc", 42, 2.1),
                                      "1998-03/5": ("b1cc", 50, 1.2),
                                      "1998-03/6": ("b1cc", 61, 2.3)})
    expect("NEW's set, announcements", len(new.announcements), 1)
    # The plain record first and the ahead records after it: the plain one still wins.
    reordered = [records[7], records[3], records[5], records[8]]
    expect("plain before ahead", biases(iak.KernelSet.from_records(reordered, NEW)),
           {"1998-03/4": ("b1cc", 42, 2.1)})
    # Before the switch: NEW's set is the ahead records (the newest per domain) ...
    expect("NEW's set ahead of the switch", biases(iak.KernelSet.from_records(before_switch, NEW)),
           {"1998-03/4": ("b1cc", 41, 1.4), "1998-03/5": ("b1cc", 50, 1.2),
            "1998-03/6": ("b1cc", 60, 1.3)})
    # ... and OLD's set is its plain keys, which a later plain record of NEW does not change.
    expect("OLD's set", biases(iak.KernelSet.from_records(records, OLD)),
           {"1998-03/4": ("aaaa", 3, 0.1), "1998-03/5": ("aaaa", 2, 0.2),
            "1998-03/6": ("aaaa", 1, 0.3)})
    expect("a backbone with no kernel", len(iak.KernelSet.from_records(records, OTHER)), 0)
    report["new_backbone"] = {d: v for d, (_, v, _) in biases(new).items()}

    # 4. Tombstones: under a plain key it removes the domain's plain kernels (the ahead one
    # then serves NEW); under an ahead key only that ahead kernel.
    tombstones = records + [(b"1998-03/4", None, []), (ahead_key.encode(), None, [])]
    expect("default set after tombstones", sorted(iak.KernelSet.from_records(tombstones).kernels),
           ["1998-03/6"])
    expect("NEW's set after a plain tombstone",
           biases(iak.KernelSet.from_records(records + [(b"1998-03/4", None, [])], NEW)),
           {"1998-03/4": ("b1cc", 43, 1.5), "1998-03/5": ("b1cc", 50, 1.2),
            "1998-03/6": ("b1cc", 61, 2.3)})
    expect("NEW's set after both tombstones",
           sorted(iak.KernelSet.from_records(tombstones, NEW).kernels), ["1998-03/5", "1998-03/6"])

    # 5. The newest announcement decides the default set (a switch back to OLD).
    back = records + [kernel("1998-03/5", "1998-03/5", OLD, 3, 0.25), announcement(OLD, NEW)]
    switched_back = iak.KernelSet.from_records(back)
    expect("announcements after a switch back", [a["backbone_sha256"] for a in
                                                 switched_back.announcements], [NEW, OLD])
    expect("default set after a switch back", biases(switched_back),
           {"1998-03/5": ("aaaa", 3, 0.25)})
    # A tombstone under .backbone removes the announcements read so far.
    cleared = iak.KernelSet.from_records(records + [(b".backbone", None, [])])
    expect("announcements after a .backbone tombstone", cleared.announcements, [])
    expect("default set after a .backbone tombstone", sorted(cleared.kernels),
           ["1998-03/4", "1998-03/5", "1998-03/6"])

    # 6. Without an announcement the default set is what it always was: every plain key's last
    # kernel, whichever backbone it names; ahead records are read (and checked) but left out.
    plain_only = [r for r in records if b"@" not in r[0] and r[0] != b".backbone"]
    old_way = legacy_from_records(plain_only)
    unannounced = iak.KernelSet.from_records(records[:-1])
    expect("no announcement, plain keys only", biases(iak.KernelSet.from_records(plain_only)),
           biases(old_way))
    expect("no announcement, with ahead records", biases(unannounced), biases(old_way))
    expect("no announcement: domains in the same order", list(unannounced.kernels),
           list(old_way.kernels))
    expect("no announcement, announcements", unannounced.announcements, [])
    expect("no announcement, the set", biases(unannounced),
           {"1998-03/4": ("b1cc", 42, 2.1), "1998-03/5": ("aaaa", 2, 0.2),
            "1998-03/6": ("b1cc", 61, 2.3)})

    # 7. What is refused, naming the record.
    refusals = {
        "sha12 of another backbone": refused(
            "an ahead key whose sha12 is not its file's backbone",
            [records[0], kernel("1998-03/4@" + OTHER[:12], "1998-03/4", NEW, 40, 1.1)], 1,
            "does not start with"),
        "domain of another key": refused(
            "an ahead key holding another domain's kernel",
            [kernel("1998-03/5@" + NEW[:12], "1998-03/4", NEW, 40, 1.1)], 0,
            "holds a kernel of '1998-03/4'"),
        "sha12 not 12 lowercase hex": refused(
            "an ahead key with an uppercase sha12",
            [kernel("1998-03/4@" + NEW[:12].upper(), "1998-03/4", NEW, 40, 1.1)], 0,
            "12 lowercase hex"),
        "ahead iak-version": refused(
            "an ahead record whose iak-version differs from its kernel_version",
            [(ahead_key.encode(), kernel_file("1998-03/4", NEW, 40, 1.1),
              [("iak-version", b"39")])], 0, "iak-version 39"),
        "announcement format": refused(
            "an announcement of another format",
            records[:2] + [announcement(NEW, format="iak-backbone/2")], 2, "iak-backbone/2"),
        "announcement without backbone": refused(
            "an announcement without backbone_sha256",
            [announcement(None)], 0, "backbone_sha256"),
        "announcement short backbone": refused(
            "an announcement with a 12-digit backbone_sha256",
            [announcement(NEW[:12])], 0, "backbone_sha256"),
        "announcement not JSON": refused(
            "an announcement that is not JSON",
            [records[0], (b".backbone", b"iak-backbone/1 " + NEW.encode(), [])], 1, "JSON"),
        "announcement not an object": refused(
            "an announcement that is a JSON array",
            [(b".backbone", b"[]", [])], 0, "JSON object"),
        "announcement switched_at": refused(
            "an announcement whose switched_at is a list",
            [announcement(NEW, switched_at=[1200])], 0, "switched_at"),
    }
    # A key starting with '.' other than .backbone is reserved for later records: skipped.
    reserved = iak.KernelSet.from_records(records + [(b".later", b"{}", [])])
    expect("a reserved '.' key is skipped", biases(reserved), biases(
        iak.KernelSet.from_records(records)))
    # Refused with a backbone given too (the records are checked whatever the set asked for).
    refused("a wrong sha12 when NEW's set is asked for",
            [kernel("1998-03/4@" + OTHER[:12], "1998-03/4", NEW, 40, 1.1)], 0,
            "does not start with", NEW)
    report["refused"] = refusals
    return report


def legacy_from_records(records: Sequence[Record]) -> iak.KernelSet:
    """What ``from_records`` computed before backbone upgrades (plain keys only): key = domain,
    the last record of a key wins, a null value removes the domain."""
    kernels: Dict[str, iak.Kernel] = {}
    for offset, (key, value, _) in enumerate(records):
        if value is None:
            kernels.pop(key.decode(), None)
        else:
            kernels[key.decode()] = iak.Kernel.from_bytes(value, f"record {offset}")
    return iak.KernelSet(kernels)


def main() -> None:
    try:
        report = check()
    except CheckFailed as failure:
        print(json.dumps({"ok": False, "error": str(failure)}))
        sys.exit(1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
