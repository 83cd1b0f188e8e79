"""Reading a safetensors document's ``__metadata__`` (the ``safetensors`` package loads the
tensors; its numpy loader does not return the metadata)."""

import json
import struct
from typing import Dict, Union


def read_metadata(data: Union[bytes, bytearray, memoryview]) -> Dict[str, str]:
    """The ``__metadata__`` string map of a safetensors document given as bytes."""
    if len(data) < 8:
        raise ValueError("not a safetensors document: fewer than 8 bytes")
    (length,) = struct.unpack("<Q", bytes(data[:8]))
    if length > len(data) - 8:
        raise ValueError(f"not a safetensors document: header of {length} bytes is cut off")
    header = json.loads(bytes(data[8 : 8 + length]).decode("utf-8"))
    metadata = header.get("__metadata__") or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError("safetensors __metadata__ must map strings to strings")
    return dict(metadata)
