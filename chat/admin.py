"""Admin for sites, visitors, conversations and messages, plus the review queue."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from chat import conversations, handoff, review
from chat.models import Conversation, Erasure, Message, Rating, Site, Visitor
from knowledge.models import Intent


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "public_key", "is_active", "retention_days", "created"]
    search_fields = ["name", "public_key"]
    list_filter = ["is_active"]
    readonly_fields = ["snippet"]
    filter_horizontal = ["agents"]
    actions = ["new_identity_secret"]

    @admin.action(description="Generate a new identity secret (signed-in customers' hashes must be redone)")
    def new_identity_secret(self, request, queryset):
        from chat.identity import new_secret

        for site in queryset:
            site.identity_secret = new_secret()
            site.save(update_fields=["identity_secret"])
        self.message_user(request, f"New identity secrets for {queryset.count()} sites: see each site's page.")

    @admin.display(description="Embed snippet")
    def snippet(self, site: Site) -> str:
        return f'<script src="https://YOUR-HOST/widget.js" data-site="{site.public_key}" async></script>'


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("seq", "sender", "text", "source", "intent", "confidence", "feedback", "model_version", "created")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["seq"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class RatingInline(admin.StackedInline):
    model = Rating
    fields = ("score", "comment", "created")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["conversation", "score", "comment", "created"]
    list_filter = ["score", "conversation__site"]
    readonly_fields = ["conversation", "score", "comment", "created"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["public_id", "site", "status", "agent", "handoff_reason", "last_seq", "updated"]
    list_filter = ["status", "site"]
    search_fields = ["public_id", "messages__text"]
    readonly_fields = ["public_id", "site", "visitor", "last_seq", "created", "updated"]
    exclude = ["token"]
    inlines = [RatingInline, MessageInline]
    actions = ["rotate_tokens"]

    @admin.action(description="Rotate resume tokens (the customer's saved chats stop opening them)")
    def rotate_tokens(self, request: HttpRequest, queryset) -> None:
        for conversation in queryset:
            conversations.rotate_token(conversation.pk)
        self.message_user(request, f"Rotated {queryset.count()} resume tokens.")

    def get_queryset(self, request: HttpRequest):
        # An agent reads the chats of the sites they are assigned to (and of sites with nobody assigned).
        queryset = super().get_queryset(request)
        if not isinstance(request.user, User):
            return queryset.none()
        return queryset.filter(handoff.visible_to(request.user)).distinct()


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ["public_id", "site", "email", "created"]
    search_fields = ["public_id", "email"]
    actions = ["export_json", "erase"]

    @admin.action(description="Export everything stored about the selected visitors (JSON)")
    def export_json(self, request: HttpRequest, queryset) -> HttpResponse:
        from chat.retention import export_visitor

        data = [export_visitor(visitor) for visitor in queryset.select_related("site")]
        response = HttpResponse(json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json")
        name = f"visitor-{data[0]['visitor']['id']}.json" if len(data) == 1 else "visitors.json"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @admin.action(description="Erase the selected visitors and everything derived from them")
    def erase(self, request, queryset):
        from chat.retention import erase_visitor

        erased = [erase_visitor(visitor, request.user).counts for visitor in queryset]
        self.message_user(request, f"Erased {len(erased)} visitors: {erased}")


@admin.register(Erasure)
class ErasureAdmin(admin.ModelAdmin):
    list_display = ["erased_at", "requested_by", "counts"]
    readonly_fields = ["erased_at", "requested_by", "counts"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["conversation", "seq", "sender", "text", "source", "intent", "confidence", "feedback", "created"]
    list_filter = ["sender", "source", "feedback"]
    search_fields = ["text", "intent"]
    readonly_fields = [f.name for f in Message._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


# The review queue: one page, one click per message.


# The review queue: a page of the ranked items at a time, out of the best REVIEW_SCAN.
REVIEW_PAGE_SIZE = 20
REVIEW_SCAN = 500


# Labelling writes training examples (and may create intents): the matching model permissions,
# not just staff status, as for the same changes in the admin (issue 14, item 7).
@staff_member_required
@permission_required("knowledge.add_trainingexample", raise_exception=True)
def review_queue(request: HttpRequest) -> HttpResponse:
    page = Paginator(review.queue(limit=REVIEW_SCAN), REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **admin.site.each_context(request),
        "title": "Review queue",
        "items": page.object_list,
        "page": page,
        "intents": Intent.objects.order_by("name"),
    }
    return render(request, "admin/chat/review.html", context)


@staff_member_required
@permission_required("knowledge.add_trainingexample", raise_exception=True)
@require_POST
def review_label(request: HttpRequest, message_id: int) -> HttpResponse:
    message = get_object_or_404(Message, pk=message_id, sender=Message.Sender.CUSTOMER)
    action = request.POST.get("action")
    if action == "new" and not request.user.has_perm("knowledge.add_intent"):
        raise PermissionDenied("creating an intent needs the permission to add intents")
    if action == "intent" and not str(request.POST.get("intent", "")).isdigit():
        messages.error(request, "Choose the right intent first: nothing is pre-selected.")
    elif action == "intent":
        intent = get_object_or_404(Intent, pk=request.POST.get("intent"))
        review.label(message, intent=intent)
        messages.success(request, f"Labelled as {intent.name}.")
    elif action == "oos":
        review.label(message, out_of_scope=True)
        messages.success(request, "Marked out-of-scope.")
    elif action == "new":
        name = request.POST.get("name", "").strip().lower().replace(" ", "_")
        answer = request.POST.get("answer", "").strip()
        if not name or not answer:
            messages.error(request, "A new intent needs a name and an answer.")
        else:
            review.label_new_intent(message, name, answer)
            messages.success(request, f"Created intent {name} and labelled the message.")
    elif action == "dismiss":
        review.dismiss(message)
    return redirect(reverse("review_queue"))


admin.site.site_header = "Support bot administration"
admin.site.site_title = "Support bot"
admin.site.index_title = "Curate the bot"
