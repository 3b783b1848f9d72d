"""manage.py import_intents: intents, examples and answers from CSV, idempotently."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from knowledge.models import Intent, TrainingExample

pytestmark = pytest.mark.django_db


@pytest.fixture
def examples(tmp_path):
    path = tmp_path / "examples.csv"
    path.write_text("text,intent\ni lost my card,lost_card\nmy balance?,balance\nwhat's the weather,oos\n")
    return path


def run(*args):
    out = StringIO()
    call_command("import_intents", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_it_creates_intents_and_examples(examples):
    result = run(str(examples))
    assert result["intents_created"] == 2 and result["examples_created"] == 3
    assert TrainingExample.objects.filter(is_oos=True, intent=None).count() == 1
    assert set(Intent.objects.values_list("name", flat=True)) == {"lost_card", "balance"}


def test_reimport_adds_no_duplicate_examples(examples):
    run(str(examples))
    result = run(str(examples))
    assert result["examples_created"] == 0 and result["examples_skipped"] == 3
    assert TrainingExample.objects.count() == 3


def test_it_sets_answers_and_honours_custom_columns(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("utterance,label\nrefund please,refund\nhello,none\n")
    answers = tmp_path / "a.csv"
    answers.write_text("intent,answer\nrefund,Refunds take 5 days.\n")
    run(str(data), "--text-column", "utterance", "--intent-column", "label", "--oos-label", "none",
        "--answers", str(answers))
    assert Intent.objects.get(name="refund").answer == "Refunds take 5 days."
    assert TrainingExample.objects.filter(is_oos=True).count() == 1
