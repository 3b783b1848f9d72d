"""The chat's data: sites, visitors, conversations, messages, agent presence and erasures."""

import secrets
import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError

from django.db import models
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from knowledge.models import Ticket, TrainingExample
from django.utils import timezone


def validate_time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not a time zone (e.g. Europe/Berlin)") from exc


def validate_open_days(value: str) -> None:
    if any(day not in "1234567" for day in value) or len(set(value)) != len(value):
        raise ValidationError("days are ISO numbers 1 (Monday) to 7 (Sunday), each once, e.g. 12345")


def _public_key() -> str:
    return secrets.token_urlsafe(12)


def _resume_token() -> str:
    return secrets.token_urlsafe(32)


class Site(models.Model):
    """One installation of the chat (a website embedding the widget)."""

    class Position(models.TextChoices):
        RIGHT = "right", "Bottom right"
        LEFT = "left", "Bottom left"

    public_key = models.SlugField(max_length=64, unique=True, default=_public_key)
    name = models.CharField(max_length=200)
    allowed_origins = models.TextField(
        blank=True,
        help_text="One origin per line, e.g. https://shop.example.com or http://localhost:* "
        "(a * port matches any port).",
    )
    greeting = models.CharField(max_length=500, blank=True, default="Hi! How can I help you today?")
    color = models.CharField(max_length=7, default="#2563eb", help_text="Accent colour, #rrggbb.")
    position = models.CharField(max_length=5, choices=Position.choices, default=Position.RIGHT)
    language = models.CharField(max_length=10, default="en")
    retention_days = models.PositiveIntegerField(
        default=90, help_text="Raw conversations older than this are anonymized."
    )
    agents = models.ManyToManyField(
        "auth.User", blank=True, related_name="assigned_sites",
        help_text="Staff who answer this site's chats. None: every staff member (a single shop needs no setup).",
    )
    resume_token_days = models.PositiveIntegerField(
        default=30, help_text="A customer's saved chat can be resumed for this many days after its last message "
        "(0: no limit); after that the widget starts a new conversation.",
    )
    require_consent = models.BooleanField(
        default=False, help_text="The widget shows the privacy notice and asks the customer to accept it "
        "before their first message; the acceptance (time, notice version) is kept with the visitor.",
    )
    privacy_notice_url = models.URLField(blank=True, help_text="The privacy notice the widget links to.")
    privacy_notice_version = models.CharField(
        max_length=40, default="1", help_text="Change it when the notice changes: customers are asked again.",
    )
    redact_contacts = models.BooleanField(
        default=False,
        help_text="Replace emails, phone numbers and IP addresses in messages before they are stored. "
        "Off: agents read them until the retention period ends. Card numbers, CVV codes, IBANs, "
        "account numbers, SSNs and typed passwords are never stored, whatever this says.",
    )
    # Business hours: when people answer. No opening time means people answer at any hour.
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone],
        help_text="IANA time zone of the business hours, e.g. Europe/Berlin.",
    )
    opens_at = models.TimeField(null=True, blank=True, help_text="Empty: people answer at any hour.")
    closes_at = models.TimeField(null=True, blank=True)
    open_days = models.CharField(
        max_length=7, default="12345", blank=True, validators=[validate_open_days],
        help_text="Days with business hours, ISO numbers (1 = Monday ... 7 = Sunday), e.g. 12345.",
    )
    team_email = models.EmailField(
        blank=True, help_text="Where offline messages and customers' emails are sent."
    )
    is_active = models.BooleanField(default=True)
    identity_secret = models.CharField(
        max_length=100, blank=True,
        help_text="Signs logged-in customers' ids (data-user-hash, docs/widget.md). Keep it on the shop's "
        "server only. Empty: identities are ignored. Admin action: generate a new one.",
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.public_key})"

    def origin_list(self) -> list[str]:
        return [line.strip() for line in self.allowed_origins.splitlines() if line.strip()]


class Visitor(models.Model):
    """A customer, known only by an opaque id (no account needed)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="visitors")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(blank=True, help_text="Left by the customer when no agent was online.")
    name = models.CharField(max_length=200, blank=True)
    # The shop's user id, set only from a verified identity (chat/identity.py): one visitor per
    # logged-in customer and site, whatever device they chat from.
    external_id = models.CharField(max_length=255, blank=True, default="")
    consent_at = models.DateTimeField(null=True, blank=True, help_text="When the customer accepted the privacy notice.")
    consent_version = models.CharField(max_length=40, blank=True, help_text="The notice version they accepted.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "external_id"], condition=~models.Q(external_id=""),
                                    name="visitor_external_id_unique"),
        ]

    def __str__(self) -> str:
        return str(self.public_id)


class Conversation(models.Model):
    class Status(models.TextChoices):
        BOT = "bot", "Bot"
        WAITING = "waiting", "Waiting for an agent"
        HUMAN = "human", "With an agent"
        # Waited with nobody to take it: the team answers by email (the bot still answers here).
        OFFLINE = "offline", "Offline message"
        CLOSED = "closed", "Closed"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="conversations")
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="conversations")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    token = models.CharField(max_length=64, unique=True, default=_resume_token, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOT)
    # Highest seq handed out; bumped under a row lock so seqs are dense and ordered.
    last_seq = models.PositiveIntegerField(default=0)
    agent = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    handoff_reason = models.CharField(max_length=200, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    # When the customer's last socket closed while the chat waited: a chat nobody waits at
    # any more does not count in others' queue positions.
    customer_left = models.DateTimeField(null=True, blank=True)
    page = models.URLField(max_length=500, blank=True, help_text="The page the customer chatted from.")
    transcript_sent = models.DateTimeField(null=True, blank=True, help_text="When a transcript was last mailed.")
    resolution = models.TextField(blank=True)
    # A lookup waiting for a value the customer was asked for (chat/lookups.py):
    # {"intent": name, "values": {slot: value}}; empty when none.
    pending_lookup = models.JSONField(default=dict, blank=True)
    anonymized = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "waiting_since"]),
            # Insights roll up a site's conversations one day at a time.
            models.Index(fields=["site", "created"], name="conversation_site_created"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"


class Message(models.Model):
    class Sender(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        BOT = "bot", "Bot"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    class Source(models.TextChoices):
        """Which branch of the reply policy produced a bot message."""

        NONE = "", "-"
        ANSWER = "answer", "Curated answer"
        TICKET = "ticket", "Past ticket"
        CLARIFY = "clarify", "Did you mean"
        FALLBACK = "fallback", "Fallback"
        HANDOFF = "handoff", "Handoff"
        OFFER = "offer", "Offered a person"
        LOOKUP = "lookup", "From the shop's system"
        GREETING = "greeting", "Greeting"

    class Feedback(models.TextChoices):
        NONE = "", "-"
        UP = "up", "Thumbs up"
        DOWN = "down", "Thumbs down"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    sender = models.CharField(max_length=10, choices=Sender.choices)
    text = models.TextField()
    client_id = models.CharField(max_length=64, null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, blank=True, default="")
    intent = models.CharField(max_length=100, blank=True, default="")
    confidence = models.FloatField(null=True, blank=True)
    suggestions = models.JSONField(default=list, blank=True)
    ticket = models.ForeignKey(
        "knowledge.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_version = models.CharField(max_length=64, blank=True, default="")
    feedback = models.CharField(max_length=4, choices=Feedback.choices, blank=True, default="")
    agent = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    reviewed = models.BooleanField(default=False, help_text="Handled in the review queue.")
    created = models.DateTimeField(default=timezone.now)
    # The customer message a bot answer replies to: a batch answered again (after its helper
    # process died) finds the answers already stored instead of storing them twice.
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["conversation_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=models.Q(client_id__isnull=False),
                name="message_client_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.sender}: {self.text[:40]}"


class Rating(models.Model):
    """The customer's satisfaction with a conversation (1-5), given once, with an optional comment."""

    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, related_name="rating")
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(score__gte=1, score__lte=5), name="rating_score_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.score}/5 for {self.conversation_id}"


class AgentPresence(models.Model):
    """One open agent console socket; stale rows (no heartbeat) count as offline."""

    channel_name = models.CharField(max_length=200, unique=True)
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="presences")
    last_seen = models.DateTimeField(default=timezone.now)


class Erasure(models.Model):
    """A record that a visitor's data was erased, holding no trace of the data itself."""

    erased_at = models.DateTimeField(auto_now_add=True)
    requested_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    counts = models.JSONField(default=dict, help_text="How many rows of each kind were erased.")

    def __str__(self) -> str:
        return f"erasure {self.pk} at {self.erased_at:%Y-%m-%d %H:%M}"


@receiver(pre_delete, sender=Conversation)
def _unlink_knowledge(sender: type[Conversation], instance: Conversation, **kwargs: object) -> None:
    """Knowledge sits below chat and keeps plain ids: chat drops what hangs on a deleted chat.

    Examples labelled from its messages go with it (as a cascade would); tickets proposed from it
    stay, no longer linked.
    """
    TrainingExample.objects.filter(message_id__in=instance.messages.values("pk")).delete()
    Ticket.objects.filter(conversation_id=instance.pk).update(conversation_id=None)
