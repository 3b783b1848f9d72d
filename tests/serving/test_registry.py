"""Bundles go through the shared store (the database): any node fetches what another published."""

from __future__ import annotations

import hashlib

import pytest

from serving import registry
from serving.models import ActiveBundle, BundleArchive

pytestmark = [pytest.mark.django_db]


def write_bundle(directory, version: str) -> dict[str, bytes]:
    files = {
        "manifest.json": f'{{"version": "{version}", "format": 1}}'.encode(),
        "intent/model.tflite": bytes(range(256)) * 40,
        "index/tickets.faiss": b"\x00\x01" * 1000,
        "report/per_intent.json": b"{}",
    }
    for name, data in files.items():
        path = directory / version / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def test_a_bundle_stored_by_one_node_is_fetched_whole_by_another(settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path / "node-a"
    files = write_bundle(registry.bundles_dir(), "v1")
    registry.store("v1")
    registry.store("v1")  # once only
    assert BundleArchive.objects.get().size > 0

    settings.ARTIFACTS_DIR = tmp_path / "node-b"
    directory = registry.fetch("v1")
    assert directory == tmp_path / "node-b" / "bundles" / "v1"
    assert {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()} == files
    assert registry.list_versions() == ["v1"]
    assert [p.name for p in registry.bundles_dir().iterdir()] == ["v1"], "a temporary directory was left behind"


def test_a_corrupt_archive_is_never_unpacked(settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path / "node-a"
    write_bundle(registry.bundles_dir(), "v1")
    registry.store("v1")
    BundleArchive.objects.filter(version="v1").update(sha256=hashlib.sha256(b"something else").hexdigest())
    settings.ARTIFACTS_DIR = tmp_path / "node-b"
    with pytest.raises(registry.IncompatibleBundle, match="corrupt"):
        registry.fetch("v1")
    assert not (registry.bundles_dir() / "v1").exists()


def test_the_active_version_is_the_deployments_not_the_nodes(settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path / "node-a"
    write_bundle(registry.bundles_dir(), "v1")
    registry.store("v1")
    (tmp_path / "node-a" / "ACTIVE").write_text("v0\n")  # the pointer file of older releases
    assert registry.active_version() == "v0"  # still honoured while the database names none
    ActiveBundle.objects.create(pk=1, bundle_id="v1")
    assert registry.active_version() == "v1"


def test_an_unknown_version_is_a_clear_error(settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path / "node-a"
    with pytest.raises(FileNotFoundError, match="no bundle v9"):
        registry.fetch("v9")
