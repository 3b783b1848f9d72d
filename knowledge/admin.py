"""Admin for the curated knowledge: intents with answers and examples, tickets; CSV import/export."""

from __future__ import annotations


from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.db import models
from django.db.models import QuerySet
from django.urls import URLPattern, path

from knowledge.csvfiles import CsvError, csv_response, read_rows
from knowledge.models import Intent, Lookup, Ticket, TrainingExample
from knowledge.tickets import approve_ticket, reject_ticket


class ExampleInline(admin.TabularInline[TrainingExample, Intent]):
    model = TrainingExample
    fields = ["text", "origin", "created"]
    readonly_fields = ["origin", "created"]
    extra = 1


class LookupInline(admin.StackedInline[Lookup, Intent]):
    """An answer from the shop's system (chat/lookups.py): values from the chat, a signed request, a template."""

    model = Lookup
    extra = 0
    max_num = 1
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class ImportForm(forms.Form):
    examples = forms.FileField(help_text="CSV with columns text,intent (rows labelled oos are out-of-scope).")
    answers = forms.FileField(required=False, help_text="Optional CSV with columns intent,answer.")


@admin.register(Intent)
class IntentAdmin(admin.ModelAdmin[Intent]):
    list_display = ["name", "description", "has_answer", "handoff", "example_count", "updated"]
    search_fields = ["name", "description", "answer", "examples__text"]
    list_filter = ["handoff"]
    inlines = [ExampleInline, LookupInline]
    actions = ["export_csv"]
    change_list_template = "admin/knowledge/intent/change_list.html"

    @admin.display(boolean=True, description="Answer")
    def has_answer(self, intent: Intent) -> bool:
        return bool(intent.answer)

    @admin.display(description="Examples")
    def example_count(self, intent: Intent) -> int:
        return intent.examples.count()

    @admin.action(description="Export selected intents with their answers and examples (CSV)")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Intent]) -> HttpResponse:
        rows = [
            (e.text, i.name, i.answer) for i in queryset.prefetch_related("examples") for e in i.examples.all()
        ]
        return csv_response("intents.csv", ["text", "intent", "answer"], rows)

    def get_urls(self) -> list[URLPattern]:
        return [path("import/", self.admin_site.admin_view(self.import_csv), name="knowledge_intent_import"),
                *super().get_urls()]

    def import_csv(self, request: HttpRequest) -> HttpResponse:
        from knowledge.management.commands.import_intents import import_examples, suspicious

        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            answers_file = form.cleaned_data["answers"]
            try:
                rows = read_rows(form.cleaned_data["examples"], ["text", "intent"])
                answers = read_rows(answers_file, ["intent", "answer"]) if answers_file else []
            except CsvError as exc:
                messages.error(request, f"{exc}. The examples CSV needs the columns text and intent; "
                               "the answers CSV intent and answer.")
            else:
                result = import_examples(
                    [(r["text"], r["intent"]) for r in rows],
                    [(r["intent"], r["answer"]) for r in answers if r.get("intent")],
                    oos_label="oos",
                )
                messages.success(request, f"Imported: {result}")
                warning = suspicious(result)
                if warning:
                    messages.warning(request, f"Check this import before retraining: {warning}. A model trained "
                                     "on it may be refused by the evaluation gate (see Training examples).")
                return redirect("admin:knowledge_intent_changelist")
        context = {**self.admin_site.each_context(request), "form": form, "title": "Import intents from CSV"}
        return render(request, "admin/knowledge/import.html", context)


@admin.register(TrainingExample)
class TrainingExampleAdmin(admin.ModelAdmin[TrainingExample]):
    list_display = ["text", "intent", "is_oos", "origin", "created"]
    list_filter = ["origin", "is_oos", "intent"]
    search_fields = ["text", "intent__name"]
    autocomplete_fields = ["intent"]
    readonly_fields = ["message_id"]
    actions = ["export_csv"]

    @admin.action(description="Export selected examples (CSV)")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[TrainingExample]) -> HttpResponse:
        rows = [(e.text, e.intent.name if e.intent else "oos") for e in queryset.select_related("intent")]
        return csv_response("examples.csv", ["text", "intent"], rows)


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin[Ticket]):
    list_display = ["question", "intent", "status", "approved_by", "approved_at", "created"]
    list_filter = ["status", "intent"]
    search_fields = ["question", "resolution", "intent"]
    readonly_fields = ["conversation_id", "approved_by", "approved_at", "created", "updated"]
    actions = ["approve", "reject", "export_csv"]

    @admin.action(description="Approve: customers may be shown these resolutions")
    def approve(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        for ticket in queryset:
            approve_ticket(ticket, request.user)
        self.message_user(request, f"Approved {queryset.count()} tickets; they are searchable within a minute.")

    @admin.action(description="Reject")
    def reject(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        for ticket in queryset:
            reject_ticket(ticket)

    @admin.action(description="Export selected tickets (CSV)")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> HttpResponse:
        rows = queryset.values_list("question", "resolution", "intent", "status")
        return csv_response("tickets.csv", ["question", "answer", "intent", "status"], rows)
