"""Admin for sites, conversations, intents and examples, plus the review queue and CSV import/export."""

from __future__ import annotations

import csv
import io

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from chat import review
from chat.models import Conversation, Erasure, Intent, Message, Site, TrainingExample, Visitor


def csv_response(filename: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "public_key", "is_active", "retention_days", "created"]
    search_fields = ["name", "public_key"]
    list_filter = ["is_active"]
    readonly_fields = ["snippet"]

    @admin.display(description="Embed snippet")
    def snippet(self, site: Site) -> str:
        return f'<script src="https://YOUR-HOST/widget.js" data-site="{site.public_key}" async></script>'


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["seq", "sender", "text", "source", "intent", "confidence", "feedback", "model_version", "created"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["seq"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["public_id", "site", "status", "agent", "handoff_reason", "last_seq", "updated"]
    list_filter = ["status", "site"]
    search_fields = ["public_id", "messages__text"]
    readonly_fields = ["public_id", "site", "visitor", "last_seq", "created", "updated"]
    exclude = ["token"]
    inlines = [MessageInline]


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ["public_id", "site", "email", "created"]
    search_fields = ["public_id", "email"]
    actions = ["erase"]

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


class ExampleInline(admin.TabularInline):
    model = TrainingExample
    fields = ["text", "origin", "created"]
    readonly_fields = ["origin", "created"]
    extra = 1


class ImportForm(forms.Form):
    examples = forms.FileField(help_text="CSV with columns text,intent (rows labelled oos are out-of-scope).")
    answers = forms.FileField(required=False, help_text="Optional CSV with columns intent,answer.")


@admin.register(Intent)
class IntentAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "has_answer", "handoff", "example_count", "updated"]
    search_fields = ["name", "description", "answer", "examples__text"]
    list_filter = ["handoff"]
    inlines = [ExampleInline]
    actions = ["export_csv"]
    change_list_template = "admin/chat/intent/change_list.html"

    @admin.display(boolean=True, description="Answer")
    def has_answer(self, intent: Intent) -> bool:
        return bool(intent.answer)

    @admin.display(description="Examples")
    def example_count(self, intent: Intent) -> int:
        return intent.examples.count()

    @admin.action(description="Export selected intents with their answers and examples (CSV)")
    def export_csv(self, request, queryset):
        rows = [
            (e.text, i.name, i.answer) for i in queryset.prefetch_related("examples") for e in i.examples.all()
        ]
        return csv_response("intents.csv", ["text", "intent", "answer"], rows)

    def get_urls(self):
        return [path("import/", self.admin_site.admin_view(self.import_csv), name="chat_intent_import"),
                *super().get_urls()]

    def import_csv(self, request: HttpRequest) -> HttpResponse:
        from chat.management.commands.import_intents import import_examples

        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            rows = list(csv.DictReader(io.TextIOWrapper(form.cleaned_data["examples"], encoding="utf-8")))
            answers_file = form.cleaned_data["answers"]
            answers = list(csv.DictReader(io.TextIOWrapper(answers_file, encoding="utf-8"))) if answers_file else []
            if rows and not {"text", "intent"} <= set(rows[0]):
                messages.error(request, "The examples CSV needs the columns text and intent.")
            else:
                result = import_examples(
                    [(r["text"], r["intent"]) for r in rows],
                    [(r["intent"], r["answer"]) for r in answers if r.get("intent")],
                    oos_label="oos",
                )
                messages.success(request, f"Imported: {result}")
                return redirect("admin:chat_intent_changelist")
        context = {**self.admin_site.each_context(request), "form": form, "title": "Import intents from CSV"}
        return render(request, "admin/chat/import.html", context)


@admin.register(TrainingExample)
class TrainingExampleAdmin(admin.ModelAdmin):
    list_display = ["text", "intent", "is_oos", "origin", "created"]
    list_filter = ["origin", "is_oos", "intent"]
    search_fields = ["text", "intent__name"]
    autocomplete_fields = ["intent"]
    readonly_fields = ["message"]
    actions = ["export_csv"]

    @admin.action(description="Export selected examples (CSV)")
    def export_csv(self, request, queryset):
        rows = [(e.text, e.intent.name if e.intent else "oos") for e in queryset.select_related("intent")]
        return csv_response("examples.csv", ["text", "intent"], rows)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["conversation", "seq", "sender", "text", "source", "intent", "confidence", "feedback", "created"]
    list_filter = ["sender", "source", "feedback"]
    search_fields = ["text", "intent"]
    readonly_fields = [f.name for f in Message._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


# The review queue: one page, one click per message.


@staff_member_required
def review_queue(request: HttpRequest) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": "Review queue",
        "items": review.queue(),
        "intents": Intent.objects.order_by("name"),
    }
    return render(request, "admin/chat/review.html", context)


@staff_member_required
@require_POST
def review_label(request: HttpRequest, message_id: int) -> HttpResponse:
    message = get_object_or_404(Message, pk=message_id, sender=Message.Sender.CUSTOMER)
    action = request.POST.get("action")
    if action == "intent":
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
