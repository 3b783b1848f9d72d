"""The evaluation harness's reading of other people's files: columns and out-of-scope labels."""

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
