"""The evaluation harness on other people's files: labels unknown to training, and its options."""

import pytest
from django.core.management import CommandError, call_command

from training.evaluation import unknown_as_out_of_scope


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
