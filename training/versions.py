"""Model versions as the admin and `model_versions` show them."""

from typing import Any

from serving import registry
from training.models import ModelVersion


def list_versions() -> list[dict[str, Any]]:
    active = registry.active_version()
    on_disk = set(registry.list_versions())
    rows = []
    for version in ModelVersion.objects.order_by("-created"):
        rows.append(
            {
                "version": version.version,
                "status": "active" if version.version == active else ("available" if version.version in on_disk else "missing"),
                "active": version.version == active,
                "metrics": {k: version.metrics.get(k) for k in ("accuracy", "macro_f1", "oos_recall", "n_examples", "n_intents")},
                "created": version.created.isoformat(),
            }
        )
    return rows
