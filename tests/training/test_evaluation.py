"""The evaluation harness's reading of other people's files (columns, out-of-scope labels) and its options."""

import pytest
from django.core.management import CommandError, call_command

from training.evaluation import guess_columns, unknown_as_out_of_scope


def test_columns_asked_for_are_used_as_given():
    assert guess_columns(["text", "intent"], "utterance", "tag") == ("utterance", "tag")


def test_common_column_names_are_found_when_none_are_asked_for():
    assert guess_columns(["sentence", "label"], None, None) == ("sentence", "label")
    assert guess_columns(["Query", "Category"], None, None) == ("Query", "Category")


def test_an_unknown_header_falls_back_to_the_default_names_so_the_error_names_them():
    assert guess_columns(["a", "b"], None, None) == ("text", "intent")


def test_test_labels_that_no_training_row_has_count_as_out_of_scope():
    test, unknown = unknown_as_out_of_scope(["refund", "delivery", None], ["refund", "NO_NODES_DETECTED", "sofa", None])
    assert test == ["refund", None, None, None]
    assert unknown == ["NO_NODES_DETECTED", "sofa"]


def test_a_test_file_with_only_known_labels_is_unchanged():
    test = ["refund", None]
    assert unknown_as_out_of_scope(["refund"], test) == (test, [])


def test_evaluate_intents_refuses_an_expected_share_outside_zero_to_one_before_training(tmp_path):
    for name in ("train.csv", "test.csv"):
        (tmp_path / name).write_text("text,intent\nwhere is my parcel,delivery\nrefund please,refund\n")
    with pytest.raises(CommandError, match="between 0 and 1"):
        call_command("evaluate_intents", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
                     "--expected-oos-share", "1.5")
