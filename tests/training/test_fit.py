"""How long fine-tuning runs: small data gets enough optimizer steps (no model is trained here)."""

from training.fit import BATCH_SIZE, MAX_EPOCHS, MIN_TRAIN_STEPS, epochs_for


def test_large_data_keeps_the_epochs_asked_for():
    assert epochs_for(9000, 12) == 12  # BANKING77's training split: 141 steps an epoch


def test_a_small_bot_gets_enough_epochs_for_the_minimum_number_of_steps():
    epochs = epochs_for(600, 12)  # 10 batches an epoch
    assert 12 < epochs < MAX_EPOCHS and epochs * -(-600 // BATCH_SIZE) >= MIN_TRAIN_STEPS


def test_tiny_data_stops_at_the_epoch_cap():
    assert epochs_for(10, 12) == MAX_EPOCHS


def test_more_epochs_asked_for_than_the_floor_are_kept():
    assert epochs_for(300, MAX_EPOCHS + 20) == MAX_EPOCHS + 20
