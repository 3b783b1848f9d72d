"""The intent model in Keras: encoder architecture, training loop, base (pretrained) weights, fine-tuning.

Architecture (one sentence in, class logits and a sentence vector out):
  word embedding + mean of hashed char-trigram embeddings per word   (typos, unseen words)
  -> forward LSTM over the words and forward LSTM over the words reversed (a masked BiLSTM: padding
     never reaches a real position, so any padded length gives the same answer)
  -> masked max pooling, concatenated with the mean of hashed sentence n-grams (a fastText-like path)
  -> dense tanh projection = the sentence embedding -> new head per deployment.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


import keras  # noqa: E402  (after the log level, so TF stays quiet)
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

from serving.intents import FORMAT_VERSION, OOV, Preprocessor, normalize  # noqa: E402
from training.dataset import HOLDOUT_FRACTION, holdout_split  # noqa: E402

BASE_CONFIG_FILE = "base.json"
BASE_WEIGHTS_FILE = "encoder.npz"
HEAD = "head"
WIDE = "head_wide"

Progress = Callable[[str, float], None]

DEFAULT_CONFIG: dict[str, Any] = {
    "emb_dim": 64,
    "units": 128,
    "proj_dim": 256,
    "dropout": 0.3,
    "word_dropout": 0.15,  # share of word ids replaced by OOV in training, to lean on sub-words too
}


# --- layers ----------------------------------------------------------------------------------


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
    batch: int | None = None, wide: bool = True,
) -> keras.Model:
    """The full model: inputs (words, subwords, bag) -> {"logits", "embedding"}."""
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
    bag_vec = MaskedMean(name="bag_mean")(hash_emb(bag), bag)
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


# --- data ------------------------------------------------------------------------------------


def build_vocab(texts: list[str], *, max_words: int = 8000, min_count: int = 2) -> list[str]:
    counts = Counter(token for text in texts for token in normalize(text))
    return [w for w, c in counts.most_common(max_words) if c >= min_count]


def _batches(
    x: dict[str, np.ndarray], y: np.ndarray, batch_size: int, rng: np.random.Generator,
    word_dropout: float,
) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
    """Length-bucketed shuffled batches, trimmed to a multiple of 8 steps (few retraces, less padding)."""
    lengths = (x["words"] > 0).sum(1)
    order = np.argsort(lengths + rng.random(len(lengths)), kind="stable")
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    out = []
    for idx in chunks:
        steps = max(8, int(math.ceil(lengths[idx].max() / 8) * 8))
        words = x["words"][idx, :steps].copy()
        if word_dropout:
            drop = (rng.random(words.shape) < word_dropout) & (words > 0)
            words[drop] = OOV
        bag = x["bag"][idx].copy()
        if word_dropout:
            bag[rng.random(bag.shape) < word_dropout] = 0
        out.append(({"words": words, "subwords": x["subwords"][idx, :steps], "bag": bag}, y[idx]))
    return out


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


def train_epochs(
    model: keras.Model,
    x: dict[str, np.ndarray],
    y: np.ndarray,
    *,
    epochs: int,
    lr: float,
    seed: int,
    word_dropout: float,
    batch_size: int = 64,
    class_weight: np.ndarray | None = None,
    on_epoch: Callable[[int], None] | None = None,
) -> None:
    """Adam with a cosine-decayed learning rate over all epochs; one fit() call per epoch."""
    rng = np.random.default_rng(seed)
    steps_per_epoch = math.ceil(len(y) / batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, epochs * steps_per_epoch), alpha=0.05)
    # Each half of the head gets its own loss ("wide" only exists when the model has one).
    has_wide = any(layer.name == WIDE for layer in model.layers)
    heads = ["deep", "wide"] if has_wide else ["deep"]
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    outputs = ["logits", "deep", "embedding"] + (["wide"] if has_wide else [])
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0),
        loss={name: (ce if name in heads else None) for name in outputs},
    )
    for epoch in range(epochs):
        for xb, yb in _batches(x, y, batch_size, rng, word_dropout):
            targets = {name: yb for name in heads}
            sw = None if class_weight is None else {name: class_weight[yb] for name in heads}
            model.train_on_batch(xb, targets, sample_weight=sw)
        if on_epoch:
            on_epoch(epoch)


# --- base model ------------------------------------------------------------------------------


def encoder_layers(model: keras.Model) -> list[layers.Layer]:
    return [layer for layer in model.layers if not layer.name.startswith(HEAD) and layer.weights]


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


def set_encoder_trainable(model: keras.Model, trainable: bool) -> None:
    for layer in encoder_layers(model):
        layer.trainable = trainable


# --- fine-tuning -----------------------------------------------------------------------------


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature that minimizes held-out negative log-likelihood (grid, then refine)."""

    def nll(t: float) -> float:
        z = logits / t
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return float(-logp[np.arange(len(y)), y].mean())

    if len(y) == 0:
        return 1.0
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 61))
    best = min(grid, key=nll)
    fine = np.linspace(best * 0.9, best * 1.1, 21)
    return float(min(fine, key=nll))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _balanced_threshold(
    conf: np.ndarray, correct: np.ndarray, accept0: np.ndarray, is_oos: np.ndarray, max_in_scope_loss: float
) -> float:
    """The threshold maximizing in-scope accuracy + OOS recall, costing at most `max_in_scope_loss`."""
    base_acc = (correct & accept0)[~is_oos].mean()
    best_t, best_score = 0.0, -1.0
    for t in np.linspace(0.0, 0.95, 96):
        accept = (conf >= t) & accept0
        acc = (correct & accept)[~is_oos].mean()
        rec = (~accept)[is_oos].mean()
        if acc >= base_acc - max_in_scope_loss and acc + rec > best_score + 1e-9:
            best_t, best_score = float(t), acc + rec
    return best_t


def _conformal_threshold(correct_conf: np.ndarray, reject: float) -> float:
    """The k-th lowest confidence of correct answers, k = max(1, floor(reject * (n + 1))).

    For a new correct answer exchangeable with the held-out ones, P(confidence < k-th lowest)
    = k / (n + 1): the threshold rejects at most max(reject, 1 / (n + 1)) of correct answers in
    expectation, whatever the model. 0 when there are no correct answers to learn from.
    """
    if len(correct_conf) == 0:
        return 0.0
    k = max(1, int(math.floor(reject * (len(correct_conf) + 1))))
    # Rounded down, so that the k-th lowest answer itself is still accepted.
    return math.floor(float(np.sort(correct_conf)[min(k, len(correct_conf)) - 1]) * 1e4) / 1e4


def choose_threshold(
    probs: np.ndarray, y: np.ndarray, oos_index: int | None, *, labels: list[str] | None = None,
    max_in_scope_loss: float = 0.01, no_oos_reject: float = 0.002, min_per_intent: int = 40,
) -> dict[str, Any]:
    """Pick the confidence thresholds from held-out predictions (rows fine-tuning never saw).

    1. With out-of-scope examples in the held-out split: the threshold that maximizes
       in-scope accuracy + OOS recall (balanced, since OOS rows are usually few),
       among thresholds that cost at most `max_in_scope_loss` in-scope accuracy. With few OOS
       rows each weighs far more than an in-scope one, so the rule spends the whole budget: the
       budget is the product decision (1 point: one answerable question in a hundred refused).
    2. Without: nothing tells a strange message from a hard one, and every rejection of a
       correct answer is a loss, so reject very little: the conformal threshold that rejects at
       most `no_oos_reject` (or 1/(n+1)) of correct answers.
    3. Per intent (when `labels` is given): the same rule on the held-out rows answered with that
       intent, for intents with at least `min_per_intent` such rows (and, with OOS rows, at least 5
       OOS rows among them); the others keep the global threshold.
    """
    in_scope = probs.copy()
    if oos_index is not None:
        in_scope[:, oos_index] = -1.0
    top = in_scope.argmax(1)
    conf = in_scope.max(1)
    oos_wins = (probs[:, oos_index] > conf) if oos_index is not None else np.zeros(len(y), bool)
    is_oos = (y == oos_index) if oos_index is not None else np.zeros(len(y), bool)
    correct = top == y
    with_oos = bool(is_oos.sum() and (~is_oos).sum())

    def rule(rows: np.ndarray) -> float:
        if with_oos:
            return _balanced_threshold(conf[rows], correct[rows], ~oos_wins[rows], is_oos[rows], max_in_scope_loss)
        return _conformal_threshold(conf[rows & correct & ~is_oos], no_oos_reject)

    default = rule(np.ones(len(y), bool))
    per_intent: dict[str, float] = {}
    for c, name in enumerate(labels or []):
        rows = (top == c) & ~oos_wins  # the answers this intent's threshold decides on
        if c == oos_index or rows.sum() < min_per_intent or (with_oos and min(is_oos[rows].sum(), (~is_oos[rows]).sum()) < 5):
            continue
        per_intent[name] = round(rule(rows), 4)
    if with_oos:
        method = "balanced in-scope accuracy + OOS recall on held-out"
    else:
        method = (f"conformal: rejects at most {no_oos_reject:.1%} (or 1/(n+1)) of correct held-out "
                  "answers (no OOS examples)")
    if per_intent:
        method += f"; per intent where >= {min_per_intent} held-out rows"
    return {"default": round(default, 4), "per_intent": per_intent, "method": method}


@dataclass
class TrainedIntentModel:
    """A fine-tuned model with everything needed to export it for serving."""

    keras_model: keras.Model
    preprocessor: Preprocessor
    labels: list[str]  # class order of the head; the OOS class (if any) is at oos_index
    oos_index: int | None
    thresholds: dict[str, Any]
    temperature: float
    info: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities from Keras in batches (evaluation, not serving)."""
        return softmax(predict_logits(self.keras_model, self.preprocessor.encode_batch(texts)) / self.temperature)


OOS_LABEL = "oos"


def fine_tune(
    texts: list[str],
    intents: list[str | None],
    base_dir: Path | None,
    *,
    epochs: int = 12,
    head_epochs: int = 3,
    lr: float = 1.5e-3,
    holdout: float = HOLDOUT_FRACTION,
    refit: bool = True,
    seed: int = 0,
    progress: Progress | None = None,
) -> TrainedIntentModel:
    """Fine-tune the pretrained base on labelled texts (None = out-of-scope example).

    1. Hold out `holdout` of each class (never the evaluation set: callers pass training data only),
       chosen by content (`holdout_split`), so these rows are also absent from the base.
    2. Build the model, copy the base encoder in (base_dir=None trains from scratch), new head.
    3. Train the head alone with the encoder frozen, then the whole model at a lower learning rate
       (cosine decay), scoring the held-out split after every epoch.
    4. Fit a softmax temperature and the out-of-scope thresholds on the held-out split.
    5. With `refit`: train the same schedule again on all rows, held-out ones included, and keep
       that model with the temperature and thresholds of step 4 (10 % more data for twice the
       training time). Without: keep the step-3 model at its best held-out epoch (later wins ties).
    """
    started = time.monotonic()
    report = progress or (lambda message, fraction: None)
    keras.utils.set_random_seed(seed)
    labels = sorted({i for i in intents if i is not None})
    has_oos = any(i is None for i in intents)
    oos_index = len(labels) if has_oos else None
    class_names = labels + ([OOS_LABEL] if has_oos else [])
    index = {name: i for i, name in enumerate(labels)}
    y = np.array([index[i] if i is not None else oos_index for i in intents], np.int64)

    if base_dir is not None:
        base = Base.load(base_dir)
        pre, config = base.preprocessor.with_spelling(), base.config
    else:
        base = None
        pre, config = Preprocessor(build_vocab(list(texts)), spelling=True), dict(DEFAULT_CONFIG)
    x = pre.encode_batch(list(texts))
    tr_list, ho_list = holdout_split(list(texts), list(intents), holdout)
    tr, ho = np.array(tr_list, np.int64), np.array(ho_list, np.int64)
    refit = refit and len(ho) > 0
    if len(ho) == 0:  # tiny data: use everything for both (the threshold is then optimistic)
        ho = tr
    sub = lambda idx: {k: v[idx] for k, v in x.items()}  # noqa: E731
    x_tr, y_tr, x_ho, y_ho = sub(tr), y[tr], sub(ho), y[ho]

    per_run = head_epochs + epochs if base is not None else epochs
    total = per_run * (2 if refit else 1)
    done = [0]
    best: dict[str, Any] = {"acc": -1.0, "weights": None, "epoch": -1}
    history: list[float] = []

    def train(x_fit: dict[str, np.ndarray], y_fit: np.ndarray, score: bool) -> keras.Model:
        model = build_model(pre, len(class_names), config)
        if base is not None:
            base.apply(model)
        # OOS examples are usually few; weight them up to the mean class size so they are not drowned.
        counts = np.bincount(y_fit, minlength=len(class_names)).astype(np.float64)
        class_weight = np.ones(len(class_names), np.float32)
        if has_oos and counts[oos_index] > 0:
            class_weight[oos_index] = float(np.clip(0.5 * counts[:oos_index].mean() / counts[oos_index], 1.0, 5.0))

        def on_epoch(_: int) -> None:
            done[0] += 1
            if not score:
                report(f"epoch {done[0]}/{total} (refit on all rows)", done[0] / total)
                return
            acc = float((predict_logits(model, x_ho).argmax(1) == y_ho).mean())
            history.append(round(acc, 4))
            if acc >= best["acc"]:  # later epochs win ties (lower learning rate, more data seen)
                best.update(acc=acc, epoch=done[0], weights=None if refit else model.get_weights())
            report(f"epoch {done[0]}/{total} held-out acc {acc:.3f}", done[0] / total)

        wd = config.get("word_dropout", 0.15)
        if base is not None and head_epochs:
            set_encoder_trainable(model, False)
            train_epochs(model, x_fit, y_fit, epochs=head_epochs, lr=5e-3, seed=seed, word_dropout=wd,
                         class_weight=class_weight, on_epoch=on_epoch)
            set_encoder_trainable(model, True)
            best["acc"] = -1.0  # only fine-tuned epochs compete (the head-only ones leave the encoder as it was)
        train_epochs(model, x_fit, y_fit, epochs=epochs, lr=lr if base is not None else 3e-3, seed=seed + 1,
                     word_dropout=wd, class_weight=class_weight, on_epoch=on_epoch)
        return model

    model = train(x_tr, y_tr, score=True)
    # Choosing by the held-out rows is sound because neither fine-tuning nor the base (pretraining
    # leaves the same rows out) has seen them. A refit model is kept at its last epoch, so the
    # calibration is fitted on the last epoch too.
    if best["weights"] is not None:
        model.set_weights(best["weights"])
    logits = predict_logits(model, x_ho)
    temperature = fit_temperature(logits, y_ho)
    thresholds = choose_threshold(softmax(logits / temperature), y_ho, oos_index, labels=class_names)
    holdout_accuracy = float((logits.argmax(1) == y_ho).mean())
    if refit:
        keras.utils.set_random_seed(seed)  # the same initial head as the calibrated run
        model = train(x, y, score=False)
    info = {
        "n_train": int(len(y) if refit else len(tr)), "n_holdout": int(len(ho)), "refit": refit,
        "n_classes": len(class_names), "best_epoch": best["epoch"], "holdout_accuracy": holdout_accuracy,
        "holdout_history": history, "temperature": temperature,
        "from_base": base is not None, "train_seconds": round(time.monotonic() - started, 1),
    }
    return TrainedIntentModel(model, pre, class_names, oos_index, thresholds, temperature, info)


class TqdmProgress:
    """A `progress` callback that draws one tqdm bar on stderr (stdout stays clean for --json)."""

    def __init__(self, description: str, *, disable: bool = False) -> None:
        import sys

        from tqdm import tqdm

        self.bar = tqdm(total=100, desc=description, file=sys.stderr, disable=disable, bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}")

    def __call__(self, message: str, fraction: float) -> None:
        self.bar.n = int(round(fraction * 100))
        self.bar.set_postfix_str(message)

    def close(self) -> None:
        self.bar.close()
