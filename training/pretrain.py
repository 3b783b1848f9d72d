"""Pretrain the base encoder on the public intent corpus (reproducible: `manage.py pretrain`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from training.dataset import pretraining_corpus
from training.architecture import DEFAULT_CONFIG, build_model, build_vocab
from training.fit import OOS_LABEL, Progress, train_epochs
from training.base import save_base


def pretrain(
    data_dir: Path, out_dir: Path, *, epochs: int = 6, seed: int = 0, progress: Progress | None = None
) -> dict[str, Any]:
    """Train the encoder on all pretraining classes (one head over both datasets + out-of-scope).

    1. Read the training splits only (never BANKING77 test or CLINC150 val), less the rows that
       fine-tuning on them holds out for calibration.
    2. Build the word vocabulary from them (the char-trigram hashing needs none).
    3. Train the whole model; keep the encoder (float16 .npz) and drop the head.
    """
    import keras

    started = time.monotonic()
    report = progress or (lambda message, fraction: None)
    keras.utils.set_random_seed(seed)
    texts, intents = pretraining_corpus(data_dir)
    classes = sorted({i for i in intents if i is not None}) + [OOS_LABEL]
    index = {c: k for k, c in enumerate(classes)}
    y = np.array([index[i if i is not None else OOS_LABEL] for i in intents], np.int64)

    from serving.intents import Preprocessor

    pre = Preprocessor(build_vocab(texts))
    x = pre.encode_batch(texts)
    config = dict(DEFAULT_CONFIG)
    # No wide head here: the encoder alone must carry the signal that deployments transfer.
    model = build_model(pre, len(classes), config, wide=False)
    train_epochs(
        model, x, y, epochs=epochs, lr=3e-3, seed=seed, word_dropout=config["word_dropout"],
        on_epoch=lambda e: report(f"pretrain epoch {e + 1}/{epochs}", (e + 1) / epochs),
    )
    info = {
        "n_texts": len(texts),
        "n_classes": len(classes),
        "vocab_size": pre.vocab_size,
        "epochs": epochs,
        "seed": seed,
        "seconds": round(time.monotonic() - started, 1),
        "corpus": "banking77/train.csv + clinc150 train + oos_train (less their holdout_split held-out "
                  "rows) + wiki_sentences (as out-of-scope)",
    }
    save_base(model, pre, config, Path(out_dir), info)
    sizes = {p.name: p.stat().st_size for p in Path(out_dir).iterdir()}
    return {**info, "files": sizes}
