"""Start the product's processes (web, worker, beat) and stop them all together on Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run Daphne, a Celery worker and Celery beat in the foreground; Ctrl-C stops all three."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))

    def handle(self, *args, port, host, **options):
        python = sys.executable
        var = settings.BASE_DIR / "var"
        (var / "broker" / "queue").mkdir(parents=True, exist_ok=True)
        (var / "broker" / "processed").mkdir(parents=True, exist_ok=True)
        web = [python, "-m", "daphne", "-b", host, "-p", str(port)]
        if os.environ.get("PROXY_HEADERS", "").lower() in ("1", "true", "yes"):
            # Behind a reverse proxy every customer would share the proxy's address (and its
            # per-address limits): take the client address from X-Forwarded-For instead.
            web.append("--proxy-headers")
        commands = {
            "web": [*web, "config.asgi:application"],
            # One training at a time: a TensorFlow child is ~0.6 GB (STYLE.md §21).
            "worker": [python, "-m", "celery", "-A", "config", "worker", "--concurrency", "1",
                       "--loglevel", "INFO"],
            "beat": [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                     "--schedule", str(var / "celerybeat-schedule")],
        }
        # Database calls run on Daphne's thread pool; they mostly wait on the database, so more
        # threads than cores keep 200 chats moving (each thread holds one connection).
        env = {**os.environ, "ASGI_THREADS": os.environ.get("ASGI_THREADS", "24")}
        processes = {name: subprocess.Popen(cmd, start_new_session=True, env=env) for name, cmd in commands.items()}
        self.stdout.write(f"Serving on http://{host}:{port}/ (web, worker, beat). Ctrl-C stops everything.")
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with {process.returncode}; stopping the others")
                        exit_code = 1
                        stopping = True
                time.sleep(0.5)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        sys.exit(exit_code)
