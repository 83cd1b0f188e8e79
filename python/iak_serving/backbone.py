"""The frozen backbone: ``config.json`` + ``model.safetensors`` (docs/FORMAT.md, "The backbone")."""

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from safetensors.numpy import load as load_tensors

from .hashing import bucket as hash_bucket


class FormatError(ValueError):
    """A file does not follow docs/FORMAT.md; the message names the file and what is wrong."""


@dataclass(frozen=True)
class EventSchema:
    """Where an event carries its features (the ``event.*`` keys of pipeline.conf).

    ``categorical_fields`` are the top-level fields read as categorical features
    (``event.categorical_fields``); every field of the ``features_field`` object is a feature too.
    """

    categorical_fields: Tuple[str, ...] = ("user", "item")
    features_field: str = "features"


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, np.float32(0))


class Backbone:
    """Hashed embeddings, a ReLU tower and one logit, as ``iak-stream pretrain`` writes them."""

    FORMAT = "iak-stream-backbone"

    def __init__(self, config: Mapping, tensors: Mapping[str, np.ndarray], sha256: str,
                 source: str = "backbone"):
        self.config = dict(config)
        self.sha256 = sha256
        self.fields: List[str] = list(config["fields"])
        self.numeric_fields: List[str] = list(config.get("numeric_fields", []))
        self.buckets = int(config["buckets"])
        self.embedding_dim = int(config["embedding_dim"])
        self.hidden: List[int] = [int(width) for width in config["hidden"]]
        self.hash_seed = int(config["hash"]["seed"])
        expected = self.expected_shapes()
        for name, shape in expected.items():
            tensor = tensors.get(name)
            if tensor is None:
                raise FormatError(f"{source}: tensor '{name}' is missing (expected {shape})")
            if tensor.dtype != np.float32 or tuple(tensor.shape) != shape:
                raise FormatError(
                    f"{source}: tensor '{name}' is {tensor.dtype} {list(tensor.shape)}, "
                    f"expected float32 {list(shape)}")
        self.embeddings = [np.ascontiguousarray(tensors[f"embedding.{f}"]) for f in self.fields]
        names = [f"hidden{l}" for l in range(1, len(self.hidden) + 1)] + ["output"]
        self.weights = [np.ascontiguousarray(tensors[f"{n}.weight"]) for n in names]
        self.biases = [np.ascontiguousarray(tensors[f"{n}.bias"]) for n in names]
        if self.numeric_fields:
            self.numeric_mean = tensors["numeric.mean"]
            self.numeric_scale = tensors["numeric.scale"]
        else:
            self.numeric_mean = np.zeros(0, np.float32)
            self.numeric_scale = np.zeros(0, np.float32)

    @classmethod
    def load(cls, folder: str) -> "Backbone":
        """Reads ``<folder>/config.json`` and ``<folder>/model.safetensors``.

        Raises ``FormatError`` when they do not follow the format or do not match each other.
        """
        config_path = os.path.join(folder, "config.json")
        weights_path = os.path.join(folder, "model.safetensors")
        with open(config_path, "rb") as handle:
            config = json.load(handle)
        if config.get("format") != cls.FORMAT or config.get("version") != 1:
            raise FormatError(f"{config_path}: format {config.get('format')!r} version "
                              f"{config.get('version')!r}, expected {cls.FORMAT!r} 1")
        hash_spec = config.get("hash", {})
        if hash_spec.get("name") != "fnv1a64":
            raise FormatError(f"{config_path}: hash {hash_spec.get('name')!r} is not fnv1a64")
        if config.get("activation") != "relu":
            raise FormatError(f"{config_path}: activation {config.get('activation')!r}, only relu")
        if config.get("weight_layout", "input x output") != "input x output":
            raise FormatError(f"{config_path}: weight_layout {config.get('weight_layout')!r}")
        with open(weights_path, "rb") as handle:
            data = handle.read()
        return cls(config, load_tensors(data), hashlib.sha256(data).hexdigest(), weights_path)

    # Shapes -------------------------------------------------------------------------------

    @property
    def input_width(self) -> int:
        """Width of ``x0``: one embedding per categorical field, then the numeric fields."""
        return len(self.fields) * self.embedding_dim + len(self.numeric_fields)

    def width(self, level: int) -> int:
        """Width of the representation at ``level`` (0 = ``x0``, l = after hidden layer l)."""
        return self.input_width if level == 0 else self.hidden[level - 1]

    def expected_shapes(self) -> Dict[str, Tuple[int, ...]]:
        """Every tensor ``model.safetensors`` must hold, with its shape."""
        shapes: Dict[str, Tuple[int, ...]] = {
            f"embedding.{f}": (self.buckets, self.embedding_dim) for f in self.fields}
        widths = [self.input_width] + self.hidden + [1]
        for index in range(len(widths) - 1):
            name = f"hidden{index + 1}" if index < len(self.hidden) else "output"
            shapes[f"{name}.weight"] = (widths[index], widths[index + 1])
            shapes[f"{name}.bias"] = (widths[index + 1],)
        if self.numeric_fields:
            shapes["numeric.mean"] = (len(self.numeric_fields),)
            shapes["numeric.scale"] = (len(self.numeric_fields),)
        return shapes

    @staticmethod
    def level(insert_at: str) -> int:
        """The level of an ``insert_at`` name: ``embedding`` 0, ``hiddenN`` N."""
        if insert_at == "embedding":
            return 0
        if insert_at.startswith("hidden") and insert_at[6:].isdigit() and int(insert_at[6:]) >= 1:
            return int(insert_at[6:])
        raise FormatError(f"insert_at {insert_at!r}: expected embedding or hidden1..hiddenL")

    # Inputs -------------------------------------------------------------------------------

    def feature_values(self, event: Mapping, schema: EventSchema = EventSchema()
                       ) -> Tuple[List[str], List[float]]:
        """The categorical values (in field order; "" when missing) and the raw numeric values
        (0 when missing) of one event as iak-stream decodes it."""
        found: Dict[str, object] = {}
        for name in schema.categorical_fields:
            if name in event:
                found[name] = event[name]
        nested = event.get(schema.features_field)
        if isinstance(nested, Mapping):
            for name, value in nested.items():
                found.setdefault(name, value)
        for name in self.numeric_fields:
            if name in event and name not in found:
                found[name] = event[name]
        categorical = [self._text(found.get(field), field) for field in self.fields]
        numeric = [self._number(found.get(field), field) for field in self.numeric_fields]
        return categorical, numeric

    @staticmethod
    def _number(value: object, field: str) -> float:
        if value is None:
            return 0.0
        if isinstance(value, str):
            # A number written as a string: decimal text only, spaces and tabs around it.
            text = value.strip(" \t")
            if not text or any(c not in "0123456789.-+eE" for c in text):
                raise ValueError(f"numeric field '{field}' holds {value!r}, not a decimal number")
            value = float(text)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"numeric field '{field}' holds {value!r}, not a number")
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"numeric field '{field}' is not finite (non_finite_number)")
        return float(value)

    @staticmethod
    def _text(value: object, field: str) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise ValueError(f"categorical field '{field}' holds {value!r}: a string, an integer or "
                         "null is expected (iak-stream rejects the event as wrong_type)")

    def inputs(self, events: Iterable[Mapping], schema: EventSchema = EventSchema()
               ) -> Tuple[np.ndarray, np.ndarray]:
        """Bucket ids ``int64 [B, fields]`` and raw numerics ``float32 [B, numeric]`` of events."""
        rows, numerics = [], []
        for event in events:
            categorical, numeric = self.feature_values(event, schema)
            rows.append(self.bucket_ids(categorical))
            numerics.append(numeric)
        ids = np.asarray(rows, dtype=np.int64).reshape(len(rows), len(self.fields))
        raw = np.asarray(numerics, dtype=np.float32).reshape(len(rows), len(self.numeric_fields))
        return ids, raw

    def bucket_ids(self, categorical: Sequence[str]) -> List[int]:
        """The embedding row of each categorical value (in field order)."""
        return [hash_bucket(field, value, self.buckets, self.hash_seed)
                for field, value in zip(self.fields, categorical)]

    # Forward ------------------------------------------------------------------------------

    def embed(self, bucket_ids: np.ndarray, numerics: Optional[np.ndarray] = None) -> np.ndarray:
        """``x0 = concat(embedding rows, (raw - mean) * scale)``, non-finite numerics as 0."""
        parts = [table[bucket_ids[:, index]] for index, table in enumerate(self.embeddings)]
        if self.numeric_fields:
            raw = np.zeros((bucket_ids.shape[0], len(self.numeric_fields)), np.float32)
            if numerics is not None:
                raw = numerics.astype(np.float32)
            scaled = (raw - self.numeric_mean) * self.numeric_scale
            parts.append(np.where(np.isfinite(scaled), scaled, np.float32(0)).astype(np.float32))
        if not parts:
            return np.zeros((bucket_ids.shape[0], 0), np.float32)
        return np.concatenate(parts, axis=1).astype(np.float32, copy=False)

    def forward(self, x: np.ndarray, from_level: int, to_level: Optional[int] = None
                ) -> np.ndarray:
        """Runs layers ``from_level + 1 .. to_level`` on ``x`` (the representation at
        ``from_level``); ``to_level`` None runs through the output layer and returns the logits
        ``[B]``. Hidden layers apply ReLU; the output layer does not."""
        last = len(self.weights) if to_level is None else to_level
        for index in range(from_level, last):
            x = x @ self.weights[index] + self.biases[index]
            if index < len(self.hidden):
                x = _relu(x)
        return x[:, 0] if to_level is None else x
