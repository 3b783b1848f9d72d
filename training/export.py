"""Export a trained Keras intent model to the quantized TFLite bundle that serving/intents.py serves."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any


import numpy as np  # noqa: E402

from training.fit import TrainedIntentModel
from training.architecture import BAG_TABLE, build_model, predict_logits
from training.calibration import softmax
from serving.intents import (  # noqa: E402
    BATCH_SIZE,
    BATCH_TFLITE_PATTERN,
    SINGLE_TFLITE_PATTERN,
    FORMAT_VERSION,
    LABELS_FILE,
    THRESHOLDS_FILE,
    TFLITE_FILE,
    TOKENIZER_FILE,
    SHORT_STEPS,
    IntentModel,
    Preprocessor,
    batch_steps,
    single_steps,
    normalize,
)


class ExportError(Exception):
    """The converted model is not fit to serve (weightless, or disagrees with Keras)."""


def model_config(keras_model: Any) -> dict[str, Any]:
    """Recover the architecture hyperparameters from a built model (dropout is irrelevant at serving)."""
    return {
        "emb_dim": keras_model.get_layer("word_emb").output_dim,
        "units": keras_model.get_layer("lstm_fwd").units,
        "proj_dim": keras_model.get_layer("proj").units,
        "dropout": 0.0,
    }


def _probe_texts(preprocessor: Preprocessor, n: int = 200, seed: int = 0, words: tuple[int, int] = (2, 15)) -> list[str]:
    """Word-salad sentences from the vocabulary, when the caller has no real texts to check with."""
    rng = np.random.default_rng(seed)
    vocab = preprocessor.vocab[:3000] or ["hello"]
    return [" ".join(rng.choice(vocab, size=int(rng.integers(*words)))) for _ in range(n)]


def _convert(
    keras_model: Any, preprocessor: Preprocessor, temperature: float, quantize: bool, batch: int = 1,
    steps: int | None = None,
) -> bytes:
    """Rebuild the model with a static (batch, steps) signature, save it, convert the SavedModel.

    The LSTM only converts to builtin ops with a static batch size, so the serving endpoint has a
    fixed input signature; converting the SavedModel (not the Keras object) keeps the weights.
    """
    import tensorflow as tf


    n_classes = keras_model.get_layer("head").units
    wide = any(layer.name == "head_wide" for layer in keras_model.layers)
    steps = steps or preprocessor.max_len
    serving = build_model(preprocessor, n_classes, model_config(keras_model), steps=steps, batch=batch, wide=wide,
                          bag_table=True)
    for layer in keras_model.layers:
        if layer.weights:
            serving.get_layer(layer.name).set_weights(layer.get_weights())
    # The sentence n-grams' own copy of the hashed table (architecture.build_model: TFLite then
    # gathers both in int8). Identical constants are merged by the converter, so the copy's row 0,
    # padding that every mean masks out, is negated: it then differs, with the same largest
    # magnitude, hence the same int8 scale and the same values everywhere else.
    table = np.array(keras_model.get_layer("hash_emb").get_weights()[0])
    table[0] = -table[0] if np.any(table[0]) else table[1]
    serving.get_layer(BAG_TABLE).set_weights([table])
    p = preprocessor
    signature = [
        tf.TensorSpec((batch, steps), tf.int32, name="words"),
        tf.TensorSpec((batch, steps, p.max_sub), tf.int32, name="subwords"),
        tf.TensorSpec((batch, p.max_bag), tf.int32, name="bag"),
    ]

    import keras

    def serve(words: Any, subwords: Any, bag: Any) -> dict[str, Any]:
        out = serving({"words": words, "subwords": subwords, "bag": bag}, training=False)
        return {
            "probs": tf.nn.softmax(out["logits"] / temperature),
            "embedding": tf.math.l2_normalize(out["embedding"], axis=-1),
        }

    # ExportArchive tracks the Keras 3 variables; a plain tf.Module holding the model does not, and
    # its SavedModel converts to the weightless ~50 KB model STYLE §19 warns about.
    archive = keras.export.ExportArchive()
    archive.track(serving)
    archive.add_endpoint("serve", serve, input_signature=signature)
    with tempfile.TemporaryDirectory() as tmp:
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serve"])
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic-range int8 weights
        return converter.convert()


def export_intent_model(
    keras_model: Any,
    preprocessor: Preprocessor,
    labels: list[str],
    thresholds: dict[str, Any],
    directory: Path,
    *,
    check_texts: list[str] | None = None,
    quantize: bool = True,
) -> dict[str, Any]:
    """Write model.tflite, the shorter one-text and the batch graphs, tokenizer.json, labels.json and thresholds.json.

    `labels` is the head's class order. `thresholds` holds "default" and "per_intent", and may
    carry "oos_index" (the out-of-scope class in `labels`) and "temperature" (baked into the graph).
    Raises ExportError if the converted model is suspiciously small, disagrees with Keras, or its
    shorter or batch graphs disagree with the full-length one-text graph.
    """

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    temperature = float(thresholds.get("temperature", 1.0))
    oos_index = thresholds.get("oos_index")
    blob = _convert(keras_model, preprocessor, temperature, quantize)

    # One conversion route silently writes a weightless ~26 KB model (STYLE §19): check the size
    # against the parameter count (int8 stores ~1 byte per weight).
    n_params = int(sum(np.prod(w.shape) for w in keras_model.weights))
    if len(blob) < 0.5 * n_params * (1 if quantize else 4):
        raise ExportError(f"converted model is {len(blob)} bytes for {n_params} parameters: weights missing")

    (directory / TFLITE_FILE).write_bytes(blob)
    for steps in single_steps(preprocessor):
        (directory / SINGLE_TFLITE_PATTERN.format(steps=steps)).write_bytes(
            _convert(keras_model, preprocessor, temperature, quantize, 1, steps)
        )
    for steps in batch_steps(preprocessor):
        (directory / BATCH_TFLITE_PATTERN.format(steps=steps)).write_bytes(
            _convert(keras_model, preprocessor, temperature, quantize, BATCH_SIZE, steps)
        )
    (directory / TOKENIZER_FILE).write_text(json.dumps(preprocessor.to_json()))
    (directory / LABELS_FILE).write_text(
        json.dumps({"format_version": FORMAT_VERSION, "labels": list(labels), "oos_index": oos_index})
    )
    (directory / THRESHOLDS_FILE).write_text(
        json.dumps(
            {
                "format_version": FORMAT_VERSION,
                "default": float(thresholds["default"]),
                "per_intent": {k: float(v) for k, v in thresholds.get("per_intent", {}).items()},
                "method": thresholds.get("method", ""),
                "temperature": temperature,
            }
        )
    )

    # Accuracy check: the served model must agree with Keras on real (or probe) texts.
    texts = [t for t in (check_texts or []) if normalize(t)][:300] or _probe_texts(preprocessor)
    served = IntentModel.load(directory, full_length_only=True)
    lite = np.stack([served.probabilities(t) for t in texts])
    # Every other graph must agree with the full-length one-text graph, the long ones included;
    # each model loaded afresh, so that no memo answers for another graph.
    long_texts = _probe_texts(preprocessor, 2 * BATCH_SIZE, seed=1, words=(SHORT_STEPS + 1, preprocessor.max_len + 8))
    reference = np.concatenate([lite, np.stack([served.probabilities(t) for t in long_texts])])
    batched = IntentModel.load(directory).probabilities_many(texts + long_texts)
    batch_diff = float(np.abs(batched - reference).max())
    if batch_diff > 1e-3:
        raise ExportError(f"the batch graph differs from the single-text graph by {batch_diff:.4f}")
    shortened = IntentModel.load(directory)
    single_diff = float(np.abs(np.stack([shortened.probabilities(t) for t in texts + long_texts]) - reference).max())
    if single_diff > 1e-3:
        raise ExportError(f"a shorter one-text graph differs from the full-length one by {single_diff:.4f}")
    ref = softmax(predict_logits(keras_model, preprocessor.encode_batch(texts)) / temperature)
    agreement = float((lite.argmax(1) == ref.argmax(1)).mean())
    max_diff = float(np.abs(lite - ref).max())
    if agreement < 0.9:
        raise ExportError(f"TFLite agrees with Keras on only {agreement:.1%} of check texts")
    return {
        "tflite_bytes": len(blob),
        "n_params": n_params,
        "quantized": quantize,
        "keras_agreement": agreement,
        "max_prob_diff": max_diff,
        "batch_max_prob_diff": batch_diff,
        "short_max_prob_diff": single_diff,
        "n_check_texts": len(texts),
        "dim": served.dim,
    }


def export_trained(trained: TrainedIntentModel, directory: Path) -> dict[str, Any]:
    """Export a fine-tuned model with its labels, thresholds and temperature (see export_intent_model)."""
    return export_intent_model(
        trained.keras_model, trained.preprocessor, trained.labels,
        {**trained.thresholds, "oos_index": trained.oos_index, "temperature": trained.temperature},
        Path(directory),
    )
