"""The intent model's architecture in Keras: its layers, how it is built, and inference in Keras.

The fit loop is training/fit.py, the base weights training/base.py, calibration training/calibration.py.

Architecture (one sentence in, class logits and a sentence vector out):
  word embedding + mean of hashed char-trigram embeddings per word   (typos, unseen words)
  -> forward LSTM over the words and forward LSTM over the words reversed (a masked BiLSTM: padding
     never reaches a real position, so any padded length gives the same answer)
  -> masked max pooling, concatenated with the mean of hashed sentence n-grams (a fastText-like path)
  -> dense tanh projection = the sentence embedding -> new head per deployment.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from serving.intents import Preprocessor, normalize

HEAD = "head"


WIDE = "head_wide"
BAG_TABLE = "hash_emb_bag"


DEFAULT_CONFIG: dict[str, Any] = {
    "emb_dim": 64,
    "units": 128,
    "proj_dim": 256,
    "dropout": 0.3,
    "word_dropout": 0.15,  # share of word ids replaced by OOV in training, to lean on sub-words too
}


@keras.saving.register_keras_serializable("intents")
class MaskedMean(layers.Layer):
    """Mean over axis -2 of embeddings whose id is not padding (0)."""

    def call(self, emb: Any, ids: Any) -> Any:
        mask = ops.expand_dims(ops.cast(ops.greater(ids, 0), emb.dtype), -1)
        total = ops.sum(emb * mask, axis=-2)
        return total / ops.maximum(ops.sum(mask, axis=-2), 1.0)


@keras.saving.register_keras_serializable("intents")
class ScaledSum(layers.Layer):
    """Sum over axis -2 of rows whose id is not padding, divided by sqrt(count) (an l2-normalized bag)."""

    def call(self, emb: Any, ids: Any) -> Any:
        mask = ops.expand_dims(ops.cast(ops.greater(ids, 0), emb.dtype), -1)
        total = ops.sum(emb * mask, axis=-2)
        return total / ops.sqrt(ops.maximum(ops.sum(mask, axis=-2), 1.0))


@keras.saving.register_keras_serializable("intents")
class MaskedMax(layers.Layer):
    """Max over time of positions whose word id is not padding; zeros for an empty message."""

    def call(self, seq: Any, ids: Any) -> Any:
        mask = ops.expand_dims(ops.cast(ops.greater(ids, 0), seq.dtype), -1)
        best = ops.max(seq + (mask - 1.0) * 1e4, axis=1)
        return best * ops.max(mask, axis=1)


@keras.saving.register_keras_serializable("intents")
class ReverseValid(layers.Layer):
    """Reverse each row's real positions in place (t -> len-1-t), leaving padding at the end."""

    def call(self, seq: Any, ids: Any) -> Any:
        steps = ops.shape(ids)[1]
        length = ops.sum(ops.cast(ops.greater(ids, 0), "int32"), axis=1, keepdims=True)
        t = ops.expand_dims(ops.arange(steps, dtype="int32"), 0)
        index = ops.where(t < length, length - 1 - t, t)
        return ops.take_along_axis(seq, ops.expand_dims(index, -1), axis=1)


def build_model(
    pre: Preprocessor, n_classes: int, config: dict[str, Any], *, steps: int | None = None,
    batch: int | None = None, wide: bool = True, bag_table: bool = False,
) -> keras.Model:
    """The full model: inputs (words, subwords, bag) -> {"logits", "embedding"}.

    `bag_table`: the sentence n-grams read their own copy of the hashed embedding table (for the
    serving graphs of training/export.py, which copies the weights into it).
    """
    e, u = config["emb_dim"], config["units"]
    words = keras.Input((steps,), batch_size=batch, dtype="int32", name="words")
    subwords = keras.Input((steps, pre.max_sub), batch_size=batch, dtype="int32", name="subwords")
    bag = keras.Input((pre.max_bag,), batch_size=batch, dtype="int32", name="bag")
    word_emb = layers.Embedding(pre.vocab_size, e, name="word_emb")
    hash_emb = layers.Embedding(pre.buckets + 1, e, name="hash_emb")
    tokens = layers.Add(name="token_sum")(
        [word_emb(words), MaskedMean(name="sub_mean")(hash_emb(subwords), subwords)]
    )
    tokens = layers.SpatialDropout1D(config["dropout"] / 2, name="emb_dropout")(tokens)
    fwd = layers.LSTM(u, return_sequences=True, name="lstm_fwd")(tokens)
    bwd = layers.LSTM(u, return_sequences=True, name="lstm_bwd")(
        ReverseValid(name="reverse")(tokens, words)
    )
    seq = layers.Concatenate(name="bi")([fwd, bwd])
    pooled = MaskedMax(name="pool")(seq, words)
    # One table read by two lookups is dequantized whole by TFLite, into every interpreter (4 MB
    # each, four graphs per bundle); a table read once is gathered in int8 and only the rows used
    # are dequantized. Same values either way.
    bag_emb = layers.Embedding(pre.buckets + 1, e, name=BAG_TABLE) if bag_table else hash_emb
    bag_vec = MaskedMean(name="bag_mean")(bag_emb(bag), bag)
    z = layers.Concatenate(name="features")([pooled, bag_vec])
    z = layers.Dropout(config["dropout"], name="feat_dropout")(z)
    embedding = layers.Dense(config["proj_dim"], activation="tanh", name="proj")(z)
    h = layers.Dropout(config["dropout"], name="head_dropout")(embedding)
    deep = layers.Dense(n_classes, name=HEAD)(h)
    outputs = {"logits": deep, "deep": deep, "embedding": embedding}
    if wide:
        # The wide half of the head: a linear model on the hashed sentence n-grams (what TF-IDF +
        # logistic regression does well), trained with its own loss so it learns fully even where
        # the deep half already fits, then combined as a product of experts. Per deployment, never
        # in the base.
        table = layers.Embedding(pre.buckets + 1, n_classes, embeddings_initializer="zeros", name=WIDE)
        outputs["wide"] = ScaledSum(name="wide_sum")(table(bag), bag)
        outputs["logits"] = layers.Add(name="logits")(
            [layers.Activation("log_softmax", name="deep_logp")(deep),
             layers.Activation("log_softmax", name="wide_logp")(outputs["wide"])]
        )
    return keras.Model({"words": words, "subwords": subwords, "bag": bag}, outputs, name="intent_model")


def build_vocab(texts: list[str], *, max_words: int = 8000, min_count: int = 2) -> list[str]:
    counts = Counter(token for text in texts for token in normalize(text))
    return [w for w, c in counts.most_common(max_words) if c >= min_count]


def predict_logits(model: keras.Model, x: dict[str, np.ndarray], batch_size: int = 256) -> np.ndarray:
    """Logits for many encoded texts, run in length buckets (fast, and identical to full padding)."""
    n = len(x["words"])
    lengths = (x["words"] > 0).sum(1)
    order = np.argsort(lengths, kind="stable")
    out = None
    for i in range(0, n, batch_size):
        idx = order[i : i + batch_size]
        steps = max(8, int(math.ceil(lengths[idx].max() / 8) * 8))
        batch = {"words": x["words"][idx, :steps], "subwords": x["subwords"][idx, :steps], "bag": x["bag"][idx]}
        logits = np.asarray(_infer(model, batch)["logits"])
        if out is None:
            out = np.zeros((n, logits.shape[1]), np.float32)
        out[idx] = logits
    return out if out is not None else np.zeros((0, 0), np.float32)


def _infer(model: keras.Model, batch: dict[str, np.ndarray]) -> dict[str, Any]:
    fn = getattr(model, "_intent_infer", None)
    if fn is None:
        import tensorflow as tf

        fn = tf.function(lambda b: model(b, training=False), reduce_retracing=True)
        model._intent_infer = fn
    return fn(batch)


def encoder_layers(model: keras.Model) -> list[layers.Layer]:
    return [layer for layer in model.layers if not layer.name.startswith(HEAD) and layer.weights]


def set_encoder_trainable(model: keras.Model, trainable: bool) -> None:
    for layer in encoder_layers(model):
        layer.trainable = trainable
