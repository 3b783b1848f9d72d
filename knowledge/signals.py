"""Signals about the curated knowledge, sent by the layers above and heard by training.

Training sits at the top; a lower layer that removes training data cannot import it, so it says
what happened and training decides what to do (queue a retrain that forgets the removed data).
"""

from django.dispatch import Signal

# Sent inside the transaction that removed labelled examples or tickets; kwargs: `reason` (str).
training_data_removed = Signal()
