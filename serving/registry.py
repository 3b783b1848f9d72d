"""The model registry: the only module that knows the bundle layout.

A bundle is one directory `<ARTIFACTS_DIR>/bundles/<version>/` holding

    manifest.json   version, format, data fingerprint, metrics, library versions
    intent/         the intent model (serving.intents.IntentModel.load)
    index/          the ticket index and its encoder (retrieval.ingest.LiveIndex.load), optional
    report/         the held-out evaluation: per-intent metrics, confusion_matrix.png

Published bundles live in the database (serving.models: one archive per version, one row naming
the active version), which every node of a deployment shares; `bundles/` is this node's cache of
them, filled on demand. Training writes a bundle into a `draft()` (whose parts are named here, not
in training) and calls `publish()`, then `activate_version()` once its database rows are
committed; serving calls `current()`, which notices a new active version within
BUNDLE_POLL_SECONDS, fetches it if this node lacks it, builds the new bundle fully, then swaps
one reference. A bundle that fails to load is never switched to: the old one stays live, as it
does while the database is unreachable.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings

if TYPE_CHECKING:
    from retrieval.examples import Nearest
    from serving.intents import Prediction

# The model's runtime (serving.intents: the light TFLite runtime, never TensorFlow) and the
# index (retrieval) are imported where a bundle is loaded or published: a web process whose
# helpers answer reads the registry (the admin, the API, the health check) without numpy,
# ~28 MB of its memory (issue 20).

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

    short_intents: frozenset[str]

    def evidence_many(self, texts: list[str], k: int = 5) -> list[tuple[list[Hit], Nearest]]: ...


class OneAtATime:
    """The batch methods of a bundle that answers one text at a time (the empty bundle, test fakes)."""

    short_intents: frozenset[str] = frozenset()

    def predict_many(self, texts: list[str]) -> list[Prediction]:
        return [self.predict(text) for text in texts]  # type: ignore[attr-defined]  # a mixin: subclasses define predict

    def search_many(self, texts: list[str], k: int = 5) -> list[list[Hit]]:
        return [self.search(text, k) for text in texts]  # type: ignore[attr-defined]  # a mixin: subclasses define search

    def evidence_many(self, texts: list[str], k: int = 5) -> list[tuple[list[Hit], Nearest]]:
        """Tickets only: a bundle without examples in the ticket space has no nearest examples."""
        from retrieval.examples import Nearest

        return [(hits, Nearest()) for hits in self.search_many(texts, k)]


class EmptyBundle(OneAtATime):
    """What serves before any model was trained: knows no intent, finds no ticket."""

    version = ""

    def predict(self, text: str) -> Prediction:
        from serving.intents import Prediction

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
        from serving.intents import IntentModel

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
        # Chit-chat intents, for which a message of a word or two is not vague (retrieval.examples).
        examples = self.index.examples
        self.short_intents: frozenset[str] = examples.short_intents if examples is not None else frozenset()

    def predict(self, text: str) -> Prediction:
        return self.intents.predict(text)

    def predict_many(self, texts: list[str]) -> list[Prediction]:
        return self.intents.predict_many(texts)

    def embed(self, texts: list[str]) -> Any:
        return self.intents.embed(texts)

    def search(self, text: str, k: int = 5) -> list[Hit]:
        return self.search_many([text], k)[0]

    def search_many(self, texts: list[str], k: int = 5) -> list[list[Hit]]:
        return [hits for hits, _ in self.evidence_many(texts, k)]

    def evidence_many(self, texts: list[str], k: int = 5) -> list[tuple[list[Hit], Nearest]]:
        """For each text its k nearest tickets and its nearest examples per intent, in one space."""
        found, nearest = self.index.search_and_compare(texts, k)
        return [([Hit(ticket_id=i, score=s) for i, s in hits], near) for hits, near in zip(found, nearest, strict=True)]


def artifacts_dir() -> Path:
    return Path(settings.ARTIFACTS_DIR)


def bundles_dir() -> Path:
    return artifacts_dir() / "bundles"


def report_dir(bundle: Path) -> Path:
    """Where a bundle keeps its evaluation report (per-intent metrics, confusion matrix)."""
    return bundle / "report"


def confusion_matrix_path(version: str) -> Path:
    """The version's confusion matrix on this node (fetched with its bundle if need be)."""
    try:
        directory = fetch(version)
    except (FileNotFoundError, IncompatibleBundle):
        directory = bundles_dir() / version
    return report_dir(directory) / "confusion_matrix.png"


def active_version() -> str:
    """The active version of the deployment, or '' when none was published.

    Before the shared store existed a node kept its pointer in `<ARTIFACTS_DIR>/ACTIVE`; that
    file still counts while the database names no version (`manage.py activate` moves it over).
    """
    from serving.models import ActiveBundle

    version = ActiveBundle.objects.filter(pk=1).values_list("bundle_id", flat=True).first()
    if version:
        return str(version)
    try:
        return (artifacts_dir() / "ACTIVE").read_text().strip()
    except FileNotFoundError:
        return ""


def list_versions() -> list[str]:
    """Every published version: in the shared store, or (published before it) in this node's cache."""
    from serving.models import BundleArchive

    stored = set(BundleArchive.objects.values_list("version", flat=True))
    cached = {p.name for p in bundles_dir().iterdir() if (p / "manifest.json").exists()} if bundles_dir().is_dir() else set()
    return sorted(stored | cached)


def _pack(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        for path in sorted(directory.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    return buffer.getvalue()


def store(version: str) -> None:
    """Put a bundle of this node's cache into the shared store (once; a no-op if it is there)."""
    from serving.models import BundleArchive

    if BundleArchive.objects.filter(version=version).exists():
        return
    directory = bundles_dir() / version
    data = _pack(directory)
    BundleArchive.objects.get_or_create(version=version, defaults={
        "manifest": json.loads((directory / "manifest.json").read_text()), "archive": data,
        "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
    })


def fetch(version: str) -> Path:
    """This node's copy of a published bundle, unpacked from the shared store if it has none.

    Unpacked beside the cache and renamed into place, so processes of one node that fetch
    the same version at once never see half a bundle (the first rename wins).
    """
    from serving.models import BundleArchive

    directory = bundles_dir() / version
    if (directory / "manifest.json").exists():
        return directory
    row = BundleArchive.objects.filter(version=version).values_list("archive", "sha256").first()
    if row is None:
        raise FileNotFoundError(f"no bundle {version} in the shared store or in {bundles_dir()}")
    data, digest = bytes(row[0]), row[1]
    if hashlib.sha256(data).hexdigest() != digest:
        raise IncompatibleBundle(f"the stored archive of bundle {version} is corrupt (sha256 mismatch)")
    bundles_dir().mkdir(parents=True, exist_ok=True)
    unpacked = Path(tempfile.mkdtemp(prefix=f".fetch-{version}-", dir=bundles_dir()))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(unpacked, filter="data")
        try:
            os.replace(unpacked, directory)
        except OSError:
            if not (directory / "manifest.json").exists():
                raise
        else:
            log.info("fetched bundle %s from the shared store (%d bytes)", version, len(data))
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
    return directory


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
    """The active bundle freshly loaded (for training's gate), or None."""
    version = active_version()
    if not version:
        return None
    try:
        return LoadedBundle(fetch(version))
    except Exception:
        log.exception("the active bundle %s does not load", version)
        return None


def publish(bundle: Draft | Path, manifest: dict[str, Any], *, activate: bool = True) -> str:
    """Move a fully written draft into place as a new version, for every node.

    Steps: write the manifest into the draft, put the intent model's graphs into one file
    (serving.intents.pack_graphs), load it once to prove it serves (a bundle that
    cannot load is never published), rename it to bundles/<version> in this node's cache, store
    its archive in the shared store, then (unless the caller activates after its own
    transaction commits) make it the active version.
    """
    staging = bundle.directory if isinstance(bundle, Draft) else bundle
    version = str(manifest["version"])
    manifest = {**manifest, "format": BUNDLE_FORMAT}
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    if (staging / "intent").is_dir():
        from serving.intents import pack_graphs

        pack_graphs(staging / "intent")  # every web process then holds the model's weights once
    LoadedBundle(staging)
    bundles_dir().mkdir(parents=True, exist_ok=True)
    target = bundles_dir() / version
    if target.exists():
        raise FileExistsError(f"version {version} already exists")
    os.replace(staging, target)
    store(version)
    if activate:
        activate_version(version)
    return version


def activate_version(version: str) -> None:
    """Make a published version the active one everywhere, after checking it loads here."""
    from serving.models import ActiveBundle

    LoadedBundle(fetch(version))
    store(version)  # one published on this node before the shared store existed
    ActiveBundle.objects.update_or_create(pk=1, defaults={"bundle_id": version})


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
            try:
                version = active_version()
            except Exception as exc:  # the database is unreachable: keep serving what is loaded
                log.warning("cannot read the active bundle version (%s); still serving %s", exc, self._loaded_version)
                return
            if version == self._loaded_version:
                return
            if not version:
                self._bundle, self._loaded_version = EmptyBundle(), version
                return
            if version in self._failed and time.monotonic() - self._failed[version] < 60:
                return
            try:
                bundle = LoadedBundle(fetch(version))
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
