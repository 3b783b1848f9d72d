"""Admin for model versions (activate / roll back) and retraining runs (progress, metrics, gate)."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from serving import registry
from training.models import ModelVersion, TrainingRun


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["version", "is_active", "accuracy", "macro_f1", "oos_recall", "created"]
    readonly_fields = ["version", "data_fingerprint", "created", "metrics_table", "confusion_matrix",
                       "per_intent_changes"]
    exclude = ["metrics"]
    actions = ["activate"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(boolean=True, description="Active")
    def is_active(self, version: ModelVersion) -> bool:
        return version.version == registry.active_version()

    def accuracy(self, version: ModelVersion):
        return version.metrics.get("accuracy")

    def macro_f1(self, version: ModelVersion):
        return version.metrics.get("macro_f1")

    def oos_recall(self, version: ModelVersion):
        return version.metrics.get("oos_recall")

    @admin.display(description="Metrics")
    def metrics_table(self, version: ModelVersion) -> str:
        keep = {k: v for k, v in version.metrics.items() if k not in ("heldout", "regression", "training", "export")}
        return format_html("<pre>{}</pre>", json.dumps(keep, indent=2))

    @admin.display(description="Confusion matrix (held-out)")
    def confusion_matrix(self, version: ModelVersion) -> str:
        if not registry.confusion_matrix_path(version.version).exists():
            return "-"
        url = reverse("admin:training_modelversion_confusion", args=[version.pk])
        return format_html('<img src="{}" alt="Confusion matrix of {}" style="max-width:720px">', url, version.version)

    def get_urls(self):
        return [path("<int:pk>/confusion.png", self.admin_site.admin_view(self.confusion_png),
                     name="training_modelversion_confusion"), *super().get_urls()]

    def confusion_png(self, request: HttpRequest, pk: int) -> FileResponse:
        version = get_object_or_404(ModelVersion, pk=pk)
        image = registry.confusion_matrix_path(version.version)
        if not image.exists():
            raise Http404("no confusion matrix for this version")
        return FileResponse(open(image, "rb"), content_type="image/png")

    @admin.display(description="Per-intent accuracy (held-out) against the model it replaced")
    def per_intent_changes(self, version: ModelVersion) -> str:
        run = TrainingRun.objects.filter(version=version).first()
        return per_intent_table(run) if run else "-"

    @admin.action(description="Activate the selected version in every web process")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        version = queryset.get().version
        try:
            registry.activate_version(version)
        except Exception as exc:
            self.message_user(request, f"{version} does not load and was not activated: {exc}", messages.ERROR)
            return
        self.message_user(request, f"{version} is now active; web processes switch within seconds.")


def per_intent_table(run: TrainingRun) -> str:
    new = (run.metrics.get("heldout") or {}).get("per_intent") or {}
    old = (run.active_metrics.get("heldout") or {}).get("per_intent") or {}
    rows = []
    for intent in sorted(set(new) | set(old)):
        before, after = old.get(intent), new.get(intent)
        delta = f"{after - before:+.3f}" if before is not None and after is not None else "new" if before is None else "gone"
        rows.append((intent, before if before is not None else "-", after if after is not None else "-", delta))
    if not rows:
        return "-"
    body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
    return format_html("<table><tr><th>intent</th><th>active</th><th>candidate</th><th>change</th></tr>{}</table>", body)


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["pk", "status", "trigger", "stage", "progress_percent", "version", "created", "finished"]
    list_filter = ["status", "trigger"]
    readonly_fields = ["status", "trigger", "stage", "progress", "version", "error", "created", "started",
                       "finished", "worker_pid", "gate", "summary", "changes"]
    exclude = ["metrics", "active_metrics"]
    change_list_template = "admin/training/trainingrun/change_list.html"

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="Progress")
    def progress_percent(self, run: TrainingRun) -> str:
        return f"{run.progress:.0%}"

    def gate(self, run: TrainingRun) -> str:
        return run.metrics.get("gate", "-")

    @admin.display(description="Candidate vs active")
    def summary(self, run: TrainingRun) -> str:
        rows = []
        for split in ("heldout", "regression"):
            for metric in ("accuracy", "macro_f1", "oos_recall"):
                new = (run.metrics.get(split) or {}).get(metric)
                old = (run.active_metrics.get(split) or {}).get(metric)
                rows.append((f"{split} {metric}", new, old if old is not None else "-"))
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html("<table><tr><th></th><th>candidate</th><th>active</th></tr>{}</table>", body)

    @admin.display(description="Per-intent changes")
    def changes(self, run: TrainingRun) -> str:
        return per_intent_table(run)

    def get_urls(self):
        return [path("retrain/", self.admin_site.admin_view(self.retrain_now), name="training_retrain"),
                *super().get_urls()]

    def retrain_now(self, request: HttpRequest) -> HttpResponse:
        from training.tasks import enqueue

        if request.method == "POST":
            with transaction.atomic():
                run = enqueue("admin")
            self.message_user(request, f"Retraining run {run.pk} queued on the worker.")
        return redirect("admin:training_trainingrun_changelist")
