"""The intent model at serving time: text preprocessing and the TFLite predictor.

This module is imported by the web process, so it must never import TensorFlow. Training
(`training/architecture.py`, `training/fit.py`) imports the same `Preprocessor` so that training-time and serving-time
text handling are one code path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import unicodedata
import zlib
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np

log = logging.getLogger(__name__)

# Bump when the files written by training/export.py change meaning; load() refuses other versions.
FORMAT_VERSION = 2  # 2: the tokenizer always records whether it repairs spelling

TFLITE_FILE = "model.tflite"
# The same model with a static batch of BATCH_SIZE texts of at most <steps> words (TFLite cannot
# resize this LSTM's axes): a web process answering many sockets runs their messages through it
# together, 2.8x less CPU per text than one by one at 32 steps and 7x at 16 (short messages
# are the common case; padding never changes a result, the model masks it). Optional: bundles
# without them answer one text at a time.
BATCH_TFLITE_PATTERN = "model_batch_{steps}.tflite"
# The one-text graph cut to <steps> words: model.tflite always runs all max_len steps (0.37 ms
# of the 0.42 ms a BANKING77 message took), while most messages have at most 16 words (89 % of
# BANKING77 test) and run in half the time here. Optional as well: without it every text runs
# in model.tflite, as before.
SINGLE_TFLITE_PATTERN = "model_{steps}.tflite"
# The one-text graphs' lengths: a text alone runs in the shortest it fits in. The recurrent
# layers cost per step (~0.03 ms each here), and chat messages are short (BANKING77 test: median
# 9 words, 42 % at most 8, 62 % at most 10): these took BANKING77's batch-1 p50 from 0.385 to 0.304
# ms on the same weights (docs/benchmarks.md, "Fifth pass"). In a packed bundle each costs its
# graph, not its weights.
SINGLE_STEPS = (8, 10, 12, 16)
# Every graph above in one file, their weights stored once (`pack_graphs`, written when a bundle is
# published); a bundle without it serves each graph from its own file.
GRAPHS_FILE = "model_graphs.tflite"
BATCH_SIZE = 16
SHORT_STEPS = 16
# A batch costs about as much as this many single runs: fewer texts than this go one by one.
BATCH_MIN = 6
# Outputs kept for texts seen lately: the intent and the embedding of a text are one inference.
MEMO_SIZE = 256
TOKENIZER_FILE = "tokenizer.json"
LABELS_FILE = "labels.json"
THRESHOLDS_FILE = "thresholds.json"

PAD, OOV = 0, 1
_TOKEN = re.compile(r"[a-z0-9]+")
_DIGIT = re.compile(r"[0-9]")


class IncompatibleModel(Exception):
    """The files on disk were written by a different format version (or are missing)."""


def normalize(text: str) -> list[str]:
    """Lowercase, strip accents, map digits to 0 and split into alphanumeric words."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("'", "").replace("\u2019", "")  # "hasn't" -> "hasnt", as typed on phones
    return _TOKEN.findall(_DIGIT.sub("0", text))


def _bucket(feature: str, buckets: int) -> int:
    # crc32 is stable across processes (unlike hash()) and fast; id 0 is padding.
    return zlib.crc32(feature.encode("utf-8")) % buckets + 1


class Preprocessor:
    """Turns text into the three int32 inputs of the model.

    - words:    (max_len,)         word ids from a fixed vocabulary (0 pad, 1 unknown)
    - subwords: (max_len, max_sub) hashed character trigrams of each word, so typos and unseen
                words still land near their neighbours
    - bag:      (max_bag,)         hashed sentence features (words, word bigrams, char trigrams)
                for the bag-of-n-grams path that runs beside the LSTM
    """

    def __init__(
        self,
        vocab: list[str],
        *,
        max_len: int = 32,
        max_sub: int = 12,
        max_bag: int = 128,
        buckets: int = 16384,
        spelling: bool = False,
    ) -> None:
        self.vocab = list(vocab)
        self.max_len, self.max_sub, self.max_bag, self.buckets = max_len, max_sub, max_bag, buckets
        # Off for the pretrained base (so `pretrain` reproduces its committed weights), on for
        # every fine-tuned model; recorded in tokenizer.json, so serving does what training did.
        self.spelling = spelling
        self._index = {word: i + 2 for i, word in enumerate(self.vocab)}
        self._cache: dict[str, tuple[int, list[int], int]] = {}
        self._spelled: dict[str, str] = {}

    def with_spelling(self) -> Preprocessor:
        """The same tokenizer with spelling repair on."""
        return Preprocessor(self.vocab, max_len=self.max_len, max_sub=self.max_sub, max_bag=self.max_bag,
                            buckets=self.buckets, spelling=True)

    def tokens(self, text: str) -> list[str]:
        """The words the model reads: normalized, with swapped-letter typos repaired."""
        words = normalize(text)
        return [self._spell(word) for word in words] if self.spelling else words

    def _spell(self, word: str) -> str:
        """An unknown word that becomes a known one by swapping two neighbouring letters, repaired.

        "lsot" -> "lost", "crad" -> "card": the commonest typo on a phone, and one that shares no
        character trigram with the word meant, so the sub-word path cannot bridge it. Only words
        of four letters or more; with several repairs, the most frequent word of the vocabulary.
        """
        found = self._spelled.get(word)
        if found is None:
            found = word
            if word not in self._index and len(word) >= 4 and word.isalpha():
                candidates = (word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1))
                known = [(self._index[c], c) for c in candidates if c in self._index]
                found = min(known)[1] if known else word
            if len(self._spelled) < 200_000:
                self._spelled[word] = found
        return found

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + 2

    def _word(self, word: str) -> tuple[int, list[int], int]:
        hit = self._cache.get(word)
        if hit is None:
            padded = f"<{word}>"
            grams = [_bucket("c" + padded[i : i + 3], self.buckets) for i in range(len(padded) - 2)]
            hit = (self._index.get(word, OOV), grams, _bucket("w" + word, self.buckets))
            if len(self._cache) < 200_000:
                self._cache[word] = hit
        return hit

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One text as (words, subwords, bag) int32 arrays, each with a leading batch axis of 1."""
        words = np.zeros((1, self.max_len), np.int32)
        subwords = np.zeros((1, self.max_len, self.max_sub), np.int32)
        bag = np.zeros((1, self.max_bag), np.int32)
        self._fill(text, words[0], subwords[0], bag[0])
        return words, subwords, bag

    def encode_batch(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Many texts as a dict of input arrays (the Keras model's input names)."""
        n = len(texts)
        words = np.zeros((n, self.max_len), np.int32)
        subwords = np.zeros((n, self.max_len, self.max_sub), np.int32)
        bag = np.zeros((n, self.max_bag), np.int32)
        for i, text in enumerate(texts):
            self._fill(text, words[i], subwords[i], bag[i])
        return {"words": words, "subwords": subwords, "bag": bag}

    def _fill(self, text: str, words: np.ndarray, subwords: np.ndarray, bag: np.ndarray) -> None:
        tokens = self.tokens(text)[: self.max_len]
        feats: list[int] = []
        for t, token in enumerate(tokens):
            word_id, grams, word_bucket = self._word(token)
            words[t] = word_id
            sub = grams[: self.max_sub]
            subwords[t, : len(sub)] = sub
            feats.append(word_bucket)
            feats.extend(grams)
        for a, b in zip(tokens, tokens[1:]):
            feats.append(_bucket(f"b{a} {b}", self.buckets))
        # Dedupe keeps the bag a set (like binary TF-IDF) and leaves room for long messages.
        feats = list(dict.fromkeys(feats))[: self.max_bag]
        bag[: len(feats)] = feats

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "max_len": self.max_len,
            "max_sub": self.max_sub,
            "max_bag": self.max_bag,
            "buckets": self.buckets,
            "spelling": self.spelling,
            "vocab": self.vocab,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Preprocessor:
        if data.get("format_version") != FORMAT_VERSION:
            raise IncompatibleModel(
                f"tokenizer format {data.get('format_version')!r}, this code reads {FORMAT_VERSION}"
            )
        return cls(
            data["vocab"],
            max_len=data["max_len"],
            max_sub=data["max_sub"],
            max_bag=data["max_bag"],
            buckets=data["buckets"],
            spelling=bool(data["spelling"]),
        )


@dataclass(frozen=True)
class Prediction:
    intent: str | None  # None: out of scope, or the top intent is below its threshold
    confidence: float  # calibrated probability of the top in-scope intent
    ranking: list[tuple[str, float]]  # top 5 in-scope intents with probabilities
    threshold: float  # the threshold of the top intent


def decide(
    probs: np.ndarray, labels: list[str], oos_index: int | None, thresholds: dict[str, Any]
) -> Prediction:
    """Turn one probability vector into a Prediction (shared with training's threshold search)."""
    in_scope = probs.copy()
    if oos_index is not None:
        in_scope[oos_index] = -1.0
    order = np.argsort(-in_scope)[:5]
    ranking = [(labels[i], float(probs[i])) for i in order if i != oos_index]
    top, confidence = ranking[0]
    threshold = float(thresholds["per_intent"].get(top, thresholds["default"]))
    oos_wins = oos_index is not None and probs[oos_index] > confidence
    intent = None if oos_wins or confidence < threshold else top
    return Prediction(intent=intent, confidence=confidence, ranking=ranking, threshold=threshold)


def batch_steps(preprocessor: Preprocessor) -> list[int]:
    """The lengths (in words) of the batch graphs a bundle carries for this tokenizer.

    Short texts only. A 16 x max_len graph (written until 2026-12) ran only when BATCH_MIN texts
    of a batch were longer than SHORT_STEPS words, which messages of BANKING77's lengths (11 %
    longer) seldom make, and it held 9 MB in every web process; such texts run one by one in
    model.tflite (+0.01 ms per message at batches of 32-64, docs/benchmarks.md). Bundles that
    still carry one keep it unread.
    """
    return [min(SHORT_STEPS, preprocessor.max_len)]


def single_steps(preprocessor: Preprocessor) -> list[int]:
    """The lengths of the shorter one-text graphs a bundle carries (model.tflite has max_len)."""
    return [steps for steps in SINGLE_STEPS if steps < preprocessor.max_len]


class _AlignedBuffer:
    """A TFLite buffer packed as the converter packs it: its bytes 16-byte aligned (kernels read them in place)."""

    def __init__(self, data: np.ndarray | None) -> None:
        self.data = data

    def Pack(self, builder: Any) -> int:  # noqa: N802  # the flatbuffers object API's name
        from ai_edge_litert import schema_py_generated as schema

        data = None
        if self.data is not None:
            payload = self.data.tobytes()
            builder.StartVector(1, len(payload), 16)
            builder.head -= len(payload)
            builder.Bytes[builder.head : builder.head + len(payload)] = payload
            builder.vectorNumElems = len(payload)
            data = builder.EndVector()
        schema.BufferStart(builder)
        if data is not None:
            schema.BufferAddData(builder, data)
        return int(schema.BufferEnd(builder))


class GraphsNotMerged(Exception):
    """The exported graphs hold something `one_model` does not know how to renumber."""


def one_model(models: dict[str, bytes]) -> bytes:
    """Several exported TFLite graphs as one model, each graph's `serve` signature under its key
    in `models`, their weights stored once.

    The graphs (model.tflite and the shorter and batched ones) are one model converted at
    different static shapes, so their weights are the same bytes: three interpreters over three
    files held them three times in every web process (3.4 MB each on the demo model), and
    TFLite's converter would not write one file with several signatures from this model
    (docs/benchmarks.md). The kernels and their inputs are unchanged, so the outputs are the
    same bits (tests/training/test_roundtrip.py).

    Steps: read each graph with TFLite's schema (the flatbuffers object API); append its
    subgraphs after those taken so far, renumbering WHILE's condition and body subgraphs, its
    operators' op codes (one table for all) and its tensors' buffers, where a buffer holding the
    same bytes as one of an earlier graph becomes that one; give its `serve` signature its key
    and its first subgraph; pack, buffers aligned as the converter aligns them.
    """
    import flatbuffers  # type: ignore[import-untyped]  # no stubs published; ai_edge_litert's own dependency
    from ai_edge_litert import schema_py_generated as schema

    merged = schema.ModelT()
    merged.version, merged.description = 3, b"one_model"
    merged.operatorCodes, merged.subgraphs, merged.signatureDefs = [], [], []
    buffers: list[_AlignedBuffer] = [_AlignedBuffer(None)]  # buffer 0: the empty sentinel
    codes: dict[tuple[Any, ...], int] = {}
    earlier: dict[bytes, int] = {}  # the digest of a buffer of an earlier graph → its index
    for signature_key, content in models.items():
        model = schema.ModelT.InitFromPackedBuf(content, 0)
        if model.externalBuffers or model.externalBufferGroups or any(b.offset > 1 for b in model.buffers):
            raise GraphsNotMerged("buffers outside the flatbuffer")
        op_codes = []
        for code in model.operatorCodes:
            key = (code.builtinCode, code.deprecatedBuiltinCode, code.version, code.customCode)
            op_codes.append(codes.setdefault(key, len(codes)))
            if op_codes[-1] == len(merged.operatorCodes):
                merged.operatorCodes.append(code)
        mine: dict[bytes, int] = {}
        buffer_of = [0] * len(model.buffers)
        for index, buffer in enumerate(model.buffers):
            if index == 0 or buffer.data is None or not len(buffer.data):
                if index:
                    buffer_of[index] = len(buffers)
                    buffers.append(_AlignedBuffer(None))
                continue
            data = np.ascontiguousarray(buffer.data, dtype=np.uint8)
            digest = hashlib.sha256(data.data).digest() + len(data).to_bytes(8, "little")
            if digest in earlier:
                buffer_of[index] = earlier[digest]
                continue
            buffer_of[index] = len(buffers)
            mine.setdefault(digest, len(buffers))
            buffers.append(_AlignedBuffer(data))
        for digest, index in mine.items():
            earlier.setdefault(digest, index)
        first = len(merged.subgraphs)
        for subgraph in model.subgraphs:
            for tensor in subgraph.tensors:
                if tensor.externalBuffer:
                    raise GraphsNotMerged("a tensor in an external buffer")
                tensor.buffer = buffer_of[tensor.buffer]
            for operator in subgraph.operators:
                operator.opcodeIndex = op_codes[operator.opcodeIndex]
                if operator.builtinOptions2 is not None:
                    raise GraphsNotMerged("an operator with builtin options 2")
                options = operator.builtinOptions
                if isinstance(options, schema.WhileOptionsT):
                    options.condSubgraphIndex += first
                    options.bodySubgraphIndex += first
                elif options is not None and any("ubgraph" in name for name in vars(options)):
                    raise GraphsNotMerged(f"an operator with {type(options).__name__}")
            merged.subgraphs.append(subgraph)
        signatures = [s for s in model.signatureDefs or [] if s.signatureKey == b"serve"]
        if len(signatures) != 1:
            raise GraphsNotMerged("a graph without one serve signature")
        signatures[0].signatureKey = signature_key.encode()
        signatures[0].subgraphIndex += first
        merged.signatureDefs.append(signatures[0])
    merged.buffers = buffers
    # Room for the weights and the graphs at once: growing doubles the builder's buffer, each time a copy.
    builder = flatbuffers.Builder(sum(b.data.nbytes for b in buffers if b.data is not None) + 1024 * 1024)
    builder.Finish(merged.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@dataclass(frozen=True)
class _Graph:
    """One TFLite signature runner and the static shape it was converted with."""

    runner: Any
    batch: int
    steps: int


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise IncompatibleModel(f"missing {path.name} in {path.parent}") from exc
    if data.get("format_version") != FORMAT_VERSION:
        raise IncompatibleModel(
            f"{path.name} has format {data.get('format_version')!r}, this code reads {FORMAT_VERSION}"
        )
    return cast(dict[str, Any], data)


def _graph_files(directory: Path, preprocessor: Preprocessor, full_length_only: bool = False) -> list[tuple[int, int, Path]]:
    """(batch, steps, file) of each graph a model directory carries that serving runs, the full-length one first."""
    shapes = [(1, preprocessor.max_len, directory / TFLITE_FILE)]
    if not full_length_only:
        shapes += [(1, steps, directory / SINGLE_TFLITE_PATTERN.format(steps=steps)) for steps in single_steps(preprocessor)]
        shapes += [(BATCH_SIZE, steps, directory / BATCH_TFLITE_PATTERN.format(steps=steps))
                   for steps in batch_steps(preprocessor)]
    return [shape for shape in shapes if shape[2].exists()]


def _signature_key(batch: int, steps: int) -> str:
    """The signature of the graph of this shape in GRAPHS_FILE."""
    return f"serve_{batch}x{steps}"


def pack_graphs(directory: Path) -> bool:
    """Write GRAPHS_FILE beside the graphs of the model in `directory`: all of them in one file.

    Serving then loads that file alone (one interpreter, a signature per graph) and holds the
    weights once instead of once per graph. Called when a bundle is published (serving.registry),
    not by the web process: reading and writing TFLite's schema in Python imports 6 MB of
    generated classes that a web process would keep. False, and nothing written, when there is
    one graph or `one_model` cannot merge them (then each graph loads from its own file, as before).
    """
    directory = Path(directory)
    shapes = _graph_files(directory, Preprocessor.from_json(_read_json(directory / TOKENIZER_FILE)))
    if len(shapes) < 2:
        return False
    try:
        packed = one_model({_signature_key(batch, steps): path.read_bytes() for batch, steps, path in shapes})
    except GraphsNotMerged as exc:
        log.warning("the graphs of %s stay in separate files: %s", directory, exc)
        return False
    (directory / GRAPHS_FILE).write_bytes(packed)
    return True


class IntentModel:
    """The exported intent model: tokenizer + quantized TFLite graph + labels + thresholds."""

    def __init__(
        self,
        graphs: list[_Graph],
        preprocessor: Preprocessor,
        labels: list[str],
        oos_index: int | None,
        thresholds: dict[str, Any],
    ) -> None:
        """`graphs`: the full-length one-text graph first, then any shorter or batched ones."""
        self.preprocessor = preprocessor
        self.labels = labels
        self.oos_index = oos_index
        self.thresholds = thresholds
        self._single = graphs[0]
        # Shortest first, the full-length graph last: it takes any text.
        self._singles = sorted(
            (graph for graph in graphs[1:] if graph.batch == 1 and graph.steps < preprocessor.max_len),
            key=lambda graph: graph.steps,
        ) + [self._single]
        # Shortest first: a text goes to the cheapest graph it fits in.
        self._batch_graphs = sorted((graph for graph in graphs if graph.batch > 1), key=lambda graph: graph.steps)
        # TFLite interpreters are not thread-safe, and web processes answer from a thread pool.
        # The lock also guards a small memo of recent outputs: the reply policy asks for the
        # intents of a batch and then for the embeddings of the same texts, one inference, not two.
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()
        details = self._single.runner.get_output_details()
        self.dim = int(details["embedding"]["shape"][-1])

    @classmethod
    def load(cls, directory: Path, *, full_length_only: bool = False) -> IntentModel:
        """Read what training/export.py wrote into `directory` (and GRAPHS_FILE, where publishing added it).

        `full_length_only`: serve every text with model.tflite alone, as bundles without the
        shorter graphs do (the reference export checks the others against; benchmarks' baseline).
        """
        # The light runtime, imported here so that importing this module stays cheap.
        from ai_edge_litert.interpreter import Interpreter

        directory = Path(directory)
        preprocessor = Preprocessor.from_json(_read_json(directory / TOKENIZER_FILE))
        labels = _read_json(directory / LABELS_FILE)
        thresholds = _read_json(directory / THRESHOLDS_FILE)
        if not (directory / TFLITE_FILE).exists():
            raise IncompatibleModel(f"missing {TFLITE_FILE} in {directory}")
        shapes = _graph_files(directory, preprocessor, full_length_only)
        # One thread: two threads tripled p99 while a retrain ran on the same machine (STYLE §19).
        packed = directory / GRAPHS_FILE
        if len(shapes) > 1 and packed.exists():
            # Every graph from one file, their weights in memory once (`pack_graphs`).
            interpreter = Interpreter(model_path=str(packed), num_threads=1)
            keys = set(interpreter.get_signature_list())
            if all(_signature_key(batch, steps) in keys for batch, steps, _ in shapes):
                runners = [interpreter.get_signature_runner(_signature_key(batch, steps)) for batch, steps, _ in shapes]
                graphs = [_Graph(runner, batch, steps) for runner, (batch, steps, _) in zip(runners, shapes, strict=True)]
                return cls(graphs, preprocessor, labels["labels"], labels["oos_index"], thresholds)
        graphs = [_Graph(Interpreter(model_path=str(path), num_threads=1).get_signature_runner("serve"), batch, steps)
                  for batch, steps, path in shapes]
        return cls(graphs, preprocessor, labels["labels"], labels["oos_index"], thresholds)

    def _run_many(self, texts: list[str]) -> list[dict[str, np.ndarray]]:
        """Model outputs per text (each array without the batch axis), recent ones from the memo.

        Steps: look each text up in the memo; encode the misses; for each batch graph, shortest
        first, run the texts that fit it in chunks of BATCH_SIZE (a last chunk is padded when it
        has at least BATCH_MIN texts); run what is left one by one, each in the shortest one-text
        graph it fits in; remember the outputs.
        """
        with self._lock:
            found = {text: self._recent[text] for text in texts if text in self._recent}
            missing = list(dict.fromkeys(t for t in texts if t not in found))
            if missing:
                inputs = self.preprocessor.encode_batch(missing)
                lengths = (inputs["words"] != PAD).sum(axis=1)
                rest = list(range(len(missing)))
                for graph in self._batch_graphs:
                    fits = [row for row in rest if lengths[row] <= graph.steps]
                    while len(fits) >= BATCH_MIN:
                        chunk, fits = fits[: graph.batch], fits[graph.batch:]
                        self._invoke(graph, inputs, chunk, missing, found)
                    rest = [row for row in rest if missing[row] not in found]
                for row in rest:
                    single = next(graph for graph in self._singles if lengths[row] <= graph.steps)
                    self._invoke(single, inputs, [row], missing, found)
            while len(self._recent) > MEMO_SIZE:
                self._recent.popitem(last=False)
        return [found[text] for text in texts]

    def _invoke(
        self, graph: _Graph, inputs: dict[str, np.ndarray], rows: list[int], texts: list[str],
        found: dict[str, dict[str, np.ndarray]],
    ) -> None:
        """Run `rows` of the encoded inputs through one graph, cut to its steps and padded to its batch."""
        feed = {}
        for name, values in inputs.items():
            part = values[rows][:, : graph.steps] if name != "bag" else values[rows]
            if len(rows) < graph.batch:
                part = np.concatenate([part, np.zeros((graph.batch - len(rows), *part.shape[1:]), part.dtype)])
            feed[name] = part
        raw = graph.runner(**feed)
        # Copy out: the runner's output buffers are reused by the next invocation.
        for position, row in enumerate(rows):
            outputs = {name: np.array(value[position]) for name, value in raw.items()}
            outputs["known"] = np.array((inputs["words"][row] > OOV).any())  # a word of the vocabulary
            found[texts[row]] = self._recent[texts[row]] = outputs

    def probabilities(self, text: str) -> np.ndarray:
        """Calibrated class probabilities (labels order; includes the out-of-scope class if any)."""
        return self._run_many([text])[0]["probs"]

    def probabilities_many(self, texts: list[str]) -> np.ndarray:
        """`probabilities` of many texts, shape (len(texts), len(labels))."""
        return np.stack([outputs["probs"] for outputs in self._run_many(texts)])

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    def predict_many(self, texts: list[str]) -> list[Prediction]:
        predictions = []
        for outputs in self._run_many(texts):
            prediction = decide(outputs["probs"], self.labels, self.oos_index, self.thresholds)
            if prediction.intent is not None and not outputs["known"]:
                # Not one word the model has ever seen (keyboard mashes, another language): the
                # subword features alone would still pick an intent, so refuse to guess.
                prediction = replace(prediction, intent=None)
            predictions.append(prediction)
        return predictions

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalized sentence vectors from the encoder, shape (len(texts), dim)."""
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, outputs in enumerate(self._run_many(texts)):
            out[i] = outputs["embedding"]
        return out
