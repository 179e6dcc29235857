from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from integration.models import CustomerLink, InvoicePush, ItemLink, LegalEntity, PushEvent, TaxRule


@admin.register(LegalEntity)
class LegalEntityAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "books_org_id", "require_review", "active"]
    list_filter = ["active", "require_review"]
    search_fields = ["code", "name", "books_org_id"]


@admin.register(TaxRule)
class TaxRuleAdmin(SimpleHistoryAdmin):
    list_display = ["country", "state", "legal_entity", "tax_authority"]
    list_filter = ["country", "legal_entity"]
    search_fields = ["tax_authority", "state"]


@admin.register(CustomerLink)
class CustomerLinkAdmin(admin.ModelAdmin):
    list_display = ["contact_name", "organization_id", "crm_account_id", "books_contact_id", "created_in_books"]
    search_fields = ["contact_name", "crm_account_id", "books_contact_id"]


@admin.register(ItemLink)
class ItemLinkAdmin(admin.ModelAdmin):
    list_display = ["sku", "organization_id", "crm_product_id", "books_item_id", "created_in_books"]
    search_fields = ["sku", "sku_normalized", "crm_product_id", "books_item_id"]


class PushEventInline(admin.TabularInline):
    model = PushEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "step", "action", "outcome", "message", "detail", "duration_ms"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(InvoicePush)
class InvoicePushAdmin(admin.ModelAdmin):
    """Read-only: pushes change only through the services (state machine, timeline)."""

    list_display = [
        "id",
        "deal_id",
        "deal_name",
        "legal_entity",
        "state",
        "step",
        "attempts",
        "invoice_number",
        "created_at",
    ]
    list_filter = ["state", "legal_entity"]
    search_fields = ["deal_id", "deal_name", "invoice_number", "invoice_id"]
    inlines = [PushEventInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
