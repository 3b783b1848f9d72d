"""The shared store of model bundles: every node of a deployment reads bundles from here.

Each published bundle is one row holding its directory as a gzipped tar archive; one row names
the active version. Nodes keep an unpacked copy per version under ARTIFACTS_DIR (a cache that
serving.registry fills on demand), so a node that starts later fetches the active bundle itself.
"""

from __future__ import annotations

from django.db import models


class BundleArchive(models.Model):
    version = models.CharField(max_length=64, primary_key=True)
    manifest = models.JSONField()
    archive = models.BinaryField()  # tar.gz of the bundle directory
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()  # bytes of the archive
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.version


class ActiveBundle(models.Model):
    """The single row (pk=1) naming the version every web process serves."""

    bundle = models.ForeignKey(BundleArchive, on_delete=models.PROTECT, related_name="+")
    activated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.bundle_id
