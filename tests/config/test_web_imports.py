"""A web process whose helpers answer holds no numerical stack: its memory stays small (issue 20)."""

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# What Daphne's process imports before and while it serves: Django with every app (the admin's
# autodiscovery included), the ASGI application, every URL (pages, API, insights, health) and
# the chat consumers with their inbox.
WEB_PROCESS = textwrap.dedent("""
    import sys
    import django
    django.setup()
    import config.asgi
    from django.urls import get_resolver
    get_resolver().url_patterns
    import chat.consumers, chat.health, chat.inbox, api.views, insights.views, training.admin
    heavy = ("numpy", "faiss", "ai_edge_litert", "tensorflow", "sklearn", "scipy")
    print(" ".join(sorted(name for name in heavy if name in sys.modules)) or "none")
""")


def test_the_web_process_imports_neither_numpy_nor_the_model_runtime():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run([sys.executable, "-c", WEB_PROCESS], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"})
    assert result.returncode == 0, result.stderr[-2000:]
    # numpy alone is ~21 MB of a web process's ~110 MB at start; the model and index load in the
    # answer helpers (chat.inbox), and readiness asks them instead of loading here (chat.health).
    assert result.stdout.strip().splitlines()[-1] == "none"
