"""Settings come from the environment and fail loudly on bad values; production checks are clean."""

import os
import secrets
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DEBUG")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name, value", [
    ("CHAT_RATE_PER_MINUTE", "lots"),
    ("CHAT_MAX_MESSAGE_CHARS", "0"),
    ("DEBUG", "maybe"),
    ("DATABASE_URL", "nosuchdb://x"),
])
def test_a_bad_value_stops_the_start_with_a_clear_error(name, value):
    result = run_manage("check", **{name: value})
    assert result.returncode != 0
    assert name in result.stderr or "ImproperlyConfigured" in result.stderr or "scheme" in result.stderr


def test_production_settings_pass_the_deploy_checks():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="false",
                        SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="chat.example.com",
                        REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode == 0, result.stderr + result.stdout


def test_the_development_secret_is_an_error_in_deploy_checks():
    result = run_manage("check", "--deploy", DEBUG="false", ALLOWED_HOSTS="chat.example.com")
    assert "chat.E002" in result.stderr + result.stdout


def test_without_debug_and_without_a_secret_key_check_fails_and_the_web_process_does_not_start():
    result = run_manage("check", DEBUG="false")
    assert result.returncode != 0 and "chat.E003" in result.stderr + result.stdout
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    web = subprocess.run([sys.executable, "-m", "config.web", "-p", "1", "config.asgi:application"], cwd=ROOT,
                         env={**env, "DEBUG": "false"}, capture_output=True, text=True, timeout=120)
    assert web.returncode != 0 and "chat.E003" in web.stderr


def test_development_mode_starts_with_the_development_key():
    assert run_manage("check", DEBUG="true").returncode == 0
