"""The model registry: the only module that knows the bundle layout.

A bundle is one directory `<ARTIFACTS_DIR>/bundles/<version>/` holding

    manifest.json   version, format, data fingerprint, metrics, library versions
    intent/         the intent model (serving.intents.IntentModel.load)
    index/          the ticket index and its encoder (retrieval.ingest.LiveIndex.load), optional
    report/         the held-out evaluation: per-intent metrics, confusion_matrix.png

and `<ARTIFACTS_DIR>/ACTIVE` names the active version. Training writes a bundle into a `draft()`
(whose parts are named here, not in training) and calls `publish()`, then `activate_version()`
once its database rows are committed;
serving calls `current()`, which notices a new ACTIVE within BUNDLE_POLL_SECONDS, builds
the new bundle fully, then swaps one reference. A bundle that fails to load is never
switched to: the old one stays live.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

from serving.intents import IntentModel, Prediction  # the light runtime, never TensorFlow

log = logging.getLogger(__name__)

BUNDLE_FORMAT = 1


class IncompatibleBundle(Exception):
    """The bundle on disk was written in a format this code cannot serve."""


@dataclass(frozen=True)
class Hit:
    ticket_id: int
    score: float


class Bundle(Protocol):
    version: str

    def predict(self, text: str) -> Prediction: ...

    def search(self, text: str, k: int = 5) -> list[Hit]: ...

    def predict_many(self, texts: list[str]) -> list[Prediction]: ...

    def search_many(self, texts: list[str], k: int = 5) -> list[list[Hit]]: ...


class OneAtATime:
    """The batch methods of a bundle that answers one text at a time (the empty bundle, test fakes)."""

    def predict_many(self, texts: list[str]) -> list[Prediction]:
        return [self.predict(text) for text in texts]  # type: ignore[attr-defined]

    def search_many(self, texts: list[str], k: int = 5) -> list[list[Hit]]:
        return [self.search(text, k) for text in texts]  # type: ignore[attr-defined]


class EmptyBundle(OneAtATime):
    """What serves before any model was trained: knows no intent, finds no ticket."""

    version = ""

    def predict(self, text: str) -> Prediction:
        return Prediction(intent=None, confidence=0.0, ranking=[], threshold=1.0)

    def search(self, text: str, k: int = 5) -> list[Hit]:
        return []


class LoadedBundle:
    """A bundle read from disk: the intent model and, when present, the ticket index."""

    def __init__(self, directory: Path) -> None:
        manifest = json.loads((directory / "manifest.json").read_text())
        if manifest.get("format") != BUNDLE_FORMAT:
            raise IncompatibleBundle(
                f"bundle {directory.name} has format {manifest.get('format')}, expected {BUNDLE_FORMAT}"
            )
        self.directory = directory
        self.manifest = manifest
        self.version: str = manifest["version"]
        self.intents = IntentModel.load(directory / "intent")
        # The ticket index with its own encoder (retrieval.encoder), kept in step with approvals
        # by retrieval.ingest.sync at most every BUNDLE_POLL_SECONDS; without an index/ it
        # starts empty, so tickets approved after publishing are still found.
        from retrieval.ingest import LiveIndex

        try:
            if (directory / "index").is_dir():
                self.index: Any = LiveIndex.load(directory / "index", self.intents)
            else:
                self.index = LiveIndex.empty(self.intents)
        except ValueError as exc:
            raise IncompatibleBundle(f"ticket index of bundle {directory.name}: {exc}") from exc
        # The score a ticket needs to be offered, calibrated when the index was built.
        self.ticket_min_score: float = self.index.min_score

    def predict(self, text: str) -> Prediction:
        return self.intents.predict(text)

    def predict_many(self, texts: list[str]) -> list[Prediction]:
        return self.intents.predict_many(texts)

    def embed(self, texts: list[str]) -> Any:
        return self.intents.embed(texts)

    def search(self, text: str, k: int = 5) -> list[Hit]:
        return self.search_many([text], k)[0]

    def search_many(self, texts: list[str], k: int = 5) -> list[list[Hit]]:
        return [[Hit(ticket_id=i, score=s) for i, s in found] for found in self.index.search_many(texts, k)]


def artifacts_dir() -> Path:
    return Path(settings.ARTIFACTS_DIR)


def bundles_dir() -> Path:
    return artifacts_dir() / "bundles"


def report_dir(bundle: Path) -> Path:
    """Where a bundle keeps its evaluation report (per-intent metrics, confusion matrix)."""
    return bundle / "report"


def confusion_matrix_path(version: str) -> Path:
    return report_dir(bundles_dir() / version) / "confusion_matrix.png"


def active_version() -> str:
    """The version named by the ACTIVE pointer, or '' when none was published."""
    try:
        return (artifacts_dir() / "ACTIVE").read_text().strip()
    except FileNotFoundError:
        return ""


def list_versions() -> list[str]:
    if not bundles_dir().is_dir():
        return []
    return sorted(p.name for p in bundles_dir().iterdir() if (p / "manifest.json").exists())


class Draft:
    """A bundle being written by training: the registry names its parts."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.intent_dir = directory / "intent"
        self.index_dir = directory / "index"
        self.report_dir = report_dir(directory)


@contextmanager
def draft() -> Iterator[Draft]:
    """A fresh staging directory under ARTIFACTS_DIR (same file system, so publishing is a rename)."""
    root = artifacts_dir() / "staging"
    root.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="staging-", dir=root))
    try:
        yield Draft(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def active_bundle() -> LoadedBundle | None:
    """The active bundle freshly loaded from disk (for training's gate), or None."""
    version = active_version()
    if not version:
        return None
    try:
        return LoadedBundle(bundles_dir() / version)
    except Exception:
        log.exception("the active bundle %s does not load", version)
        return None


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def publish(bundle: Draft | Path, manifest: dict[str, Any], *, activate: bool = True) -> str:
    """Move a fully written draft into place as a new version.

    Steps: write the manifest into the draft, load it once to prove it serves (a bundle that
    cannot load is never published), rename it to bundles/<version>, then (unless the caller
    activates after its own transaction commits) point ACTIVE at it.
    """
    staging = bundle.directory if isinstance(bundle, Draft) else bundle
    version = str(manifest["version"])
    manifest = {**manifest, "format": BUNDLE_FORMAT}
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    LoadedBundle(staging)
    bundles_dir().mkdir(parents=True, exist_ok=True)
    target = bundles_dir() / version
    if target.exists():
        raise FileExistsError(f"version {version} already exists")
    os.replace(staging, target)
    if activate:
        activate_version(version)
    return version


def activate_version(version: str) -> None:
    """Point ACTIVE at an existing version after checking it loads."""
    directory = bundles_dir() / version
    if not (directory / "manifest.json").exists():
        raise FileNotFoundError(f"no bundle {version} in {bundles_dir()}")
    LoadedBundle(directory)
    artifacts_dir().mkdir(parents=True, exist_ok=True)
    _write_atomically(artifacts_dir() / "ACTIVE", version + "\n")


class _Registry:
    """Holds the live bundle of this process; lazy, cached, swappable in tests."""

    def __init__(self) -> None:
        self._bundle: Bundle = EmptyBundle()
        self._loaded_version: str | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._override: Bundle | None = None
        self._failed: dict[str, float] = {}

    def current(self) -> Bundle:
        if self._override is not None:
            return self._override
        now = time.monotonic()
        if self._loaded_version is None or now - self._checked_at >= settings.BUNDLE_POLL_SECONDS:
            self.refresh()
        return self._bundle

    def refresh(self) -> None:
        """Load the ACTIVE bundle if it changed; keep serving the old one if loading fails."""
        with self._lock:
            self._checked_at = time.monotonic()
            version = active_version()
            if version == self._loaded_version:
                return
            if not version:
                self._bundle, self._loaded_version = EmptyBundle(), version
                return
            if version in self._failed and time.monotonic() - self._failed[version] < 60:
                return
            try:
                bundle = LoadedBundle(bundles_dir() / version)
            except Exception:
                log.exception("bundle %s failed to load; still serving %s", version, self._loaded_version)
                self._failed[version] = time.monotonic()
                return
            self._bundle, self._loaded_version = bundle, version
            log.info("now serving bundle %s", version)

    @contextmanager
    def override(self, bundle: Any) -> Iterator[Any]:  # Any: tests pass partial fakes
        """Test hook: serve `bundle` inside the block."""
        previous, self._override = self._override, bundle
        try:
            yield bundle
        finally:
            self._override = previous

    def reset(self) -> None:
        with self._lock:
            self._bundle, self._loaded_version, self._checked_at = EmptyBundle(), None, 0.0
            self._failed.clear()


registry = _Registry()
current = registry.current
