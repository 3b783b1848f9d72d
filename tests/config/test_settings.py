"""Settings come from the environment and fail loudly on bad values; production checks are clean."""

import os
import secrets
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DEBUG")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name, value, message", [
    ("CHAT_RATE_PER_MINUTE", "lots", "CHAT_RATE_PER_MINUTE must be an integer, got 'lots'"),
    ("CHAT_MAX_MESSAGE_CHARS", "0", "CHAT_MAX_MESSAGE_CHARS must be an integer >= 1, got 0"),
    ("DB_CONN_MAX_AGE", "forever", "DB_CONN_MAX_AGE must be an integer, got 'forever'"),
    ("RETRAIN_MIN_ACCURACY", "high", "RETRAIN_MIN_ACCURACY must be a number, got 'high'"),
    ("DEBUG", "maybe", "DEBUG must be true or false, got 'maybe'"),
    ("DATABASE_URL", "nosuchdb://secret@x/db",
     "DATABASE_URL must be a postgres://user@host:port/name or sqlite:///path URL, got the scheme 'nosuchdb'"),
    ("EMAIL_PORT", "smtp", "EMAIL_PORT must be an integer, got 'smtp'"),
    ("CHAT_OFFLINE_AFTER_SECONDS", "0", "CHAT_OFFLINE_AFTER_SECONDS must be an integer >= 1, got 0"),
    ("INTENT_EXPECTED_OOS_SHARE", "1.5", "INTENT_EXPECTED_OOS_SHARE must be between 0 and 1, got 1.5"),
    ("INTENT_EXPECTED_OOS_SHARE", "half", "INTENT_EXPECTED_OOS_SHARE must be a number, got 'half'"),
])
def test_a_bad_value_stops_the_start_with_a_clear_error(name, value, message):
    result = run_manage("check", **{name: value})
    assert result.returncode != 0
    # The last line is what an operator reads: the setting, what it must be, and the bad value.
    assert result.stderr.strip().splitlines()[-1] == f"django.core.exceptions.ImproperlyConfigured: {message}", (
        result.stderr[-2000:]
    )
    if name == "DATABASE_URL":
        assert value not in result.stderr  # a URL may hold a password


def test_production_settings_pass_the_deploy_checks():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="false",
                        SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="chat.example.com",
                        REDIS_URL="redis://127.0.0.1:6379/0", EMAIL_HOST="smtp.example.com")
    assert result.returncode == 0, result.stderr + result.stdout


def test_production_without_a_mail_server_is_warned_that_the_team_hears_nothing():
    result = run_manage("check", "--deploy", DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50),
                        ALLOWED_HOSTS="chat.example.com", REDIS_URL="redis://127.0.0.1:6379/0")
    assert "chat.W010" in result.stderr + result.stdout


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
