"""Model versions and retraining runs (no TensorFlow here: the admin loads this module)."""

from django.db import models


class ModelVersion(models.Model):
    """A published bundle: its version string names its directory in ARTIFACTS_DIR."""

    version = models.CharField(max_length=64, unique=True)
    metrics = models.JSONField(default=dict, blank=True)
    data_fingerprint = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.version


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PUBLISHED = "published", "Published"
        REJECTED = "rejected", "Rejected by the gate"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=20, default="manual")
    progress = models.FloatField(default=0.0)
    stage = models.CharField(max_length=100, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    active_metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL)
    worker_pid = models.IntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"
