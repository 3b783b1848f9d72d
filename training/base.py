"""The pretrained base: encoder weights as float16 .npz plus a JSON of tokenizer and config (no pickle)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from serving.intents import FORMAT_VERSION, Preprocessor
from training.architecture import encoder_layers

BASE_CONFIG_FILE = "base.json"


BASE_WEIGHTS_FILE = "encoder.npz"


def weights_fingerprint(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the weights' names, shapes and bytes (the .npz file itself holds zip timestamps)."""
    import hashlib

    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save_base(model: keras.Model, pre: Preprocessor, config: dict[str, Any], directory: Path, info: dict[str, Any]) -> None:
    """Encoder weights as float16 .npz (a few MB, no pickle) plus a JSON with tokenizer and config."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        f"{layer.name}/{i}": np.asarray(w.numpy(), np.float16)
        for layer in encoder_layers(model)
        for i, w in enumerate(layer.weights)
    }
    np.savez_compressed(directory / BASE_WEIGHTS_FILE, **arrays)  # type: ignore[arg-type]  # numpy types **kwds as allow_pickle
    info["weights_sha256"] = weights_fingerprint(arrays)
    meta = {"format_version": FORMAT_VERSION, "config": config, "preprocessor": pre.to_json(), "pretrain": info}
    (directory / BASE_CONFIG_FILE).write_text(json.dumps(meta, indent=1))


@dataclass
class Base:
    preprocessor: Preprocessor
    config: dict[str, Any]
    weights: dict[str, np.ndarray]

    @classmethod
    def load(cls, directory: Path) -> Base:
        from serving.intents import IncompatibleModel

        meta = json.loads((Path(directory) / BASE_CONFIG_FILE).read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise IncompatibleModel(f"base model format {meta.get('format_version')!r} != {FORMAT_VERSION}")
        with np.load(Path(directory) / BASE_WEIGHTS_FILE, allow_pickle=False) as data:
            weights = {k: data[k].astype(np.float32) for k in data.files}
        return cls(Preprocessor.from_json(meta["preprocessor"]), meta["config"], weights)

    def apply(self, model: keras.Model) -> None:
        """Copy the encoder weights into a freshly built model (its head stays new)."""
        for layer in encoder_layers(model):
            layer.set_weights([self.weights[f"{layer.name}/{i}"] for i in range(len(layer.weights))])
