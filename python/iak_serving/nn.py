"""A PyTorch ``nn.Module`` that scores mixed-domain batches with domain activation (the paper's
"parallel inference with domain activation"): one pass over the batch, each row modified by the
kernel of its own domain, gathered by domain index. Needs ``pip install iak-serving[torch]``."""

from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .backbone import Backbone, FormatError
from .kernels import KernelSet


class ServingModule(nn.Module):
    """A backbone plus a kernel set, as buffers (nothing here is trained).

    ``forward(bucket_ids, numerics, domain_ids)`` returns the served, backbone and kernel
    probabilities; ``domain_ids[i]`` indexes ``self.domains`` (``-1``: no kernel, the backbone
    alone). A kernel serves a row only when its domain is active (``self.active``).
    """

    def __init__(self, backbone: Backbone, kernels: Optional[KernelSet] = None,
                 allow_other_backbone: bool = False):
        super().__init__()
        kernels = kernels or KernelSet()
        foreign = [d for d, k in kernels.kernels.items() if k.backbone_sha256 != backbone.sha256]
        if foreign and not allow_other_backbone:
            raise FormatError(f"{len(foreign)} kernel(s) ({', '.join(sorted(foreign)[:3])}) "
                              f"were trained on another backbone than {backbone.sha256}")
        levels = {Backbone.level(k.insert_at) for k in kernels.kernels.values()}
        if len(levels) > 1:
            raise FormatError(f"kernels inserted at different levels: {sorted(levels)}")
        self.level = levels.pop() if levels else min(1, len(backbone.hidden))
        self.hidden_count = len(backbone.hidden)
        self.register_buffer("embeddings", torch.from_numpy(np.stack(backbone.embeddings))
                             if backbone.embeddings else torch.zeros(0, 1, 1))
        for index, (weight, bias) in enumerate(zip(backbone.weights, backbone.biases)):
            self.register_buffer(f"weight{index}", torch.from_numpy(weight.copy()))
            self.register_buffer(f"bias{index}", torch.from_numpy(bias.copy()))
        self.register_buffer("numeric_mean", torch.from_numpy(backbone.numeric_mean.copy()))
        self.register_buffer("numeric_scale", torch.from_numpy(backbone.numeric_scale.copy()))
        self.domains: List[str] = sorted(kernels.kernels)
        self.index = {domain: position for position, domain in enumerate(self.domains)}
        stacked = [kernels[d] for d in self.domains]
        width = backbone.width(self.level)
        bottleneck = stacked[0].bottleneck if stacked else 1
        hidden = stacked[0].hidden_weight.shape[1] if stacked and stacked[0].hidden_weight is not None else 0
        if any(k.width != width or k.bottleneck != bottleneck for k in stacked):
            raise FormatError("every kernel must have the backbone's width at its level and one "
                              "bottleneck width")

        def stack(name, shape):
            if not stacked:
                return torch.zeros((0,) + shape)
            return torch.from_numpy(np.stack([getattr(k, name) for k in stacked]))

        encoder_input = hidden or width
        self.register_buffer("encoder_weight", stack("encoder_weight", (encoder_input, 2 * bottleneck)))
        self.register_buffer("encoder_bias", stack("encoder_bias", (2 * bottleneck,)))
        self.register_buffer("decoder_weight", stack("decoder_weight", (bottleneck, width)))
        self.register_buffer("decoder_bias", stack("decoder_bias", (width,)))
        self.encoder_hidden = hidden
        if hidden:
            self.register_buffer("hidden_weight", stack("hidden_weight", (width, hidden)))
            self.register_buffer("hidden_bias", stack("hidden_bias", (hidden,)))
        self.register_buffer("active", torch.tensor([k.active for k in stacked], dtype=torch.bool))
        self.bottleneck = bottleneck

    def domain_ids(self, domains: Sequence[str]) -> torch.Tensor:
        """The kernel index of each domain (``-1`` for a domain without a kernel)."""
        return torch.tensor([self.index.get(d, -1) for d in domains], dtype=torch.long)

    def used_kernel(self, domains: Sequence[str]) -> np.ndarray:
        """Whether each domain's kernel serves."""
        ids = self.domain_ids(domains)
        return ((ids >= 0) & self.active[ids.clamp(min=0)]).numpy() if len(self.domains) else \
            np.zeros(len(domains), bool)

    def _layers(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        for index in range(start, stop):
            x = x @ getattr(self, f"weight{index}") + getattr(self, f"bias{index}")
            if index < self.hidden_count:
                x = torch.relu(x)
        return x

    def forward(self, bucket_ids: torch.Tensor, numerics: torch.Tensor,
                domain_ids: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        parts = [self.embeddings[field][bucket_ids[:, field]]
                 for field in range(bucket_ids.shape[1])]
        if self.numeric_mean.numel():
            scaled = (numerics - self.numeric_mean) * self.numeric_scale
            parts.append(torch.where(torch.isfinite(scaled), scaled, torch.zeros_like(scaled)))
        x0 = torch.cat(parts, dim=1)
        h = self._layers(x0, 0, self.level)
        backbone_logit = self._layers(h, self.level, self.hidden_count + 1)[:, 0]
        has_kernel = domain_ids >= 0
        if not len(self.domains):
            probability = torch.sigmoid(backbone_logit)
            return probability, probability, torch.full_like(probability, float("nan"))
        ids = domain_ids.clamp(min=0)
        encoded = h
        if self.encoder_hidden:
            encoded = torch.relu(
                torch.bmm(h.unsqueeze(1), self.hidden_weight[ids]).squeeze(1) + self.hidden_bias[ids])
        statistics = torch.bmm(encoded.unsqueeze(1), self.encoder_weight[ids]).squeeze(1) \
            + self.encoder_bias[ids]
        mu = statistics[:, : self.bottleneck]
        delta = torch.bmm(mu.unsqueeze(1), self.decoder_weight[ids]).squeeze(1) + self.decoder_bias[ids]
        modified = torch.where(has_kernel.unsqueeze(1), h + delta, h)
        kernel_logit = self._layers(modified, self.level, self.hidden_count + 1)[:, 0]
        backbone_probability = torch.sigmoid(backbone_logit)
        kernel_probability = torch.where(
            has_kernel, torch.sigmoid(kernel_logit), torch.full_like(kernel_logit, float("nan")))
        served = torch.where(has_kernel & self.active[ids], kernel_probability, backbone_probability)
        return served, backbone_probability, kernel_probability

    @torch.no_grad()
    def score(self, bucket_ids: np.ndarray, numerics: np.ndarray, domains: Sequence[str]
              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores numpy inputs (see ``Backbone.inputs``); returns numpy arrays."""
        served, backbone, kernel = self.forward(
            torch.from_numpy(np.ascontiguousarray(bucket_ids)),
            torch.from_numpy(np.ascontiguousarray(numerics, dtype=np.float32)),
            self.domain_ids(domains))
        return served.numpy(), backbone.numpy(), kernel.numpy()
