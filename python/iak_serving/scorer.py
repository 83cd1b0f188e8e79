"""Scoring mixed-domain batches with domain activation (docs/FORMAT.md, "What serving computes")."""

from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

from .backbone import Backbone, EventSchema, FormatError
from .kernels import KernelSet


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """The logistic function in float32, stable for large |logit|."""
    logits = logits.astype(np.float32)
    positive = logits >= 0
    result = np.empty_like(logits)
    result[positive] = 1 / (1 + np.exp(-logits[positive]))
    exp = np.exp(logits[~positive])
    result[~positive] = exp / (1 + exp)
    return result


@dataclass
class ScoreResult:
    """Per example: the served probability, the backbone's, the kernel's (NaN without a kernel)
    and whether the served one is the kernel's."""

    score: np.ndarray
    backbone_score: np.ndarray
    kernel_score: np.ndarray
    used_kernel: np.ndarray


class Scorer:
    """Scores events of many domains in one pass: the layers below the insertion point once for
    the whole batch, each domain's kernel on its rows, the layers above once for the batch."""

    def __init__(self, backbone: Backbone, kernels: Optional[KernelSet] = None,
                 allow_other_backbone: bool = False):
        self.backbone = backbone
        self.kernels = kernels or KernelSet()
        foreign = sorted(d for d, k in self.kernels.kernels.items()
                         if k.backbone_sha256 != backbone.sha256)
        if foreign and not allow_other_backbone:
            raise FormatError(
                f"{len(foreign)} kernel(s) ({', '.join(foreign[:3])}) were trained on another "
                f"backbone than {backbone.sha256}; load theirs or pass allow_other_backbone=True")
        levels = {Backbone.level(k.insert_at) for k in self.kernels.kernels.values()}
        if len(levels) > 1:
            raise FormatError(f"kernels inserted at different levels: {sorted(levels)}")
        self.level = levels.pop() if levels else 1 if backbone.hidden else 0
        if self.level > len(backbone.hidden):
            raise FormatError(f"insert level {self.level}: the backbone has "
                              f"{len(backbone.hidden)} hidden layers")
        width = backbone.width(self.level)
        for domain, kernel in self.kernels.kernels.items():
            if kernel.width != width:
                raise FormatError(f"kernel of {domain!r} has width {kernel.width}, the backbone "
                                  f"has {width} at level {self.level}")

    def score(self, events: Iterable[Mapping], domains: Sequence[str],
              schema: EventSchema = EventSchema()) -> ScoreResult:
        """Scores decoded JSON events (dicts), the i-th in ``domains[i]``."""
        bucket_ids, numerics = self.backbone.inputs(events, schema)
        return self.score_inputs(bucket_ids, numerics, domains)

    def score_inputs(self, bucket_ids: np.ndarray, numerics: Optional[np.ndarray],
                     domains: Sequence[str]) -> ScoreResult:
        """Scores rows given as bucket ids ``[B, fields]`` and raw numerics ``[B, numeric]``."""
        domains = list(domains)
        if len(domains) != bucket_ids.shape[0]:
            raise ValueError(f"{bucket_ids.shape[0]} rows but {len(domains)} domains")
        x0 = self.backbone.embed(bucket_ids, numerics)
        h = self.backbone.forward(x0, 0, self.level)
        backbone_logits = self.backbone.forward(h, self.level)
        modified = h.copy()
        has_kernel = np.zeros(len(domains), bool)
        used = np.zeros(len(domains), bool)
        names = np.asarray(domains, dtype=object)
        for domain in set(domains):
            kernel = self.kernels.kernels.get(domain)
            if kernel is None:
                continue
            rows = np.nonzero(names == domain)[0]
            modified[rows] = kernel.modify(h[rows])
            has_kernel[rows] = True
            used[rows] = kernel.active
        kernel_logits = self.backbone.forward(modified, self.level)
        backbone_score = sigmoid(backbone_logits)
        kernel_score = np.where(has_kernel, sigmoid(kernel_logits), np.float32(np.nan))
        return ScoreResult(
            score=np.where(used, kernel_score, backbone_score).astype(np.float32),
            backbone_score=backbone_score, kernel_score=kernel_score.astype(np.float32),
            used_kernel=used)
