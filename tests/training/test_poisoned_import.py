"""A junk import is flagged before training, and the gate refuses a candidate far below the
active model's recorded figures (issue 14, item 13)."""

import io
import random

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from knowledge.management.commands.import_intents import conflicting_texts, import_examples, suspicious
from training.pipeline import gate

pytestmark = pytest.mark.django_db


def junk_rows(n: int = 3000, labels: int = 205) -> list[tuple[str, str]]:
    rng = random.Random(13)
    texts = ["where is my order", "refund please", "change my address", "cancel it"]
    return [(rng.choice(texts), f"label-{rng.randrange(labels)}") for _ in range(n)]


def test_an_import_of_a_few_texts_with_many_new_labels_is_flagged():
    result = import_examples(junk_rows(), [], oos_label="oos")
    assert result["intents_created"] == 205 and result["conflicting_texts"] == 4
    warning = suspicious(result)
    assert warning and "205 new intents" in warning and "4 of its texts carry different labels" in warning
    assert len(conflicting_texts()) == 4


def test_an_ordinary_import_is_not_flagged():
    result = import_examples([("where is my order", "shipping"), ("refund please", "refund")], [], oos_label="oos")
    assert suspicious(result) is None


def test_the_admin_import_page_warns_before_anyone_trains_on_it():
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw-for-tests-only"))
    csv_text = "text,intent\n" + "".join(f"{text},{label}\n" for text, label in junk_rows(600, 40))
    upload = io.BytesIO(csv_text.encode())
    upload.name = "junk.csv"
    response = client.post("/admin/knowledge/intent/import/", {"examples": upload}, secure=True, follow=True)
    assert b"Check this import before retraining" in response.content


def test_the_import_command_warns_too(tmp_path, capsys):
    path = tmp_path / "junk.csv"
    path.write_text("text,intent\n" + "".join(f"{text},{label}\n" for text, label in junk_rows(300, 30)))
    call_command("import_intents", str(path))
    assert "Check this import before retraining" in capsys.readouterr().err


def scores(accuracy, n=1000):
    return {"accuracy": accuracy, "macro_f1": accuracy, "oos_recall": None, "n": n}


def test_a_candidate_far_below_the_active_models_recorded_accuracy_is_refused(settings):
    settings.RETRAIN_MAX_DROP_FROM_RECORDED = 0.15
    # Both models are bad on the poisoned held-out split, so comparing them there passes.
    active = {"heldout": scores(0.10), "regression": scores(None, 0), "recorded": {"accuracy": 0.72}}
    poisoned = {"heldout": scores(0.106), "regression": scores(None, 0)}
    passed, reason = gate(poisoned, active)
    assert not passed and "far below the active model's recorded 0.72" in reason
    fine = {"heldout": scores(0.70), "regression": scores(None, 0)}
    assert gate(fine, {**active, "heldout": scores(0.69)})[0]
