"""Admin for past tickets: approve, reject, edit, import and export."""

from __future__ import annotations

from django.contrib import admin

from chat.admin import csv_response
from retrieval.models import Ticket
from retrieval.tickets import approve_ticket, reject_ticket


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["question", "intent", "status", "approved_by", "approved_at", "created"]
    list_filter = ["status", "intent"]
    search_fields = ["question", "resolution", "intent"]
    readonly_fields = ["conversation", "approved_by", "approved_at", "created", "updated"]
    actions = ["approve", "reject", "export_csv"]

    @admin.action(description="Approve: customers may be shown these resolutions")
    def approve(self, request, queryset):
        for ticket in queryset:
            approve_ticket(ticket, request.user)
        self.message_user(request, f"Approved {queryset.count()} tickets; they are searchable within a minute.")

    @admin.action(description="Reject")
    def reject(self, request, queryset):
        for ticket in queryset:
            reject_ticket(ticket)

    @admin.action(description="Export selected tickets (CSV)")
    def export_csv(self, request, queryset):
        rows = queryset.values_list("question", "resolution", "intent", "status")
        return csv_response("tickets.csv", ["question", "answer", "intent", "status"], rows)
