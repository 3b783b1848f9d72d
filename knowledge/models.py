"""Curated knowledge: intents with their answers, labelled examples, and past tickets.

The bottom Django app: it imports no other app of ours. Links up to the chat (the message an
example came from, the conversation a ticket was proposed from) are plain ids that chat maintains.
"""

from django.conf import settings
from django.db import models


class Intent(models.Model):
    """Something customers ask for, with the curated answer the bot gives."""

    name = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    answer = models.TextField(
        blank=True, help_text="Shown to the customer. Links and bold allowed (sanitized)."
    )
    quick_replies = models.JSONField(
        default=list, blank=True, help_text='Buttons under the answer, e.g. ["Talk to a person"].'
    )
    handoff = models.BooleanField(default=False, help_text="Asking for this hands the chat to a human.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "chat_intent"  # its table since before knowledge had an app of its own
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TrainingExample(models.Model):
    """A labelled utterance: an intent, or out-of-scope when intent is empty and is_oos is set."""

    class Origin(models.TextChoices):
        IMPORT = "import", "Imported"
        REVIEW = "review", "Review queue"
        ADMIN = "admin", "Admin"
        DEMO = "demo", "Demo data"

    text = models.TextField()
    intent = models.ForeignKey(Intent, null=True, blank=True, on_delete=models.CASCADE, related_name="examples")
    is_oos = models.BooleanField(default=False)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.ADMIN)
    # The customer message it was labelled from, by id (chat owns the link and deletes the example
    # with its message).
    message_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "chat_trainingexample"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(intent__isnull=False) | models.Q(is_oos=True),
                name="example_has_label",
            )
        ]

    def __str__(self) -> str:
        return f"{self.text[:50]} → {self.intent or 'out-of-scope'}"


class Ticket(models.Model):
    class Status(models.TextChoices):
        PROPOSED = "proposed", "Awaiting approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    question = models.TextField()
    resolution = models.TextField()
    intent = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    # The conversation it was proposed from, by id: chat sits above knowledge and owns the link
    # (chat.models clears it when that conversation is deleted).
    conversation_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "retrieval_ticket"  # its table since before knowledge had an app of its own
        indexes = [models.Index(fields=["status", "approved_at"])]

    def __str__(self) -> str:
        return self.question[:60]


class Lookup(models.Model):
    """A curated answer backed by the shop's own system: values from the conversation go out in a
    signed HTTPS request, the JSON reply fills the answer's template (chat/lookups.py)."""

    class Slot(models.TextChoices):
        ORDER_NUMBER = "order_number", "Order number"
        EMAIL = "email", "Email"
        POSTCODE = "postcode", "Postcode"

    intent = models.OneToOneField(Intent, on_delete=models.CASCADE, related_name="lookup")
    url = models.URLField(max_length=500, help_text="The shop's endpoint; it gets a signed JSON POST.")
    secret = models.CharField(max_length=100, help_text="Signs each request (X-Signature, as webhooks).")
    slots = models.JSONField(default=list, help_text='Values it needs, e.g. ["order_number"] (or email, postcode).')
    template = models.TextField(
        help_text="The answer, with {name} for each field of the shop's JSON reply and each slot, e.g. "
        "“Order {order_number} {status} on {shipped_on} with {carrier}.”"
    )
    timeout_seconds = models.FloatField(default=3.0)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"lookup for {self.intent.name}"
