"""What the API reads and writes: one serializer per resource, and the bodies of the actions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api import webhooks
from api.models import Delivery, Webhook
from chat.models import Conversation, Message
from knowledge.markup import answer_text, sanitize_answer
from knowledge.models import Intent, Ticket, TrainingExample
from knowledge.tickets import approve_ticket, reject_ticket
from serving import registry
from training.models import ModelVersion, TrainingRun


class CustomerSerializer(serializers.Serializer):
    user_id = serializers.CharField(allow_null=True, help_text="The shop's user id, from a verified identity.")
    verified = serializers.BooleanField()
    name = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True, help_text="Verified, or left by the customer.")


class ConversationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    site = serializers.CharField(source="site.public_key", read_only=True)
    visitor = serializers.UUIDField(source="visitor.public_id", read_only=True)
    agent = serializers.SerializerMethodField()
    messages = serializers.IntegerField(source="last_seq", read_only=True, help_text="How many messages it has.")
    customer = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = ["id", "site", "visitor", "customer", "status", "agent", "handoff_reason", "resolution", "messages",
                  "created", "updated"]
        read_only_fields = fields

    def get_agent(self, conversation: Conversation) -> str | None:
        return conversation.agent.get_username() if conversation.agent else None

    @extend_schema_field(CustomerSerializer())
    def get_customer(self, conversation: Conversation) -> dict[str, Any]:
        visitor = conversation.visitor
        return {"user_id": visitor.external_id or None, "verified": bool(visitor.external_id), "name": visitor.name,
                "email": visitor.email}


class ConversationFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    visitor = serializers.UUIDField(required=False, help_text="The visitor's id.")
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    updated_after = serializers.DateTimeField(required=False)


class MessageSerializer(serializers.ModelSerializer):
    text = serializers.SerializerMethodField(help_text="Plain text (a curated answer's markup removed).")
    html = serializers.SerializerMethodField(help_text="A curated answer's sanitized HTML; else null.")
    agent = serializers.SerializerMethodField(help_text="The agent's name on agent messages.")

    class Meta:
        model = Message
        fields = ["seq", "sender", "text", "html", "source", "intent", "confidence", "model_version", "feedback",
                  "agent", "created"]
        read_only_fields = fields

    def get_text(self, message: Message) -> str:
        return answer_text(message.text) if message.source == Message.Source.ANSWER else message.text

    def get_html(self, message: Message) -> str | None:
        return sanitize_answer(message.text) if message.source == Message.Source.ANSWER else None

    def get_agent(self, message: Message) -> str | None:
        if message.sender != Message.Sender.AGENT or message.agent is None:
            return None
        return message.agent.get_short_name() or message.agent.get_username()


class AgentMessageIn(serializers.Serializer):
    text = serializers.CharField(max_length=settings.CHAT_MAX_MESSAGE_CHARS, trim_whitespace=True)
    agent = serializers.CharField(
        required=False, help_text="Username of an active staff user to speak as; default: the key's agent."
    )


class HandoffIn(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, default="requested through the API")


class CloseIn(serializers.Serializer):
    resolution = serializers.CharField(
        required=False, default="", allow_blank=True,
        help_text="How it was resolved; a resolution becomes a ticket proposal awaiting approval.",
    )


class ActionResult(serializers.Serializer):
    status = serializers.CharField(help_text="The conversation's status after the action.")
    messages = MessageSerializer(many=True, help_text="What the action added to the conversation.")


class ExampleTexts(serializers.ListField):
    """The intent's example texts: read from its related examples, written as a list of strings."""

    def to_representation(self, data: Any) -> list[str]:
        return [example.text for example in data.all()]


class IntentSerializer(serializers.ModelSerializer):
    examples = ExampleTexts(
        child=serializers.CharField(max_length=1000), required=False, max_length=5000,
        help_text="Example utterances. On write, the intent's examples become exactly this list.",
    )
    quick_replies = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=10)

    class Meta:
        model = Intent
        fields = ["name", "description", "answer", "quick_replies", "handoff", "examples", "created", "updated"]
        read_only_fields = ["created", "updated"]

    @transaction.atomic
    def create(self, validated: dict[str, Any]) -> Intent:
        examples = validated.pop("examples", [])
        intent = Intent.objects.create(**validated)
        _set_examples(intent, examples)
        return intent

    @transaction.atomic
    def update(self, intent: Intent, validated: dict[str, Any]) -> Intent:
        examples = validated.pop("examples", None)
        for name, value in validated.items():
            setattr(intent, name, value)
        intent.save()
        if examples is not None:
            _set_examples(intent, examples)
        return intent


def _set_examples(intent: Intent, texts: list[str]) -> None:
    """Keep the examples whose text is listed, delete the others, add the new ones."""
    wanted = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    intent.examples.exclude(text__in=wanted).delete()
    have = set(intent.examples.values_list("text", flat=True))
    TrainingExample.objects.bulk_create(
        [TrainingExample(text=text, intent=intent, origin=TrainingExample.Origin.ADMIN) for text in wanted
         if text not in have]
    )
    if hasattr(intent, "_prefetched_objects_cache"):
        intent._prefetched_objects_cache.pop("examples", None)


class TicketSerializer(serializers.ModelSerializer):
    class Meta:
        model = Ticket
        fields = ["id", "question", "resolution", "intent", "status", "conversation_id", "approved_at", "created",
                  "updated"]
        read_only_fields = ["id", "conversation_id", "approved_at", "created", "updated"]

    def create(self, validated: dict[str, Any]) -> Ticket:
        status = validated.pop("status", Ticket.Status.PROPOSED)
        ticket = Ticket.objects.create(**validated)
        return _set_status(ticket, status)

    def update(self, ticket: Ticket, validated: dict[str, Any]) -> Ticket:
        status = validated.pop("status", None)
        for name, value in validated.items():
            setattr(ticket, name, value)
        ticket.save()
        return _set_status(ticket, status) if status and status != ticket.status else ticket


def _set_status(ticket: Ticket, status: str) -> Ticket:
    """Status changes go through knowledge.tickets (they stamp `updated`, which ingestion follows)."""
    if status == Ticket.Status.APPROVED:
        return approve_ticket(ticket)
    if status == Ticket.Status.REJECTED:
        return reject_ticket(ticket)
    return ticket


class TicketRow(serializers.Serializer):
    question = serializers.CharField()
    resolution = serializers.CharField()
    intent = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)


class TicketImportIn(serializers.Serializer):
    tickets = TicketRow(many=True, max_length=10000)
    approved = serializers.BooleanField(default=False, help_text="Approve them at once (else: proposals).")


class TicketCsvIn(serializers.Serializer):
    file = serializers.FileField(help_text="CSV with the columns question, answer and optionally intent.")
    approved = serializers.BooleanField(default=False)


class TicketImportResult(serializers.Serializer):
    created = serializers.IntegerField()
    skipped = serializers.IntegerField()
    approved = serializers.BooleanField()


class ModelVersionSerializer(serializers.ModelSerializer):
    active = serializers.SerializerMethodField()
    available = serializers.SerializerMethodField(help_text="Whether its bundle is on disk (can be activated).")

    class Meta:
        model = ModelVersion
        fields = ["version", "active", "available", "metrics", "created"]
        read_only_fields = fields

    def get_active(self, version: ModelVersion) -> bool:
        return version.version == self.context.setdefault("active_version", registry.active_version())

    def get_available(self, version: ModelVersion) -> bool:
        return version.version in self.context.setdefault("on_disk", set(registry.list_versions()))

    def to_representation(self, version: ModelVersion) -> dict[str, Any]:
        data = super().to_representation(version)
        # The headline numbers; the per-split detail stays in the admin.
        data["metrics"] = {k: version.metrics.get(k) for k in ("accuracy", "macro_f1", "oos_recall", "n_examples",
                                                                "n_intents")}
        return data


class TrainingRunSerializer(serializers.ModelSerializer):
    version = serializers.CharField(source="version.version", read_only=True, allow_null=True, default=None)
    gate = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "status", "trigger", "stage", "progress", "version", "gate", "error", "created", "started",
                  "finished"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_gate(self, run: TrainingRun) -> str | None:
        gate = run.metrics.get("gate")
        return str(gate) if gate is not None else None


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.CharField(), min_length=1,
        help_text='Event names (conversation.started, message.customer, message.bot, handoff.requested, '
                  'agent.joined, conversation.closed, rating.created, model.published), or ["*"] for all.',
    )

    class Meta:
        model = Webhook
        fields = ["id", "url", "events", "is_active", "failures", "disabled_reason", "created"]
        read_only_fields = ["id", "failures", "disabled_reason", "created"]

    def validate_url(self, url: str) -> str:
        if not url.lower().startswith(("https://", "http://")):
            raise serializers.ValidationError("webhook URLs are http(s)")
        return url

    def validate_events(self, events: list[str]) -> list[str]:
        try:
            return webhooks.clean_events(events)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class NewWebhookSerializer(WebhookSerializer):
    secret = serializers.CharField(read_only=True, help_text="Signs every delivery. Shown only in this response.")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = [*WebhookSerializer.Meta.read_only_fields, "secret"]


class DeliverySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="event_id", read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "event", "status", "attempts", "last_status", "last_response_ms", "last_error",
                  "next_attempt", "created", "delivered"]
        read_only_fields = fields


class InsightsQuery(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="First day (default: 29 days before end).")
    end = serializers.DateField(required=False, help_text="Last day, inclusive (default: today).")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        from insights.metrics import MAX_DAYS

        end = data.get("end") or timezone.now().date()
        start = data.get("start") or end - timedelta(days=29)
        if start > end or (end - start).days >= MAX_DAYS:
            raise serializers.ValidationError(f"start must be on or before end, at most {MAX_DAYS} days apart")
        return {"start": start, "end": end}


class Rates(serializers.Serializer):
    conversations = serializers.IntegerField()
    customer_messages = serializers.IntegerField()
    bot_replies = serializers.IntegerField()
    containment_rate = serializers.FloatField(allow_null=True)
    handoff_rate = serializers.FloatField(allow_null=True)
    fallback_rate = serializers.FloatField(allow_null=True)
    clarify_rate = serializers.FloatField(allow_null=True)
    csat_average = serializers.FloatField(allow_null=True)
    csat_count = serializers.IntegerField()
    thumbs_up = serializers.IntegerField()
    thumbs_down = serializers.IntegerField()
    median_first_response_s = serializers.FloatField(allow_null=True)
    median_agent_response_s = serializers.FloatField(allow_null=True)


class VersionRates(Rates):
    version = serializers.CharField()


class DayRates(Rates):
    day = serializers.DateField()


class InsightsSerializer(Rates):
    site = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    by_model_version = VersionRates(many=True)
    days = DayRates(many=True)
