"""Signals of training, for the layers above (the API's webhooks)."""

from django.dispatch import Signal

# kwargs: version (ModelVersion); a retrain passed the gate and its bundle now serves.
model_published = Signal()
