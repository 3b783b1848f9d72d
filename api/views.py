"""The REST API's resources under /api/v1/: views parse and authorize, then call one action."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, views, viewsets
from rest_framework.decorators import action, api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from api import conversations as actions
from api import keys, serializers as s, webhooks
from api.models import Delivery, Webhook
from api.pagination import Cursor
from chat.models import Conversation, Message
from knowledge.models import Intent, Ticket
from knowledge.tickets import import_tickets_csv
from serving import registry
from training.models import ModelVersion, TrainingRun
from training.tasks import enqueue

UUID = r"[0-9a-fA-F-]{32,36}"


class Conflict(exceptions.APIException):
    status_code = 409
    default_code = "conflict"
    default_detail = "the resource's state does not allow this"


class BySeq(Cursor):
    ordering = "seq"


class ByName(Cursor):
    ordering = "name"


@extend_schema_view(
    list=extend_schema(summary="List the site's conversations, newest first", parameters=[s.ConversationFilter]),
    retrieve=extend_schema(summary="One conversation"),
)
class ConversationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The conversations of the key's site."""

    serializer_class = s.ConversationSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID

    def get_queryset(self) -> QuerySet[Conversation]:
        queryset = Conversation.objects.filter(site=self.request.auth.site).select_related("site", "visitor", "agent")
        if self.action != "list":
            return queryset
        query = s.ConversationFilter(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        f = query.validated_data
        lookups = {"status": "status", "visitor": "visitor__public_id", "created_after": "created__gte",
                   "created_before": "created__lt", "updated_after": "updated__gte"}
        return queryset.filter(**{lookups[name]: value for name, value in f.items()})

    def get_object(self) -> Conversation:
        try:
            return super().get_object()
        except Exception as exc:  # a malformed id is a 404 like an unknown one
            if isinstance(exc, exceptions.APIException):
                raise
            raise exceptions.NotFound("no conversation with this id") from exc

    @extend_schema(methods=["GET"], summary="The conversation's messages, oldest first",
                   responses=s.MessageSerializer(many=True))
    @extend_schema(methods=["POST"], summary="Post an agent message; it reaches the customer's socket",
                   request=s.AgentMessageIn, responses={201: s.ActionResult})
    @action(detail=True, methods=["get", "post"], pagination_class=BySeq)
    def messages(self, request: Request, id: str | None = None) -> Response:
        conversation = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(Message.objects.filter(conversation=conversation).select_related("agent"))
            return self.get_paginated_response(s.MessageSerializer(page, many=True).data)
        body = s.AgentMessageIn(data=request.data)
        body.is_valid(raise_exception=True)
        agent = self._agent(body.validated_data.get("agent"))
        reply = actions.post_agent_message(conversation, agent, body.validated_data["text"])
        return self._result(conversation, reply.messages, status.HTTP_201_CREATED)

    @extend_schema(summary="Hand the conversation to a person (it joins the agents' queue)",
                   request=s.HandoffIn, responses={200: s.ActionResult})
    @action(detail=True, methods=["post"])
    def handoff(self, request: Request, id: str | None = None) -> Response:
        conversation = self.get_object()
        body = s.HandoffIn(data=request.data)
        body.is_valid(raise_exception=True)
        reply = actions.hand_off(conversation, body.validated_data["reason"])
        return self._result(conversation, reply.messages)

    @extend_schema(summary="Close the conversation", request=s.CloseIn, responses={200: s.ActionResult})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, id: str | None = None) -> Response:
        conversation = self.get_object()
        body = s.CloseIn(data=request.data)
        body.is_valid(raise_exception=True)
        reply = actions.close(conversation, keys.agent_user(request.auth), body.validated_data["resolution"])
        return self._result(conversation, reply.messages)

    def _agent(self, username: str | None) -> User:
        if not username:
            return keys.agent_user(self.request.auth)
        user = User.objects.filter(username=username, is_active=True, is_staff=True).first()
        if user is None:
            raise exceptions.ValidationError({"agent": ["no active staff user has this username"]})
        return user

    def _result(self, conversation: Conversation, messages: list[Message], code: int = 200) -> Response:
        conversation.refresh_from_db(fields=["status"])
        data = {"status": conversation.status, "messages": s.MessageSerializer(messages, many=True).data}
        return Response(data, status=code)


@extend_schema_view(
    list=extend_schema(summary="List the intents with their answers and examples"),
    create=extend_schema(summary="Create an intent with its answer and examples (retrain to use them)"),
    update=extend_schema(summary="Replace an intent"),
    partial_update=extend_schema(summary="Change some of an intent's fields"),
    destroy=extend_schema(summary="Delete an intent and its examples"),
)
class IntentViewSet(viewsets.ModelViewSet):
    """Curated intents (shared by every site of this deployment)."""

    queryset = Intent.objects.prefetch_related("examples")
    serializer_class = s.IntentSerializer
    lookup_field = "name"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    pagination_class = ByName


class TicketFilter(s.serializers.Serializer):
    status = s.serializers.ChoiceField(choices=Ticket.Status.choices, required=False)
    intent = s.serializers.CharField(required=False)


@extend_schema_view(list=extend_schema(summary="List tickets, newest first", parameters=[TicketFilter]))
class TicketViewSet(viewsets.ModelViewSet):
    """Past tickets: approved ones answer customers (retrieval)."""

    serializer_class = s.TicketSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Ticket]:
        queryset = Ticket.objects.all()
        if self.action == "list":
            query = TicketFilter(data=self.request.query_params)
            query.is_valid(raise_exception=True)
            queryset = queryset.filter(**query.validated_data)
        return queryset

    @extend_schema(
        summary="Import many tickets: JSON rows, or a CSV file (question, answer, intent)",
        request={"application/json": s.TicketImportIn, "multipart/form-data": s.TicketCsvIn},
        responses={201: s.TicketImportResult},
    )
    @action(detail=False, methods=["post"], url_path="import")
    def bulk_import(self, request: Request) -> Response:
        if "file" in request.FILES:
            body: Any = s.TicketCsvIn(data=request.data)
            body.is_valid(raise_exception=True)
            with tempfile.TemporaryDirectory() as directory:
                path = Path(directory) / "tickets.csv"
                with open(path, "wb") as out:
                    for chunk in body.validated_data["file"].chunks():
                        out.write(chunk)
                try:
                    result = import_tickets_csv(path, approved=body.validated_data["approved"])
                except (ValueError, UnicodeDecodeError) as exc:
                    raise exceptions.ValidationError({"file": [str(exc)]}) from exc
            return Response({"created": result.created, "skipped": result.skipped, "approved": result.approved},
                            status=status.HTTP_201_CREATED)
        body = s.TicketImportIn(data=request.data)
        body.is_valid(raise_exception=True)
        approved = body.validated_data["approved"]
        with transaction.atomic():
            created = [
                s.TicketSerializer().create({**row, "status": Ticket.Status.APPROVED if approved else
                                            Ticket.Status.PROPOSED})
                for row in body.validated_data["tickets"]
            ]
        return Response({"created": len(created), "skipped": 0, "approved": approved}, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List model versions, newest first"),
    retrieve=extend_schema(summary="One model version"),
)
class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Published model bundles; retraining and activation need the admin scope."""

    queryset = ModelVersion.objects.all()
    serializer_class = s.ModelVersionSerializer
    lookup_field = "version"
    lookup_value_regex = r"[^/]+"
    write_scope = "admin"

    @extend_schema(summary="Queue a retrain on the worker (it publishes only if it passes the gate)",
                   request=None, responses={202: s.TrainingRunSerializer})
    @action(detail=False, methods=["post"])
    def retrain(self, request: Request) -> Response:
        with transaction.atomic():
            run = enqueue("api")
        return Response(s.TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="Serve this version in every web process",
                   request=None, responses={200: s.ModelVersionSerializer,
                                            409: OpenApiResponse(description="Its bundle is missing or does not load")})
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, version: str | None = None) -> Response:
        model_version = self.get_object()
        try:
            registry.activate_version(model_version.version)
        except Exception as exc:
            raise Conflict(f"{model_version.version} was not activated: {exc}", code="not_loadable") from exc
        return Response(self.get_serializer(model_version).data)


@extend_schema_view(
    list=extend_schema(summary="List retraining runs, newest first"),
    retrieve=extend_schema(summary="One retraining run (poll it after a retrain)"),
)
class TrainingRunViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = TrainingRun.objects.select_related("version")
    serializer_class = s.TrainingRunSerializer
    lookup_value_regex = r"\d+"


@extend_schema_view(
    list=extend_schema(summary="List the site's webhook subscriptions"),
    create=extend_schema(summary="Subscribe a URL to events; the response carries the signing secret, once",
                         request=s.WebhookSerializer, responses={201: s.NewWebhookSerializer}),
    retrieve=extend_schema(summary="One subscription"),
    update=extend_schema(summary="Change a subscription (setting is_active re-enables a disabled one)"),
    partial_update=extend_schema(summary="Change some of a subscription's fields"),
    destroy=extend_schema(summary="Unsubscribe"),
)
class WebhookViewSet(viewsets.ModelViewSet):
    """The site's webhook subscriptions (docs/webhooks.md); all of it needs the admin scope."""

    serializer_class = s.WebhookSerializer
    read_scope = write_scope = "admin"
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Webhook]:
        return Webhook.objects.filter(site=self.request.auth.site)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = s.WebhookSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        webhook = webhooks.subscribe(request.auth.site, body.validated_data["url"], body.validated_data["events"])
        return Response(s.NewWebhookSerializer(webhook).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: Any) -> None:
        webhook = serializer.save()
        if webhook.is_active:
            webhooks.enable(webhook)
        webhooks.subscriptions.reset()

    def perform_destroy(self, instance: Webhook) -> None:
        instance.delete()
        webhooks.subscriptions.reset()

    @extend_schema(summary="The subscription's deliveries, newest first (status, attempts, response time)",
                   responses=s.DeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        page = self.paginate_queryset(Delivery.objects.filter(webhook=self.get_object()))
        return self.get_paginated_response(s.DeliverySerializer(page, many=True).data)


class InsightsView(views.APIView):
    """The site's figures (docs/insights.md): the dashboard's numbers over a date range."""

    @extend_schema(summary="The site's figures over a date range: totals, per model version, per day",
                   parameters=[s.InsightsQuery], responses=s.InsightsSerializer)
    def get(self, request: Request) -> Response:
        from insights.metrics import summarize

        query = s.InsightsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        summary = summarize(request.auth.site, query.validated_data["start"], query.validated_data["end"])
        days = [{"day": day.isoformat(), **figures.rates()} for day, figures in sorted(summary.days.items())]
        return Response({**summary.as_json(), "days": days})


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def not_found(request: Request, rest: str = "") -> Response:
    """Unknown paths under /api/ answer in the API's error shape, not Django's HTML page."""
    raise exceptions.NotFound(f"no API resource at {request.path}")
