"""IAK kernels (``iak-kernel/1``) and kernel sets: from ``kernels export`` folders or from the
kernels topic (docs/FORMAT.md, "Kernels")."""

import json
import os
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from safetensors.numpy import load as load_tensors

from .backbone import FormatError
from .safetensors_file import read_metadata

Headers = Union[Mapping[str, bytes], Sequence[Tuple[str, bytes]], None]

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
SHA12_HEX = re.compile(r"[0-9a-f]{12}")


class Kernel:
    """One domain's kernel: its weights and the metadata it was published with."""

    FORMAT = "iak-kernel/1"

    def __init__(self, domain: str, tensors: Mapping[str, np.ndarray],
                 metadata: Mapping[str, str], source: str = "kernel"):
        self.domain = domain
        self.metadata = dict(metadata)
        self.source = source
        if self.metadata.get("format", self.FORMAT) != self.FORMAT:
            raise FormatError(f"{source}: format {self.metadata.get('format')!r}, "
                              f"expected {self.FORMAT!r}")
        active = self.metadata.get("active")
        if active not in ("true", "false"):
            raise FormatError(f"{source}: metadata 'active' is {active!r}, not 'true' or 'false'")
        self.active = active == "true"
        self.version = int(self.metadata.get("kernel_version", "0"))
        self.backbone_sha256 = self.metadata.get("backbone_sha256")
        self.insert_at = self.metadata.get("insert_at", "hidden1")
        self.examples_seen = int(self.metadata.get("examples_seen", "0"))
        for name in ("encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias"):
            if name not in tensors:
                raise FormatError(f"{source}: tensor '{name}' is missing")
        self.decoder_weight = tensors["decoder.weight"]
        self.decoder_bias = tensors["decoder.bias"]
        self.encoder_weight = tensors["encoder.weight"]
        self.encoder_bias = tensors["encoder.bias"]
        self.hidden_weight = tensors.get("encoder_hidden.weight")
        self.hidden_bias = tensors.get("encoder_hidden.bias")
        self.bottleneck, self.width = self.decoder_weight.shape
        encoder_input = self.width if self.hidden_weight is None else self.hidden_weight.shape[1]
        shapes = {
            "encoder.weight": (self.encoder_weight, (encoder_input, 2 * self.bottleneck)),
            "encoder.bias": (self.encoder_bias, (2 * self.bottleneck,)),
            "decoder.bias": (self.decoder_bias, (self.width,)),
        }
        if self.hidden_weight is not None:
            if self.hidden_bias is None:
                raise FormatError(f"{source}: encoder_hidden.weight without encoder_hidden.bias")
            shapes["encoder_hidden.weight"] = (self.hidden_weight, (self.width, encoder_input))
            shapes["encoder_hidden.bias"] = (self.hidden_bias, (encoder_input,))
        for name, (tensor, shape) in shapes.items():
            if tensor.dtype != np.float32 or tuple(tensor.shape) != shape:
                raise FormatError(f"{source}: tensor '{name}' is {tensor.dtype} "
                                  f"{list(tensor.shape)}, expected float32 {list(shape)}")

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "kernel") -> "Kernel":
        """A kernel from the bytes of a published file or a kernels topic record's value."""
        metadata = read_metadata(data)
        domain = metadata.get("domain")
        if domain is None:
            raise FormatError(f"{source}: metadata 'domain' is missing; is this a kernel file?")
        return cls(domain, load_tensors(bytes(data)), metadata, source)

    @classmethod
    def from_file(cls, path: str) -> "Kernel":
        """A kernel from a published file (``<domain>.safetensors``)."""
        with open(path, "rb") as handle:
            return cls.from_bytes(handle.read(), path)

    def modify(self, h: np.ndarray) -> np.ndarray:
        """``h' = h + decoder(mu)``, with ``mu`` the first half of the encoder output (serving
        uses ``z = mu``; ``log_var``, the second half, is only for training)."""
        encoded = h
        if self.hidden_weight is not None:
            encoded = np.maximum(h @ self.hidden_weight + self.hidden_bias, np.float32(0))
        statistics = encoded @ self.encoder_weight + self.encoder_bias
        mu = statistics[:, : self.bottleneck]
        return h + (mu @ self.decoder_weight + self.decoder_bias)


class KernelSet:
    """The kernel of every domain, as a serving system holds it.

    ``announcements`` lists the backbone announcements (``iak-backbone/1``, the ``.backbone``
    records of the kernels topic) read by ``from_records``, oldest first; it is empty for a set
    built otherwise."""

    INDEX_FORMAT = "iak-kernel-index/1"
    ANNOUNCEMENT_KEY = ".backbone"
    ANNOUNCEMENT_FORMAT = "iak-backbone/1"

    def __init__(self, kernels: Optional[Mapping[str, Kernel]] = None,
                 announcements: Optional[Sequence[Mapping[str, Any]]] = None):
        self.kernels: Dict[str, Kernel] = dict(kernels or {})
        self.announcements: List[Dict[str, Any]] = [dict(a) for a in announcements or []]

    def __len__(self) -> int:
        return len(self.kernels)

    def __contains__(self, domain: str) -> bool:
        return domain in self.kernels

    def __getitem__(self, domain: str) -> Kernel:
        return self.kernels[domain]

    @property
    def active_domains(self):
        """The domains whose kernel serves."""
        return sorted(d for d, k in self.kernels.items() if k.active)

    @classmethod
    def from_export(cls, folder: str) -> "KernelSet":
        """The set ``iak-stream kernels export --out folder`` wrote (``kernels.json`` + files).

        A kernel serves when the index and its file both say ``active``.
        """
        path = os.path.join(folder, "kernels.json")
        with open(path, "rb") as handle:
            index = json.load(handle)
        if index.get("format") != cls.INDEX_FORMAT:
            raise FormatError(f"{path}: format {index.get('format')!r}, "
                              f"expected {cls.INDEX_FORMAT!r}")
        kernels: Dict[str, Kernel] = {}
        for entry in index["kernels"]:
            file = entry["file"]
            if os.path.isabs(file) or ".." in file.split("/"):
                raise FormatError(f"{path}: file {file!r} leaves the index's folder")
            kernel = Kernel.from_file(os.path.join(folder, file))
            if kernel.domain != entry["domain"]:
                raise FormatError(f"{file} holds domain {kernel.domain!r}, the index says "
                                  f"{entry['domain']!r}")
            if kernel.backbone_sha256 != entry["backbone_sha256"]:
                raise FormatError(f"{file}: backbone_sha256 differs from the index's")
            kernel.active = kernel.active and bool(entry["active"])
            kernels[kernel.domain] = kernel
        return cls(kernels)

    @classmethod
    def from_records(cls, records: Iterable[Tuple[Optional[bytes], Optional[bytes], Headers]],
                     backbone_sha256: Optional[str] = None) -> "KernelSet":
        """The set a consumer of the kernels topic holds after ``records`` (in offset order).

        Records are ``(key, value, headers)``; headers as a mapping or a list of
        ``(name, bytes)``. The keys (docs/FORMAT.md, "Kernels" and "During a backbone upgrade"):

        - ``<domain>``: value = the domain's kernel file; the last record of a key wins (what
          compaction keeps), a null value (tombstone) removes the domain.
        - ``<domain>@<sha12>``: a kernel published ahead for the backbone whose sha256 starts
          with ``sha12`` (12 lowercase hex digits); the file's ``domain`` must be the part before
          the ``@`` and its ``backbone_sha256`` must start with ``sha12``. A null value removes
          that entry.
        - ``.backbone``: a backbone announcement, one ``iak-backbone/1`` JSON object; collected,
          oldest first, in ``announcements``. A null value removes the announcements read so far
          (what compaction would leave).

        For both kinds of kernel record an ``iak-version`` header must equal the file's
        ``kernel_version``.

        With ``backbone_sha256`` given, the set is that backbone's: per domain, the newest
        plain-key kernel whose file names that backbone, else the newest kernel published ahead
        for it (a plain-key kernel always wins, whatever the order). Without it, the set is the
        plain-key set: every domain's last plain-key kernel, except, once an announcement has
        been read, those naming another backbone than the newest announcement's (the domains
        the switch retired, to be scored with the new backbone alone). With no announcement,
        every domain's last plain-key kernel, whichever backbone it names.
        """
        latest: Dict[str, Kernel] = {}  # domain -> its last plain-key kernel
        plain: Dict[str, Dict[str, Kernel]] = {}  # domain -> backbone -> newest plain-key kernel
        ahead: Dict[str, Kernel] = {}  # "<domain>@<sha12>" -> its last kernel
        announcements: List[Dict[str, Any]] = []
        for offset, (key, value, headers) in enumerate(records):
            if key is None:
                raise FormatError(f"kernels record {offset}: no key (the key is the domain)")
            name = key.decode("utf-8")
            if name == cls.ANNOUNCEMENT_KEY:
                if value is None:
                    announcements.clear()
                else:
                    announcements.append(cls._announcement(value, offset))
                continue
            if name.startswith("."):
                # Reserved for records of later formats (no domain starts with '.'): skipped.
                continue
            domain, at, sha12 = name.rpartition("@")
            if not at:
                domain, sha12 = name, ""
            elif not domain or not SHA12_HEX.fullmatch(sha12):
                raise FormatError(f"kernels record {offset}: key {name!r} is not "
                                  "'<domain>@<sha12>' (12 lowercase hex digits after the '@')")
            if value is None:
                if sha12:
                    ahead.pop(name, None)
                else:
                    latest.pop(domain, None)
                    plain.pop(domain, None)
                continue
            kernel = Kernel.from_bytes(value, f"kernels record {offset} ({name})")
            if kernel.domain != domain:
                raise FormatError(f"kernels record {offset}: key {name!r} holds a kernel of "
                                  f"{kernel.domain!r}")
            if sha12 and not (kernel.backbone_sha256 or "").startswith(sha12):
                raise FormatError(f"kernels record {offset}: key {name!r} holds a kernel of "
                                  f"backbone {kernel.backbone_sha256!r}, which does not start "
                                  f"with {sha12!r}")
            pairs = headers.items() if isinstance(headers, Mapping) else (headers or [])
            versions = [v for header, v in pairs if header == "iak-version"]
            if versions and int(bytes(versions[-1]).decode()) != kernel.version:
                raise FormatError(f"kernels record {offset}: header iak-version "
                                  f"{bytes(versions[-1]).decode()} but kernel_version "
                                  f"{kernel.version}")
            if sha12:
                ahead[name] = kernel
            else:
                latest[domain] = kernel
                plain.setdefault(domain, {})[kernel.backbone_sha256 or ""] = kernel

        if backbone_sha256 is not None:
            kernels = {domain: by_backbone[backbone_sha256]
                       for domain, by_backbone in plain.items()
                       if backbone_sha256 in by_backbone}
            for kernel in ahead.values():
                if kernel.backbone_sha256 == backbone_sha256:
                    kernels.setdefault(kernel.domain, kernel)
        elif announcements:
            current = announcements[-1]["backbone_sha256"]
            kernels = {d: k for d, k in latest.items() if k.backbone_sha256 == current}
        else:
            kernels = latest
        return cls(kernels, announcements)

    @classmethod
    def _announcement(cls, value: bytes, offset: int) -> Dict[str, Any]:
        """The ``iak-backbone/1`` object of a ``.backbone`` record's value."""
        source = f"kernels record {offset} ({cls.ANNOUNCEMENT_KEY})"
        try:
            announcement = json.loads(bytes(value).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise FormatError(f"{source}: not a JSON document ({error})") from None
        if not isinstance(announcement, dict):
            raise FormatError(f"{source}: not a JSON object")
        if announcement.get("format") != cls.ANNOUNCEMENT_FORMAT:
            raise FormatError(f"{source}: format {announcement.get('format')!r}, "
                              f"expected {cls.ANNOUNCEMENT_FORMAT!r}")
        sha256 = announcement.get("backbone_sha256")
        if not isinstance(sha256, str) or not SHA256_HEX.fullmatch(sha256):
            raise FormatError(f"{source}: backbone_sha256 is {sha256!r}, not 64 lowercase hex "
                              "digits")
        switched_at = announcement.get("switched_at", {})
        if not isinstance(switched_at, dict) or not all(
                isinstance(o, int) and not isinstance(o, bool) for o in switched_at.values()):
            raise FormatError(f"{source}: switched_at is {switched_at!r}, not an object of "
                              "partition -> offset")
        return announcement
