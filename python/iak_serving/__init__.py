"""Reference scorer for iak-stream backbones and IAK kernels.

Everything here follows docs/FORMAT.md of the iak-stream repository: the backbone files, the
feature hash, the forward pass, the kernel files (``iak-kernel/1``), the export index
(``iak-kernel-index/1``) and the kernels topic records. ``Scorer`` computes what
``iak-stream score`` computes; ``iak_serving.nn.ServingModule`` (optional, needs PyTorch) does
the same as an ``nn.Module``.
"""

from .hashing import bucket, fnv1a64
from .safetensors_file import read_metadata
from .backbone import Backbone, EventSchema, FormatError
from .kernels import Kernel, KernelSet
from .scorer import ScoreResult, Scorer

__all__ = [
    "Backbone",
    "EventSchema",
    "FormatError",
    "Kernel",
    "KernelSet",
    "ScoreResult",
    "Scorer",
    "bucket",
    "fnv1a64",
    "read_metadata",
]
__version__ = "1.0.0"
