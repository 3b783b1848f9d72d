"""One retraining run at a time in the whole deployment, whichever machine's worker runs it."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from training.pipeline import RetrainBusy, lock_is_free, retrain_lock

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_a_run_on_one_machine_holds_the_lock_for_every_machine(settings, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("one machine only on SQLite (a file lock)")
    holding, release = threading.Event(), threading.Event()

    def run_on_machine_a() -> None:
        settings.ARTIFACTS_DIR = tmp_path / "machine-a"
        with retrain_lock():
            holding.set()
            release.wait(30)

    machine_a = threading.Thread(target=run_on_machine_a)
    machine_a.start()
    try:
        assert holding.wait(30)
        settings.ARTIFACTS_DIR = tmp_path / "machine-b"  # another machine's files
        assert not lock_is_free(), "the reaper on machine B would fail machine A's running retrain"
        with pytest.raises(RetrainBusy):
            with retrain_lock():
                pass
    finally:
        release.set()
        machine_a.join(30)
    assert lock_is_free()
