from __future__ import annotations

from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from integration.forms import add_problems
from integration.models import CustomerLink, InvoicePush, ItemLink, LegalEntity, PushEvent, TaxRule
from integration.services.config_tables import legal_entity_clean, org_taken, tax_rule_clean


class LegalEntityAdminForm(forms.ModelForm):
    """The admin (superusers only) edits with the same checks as the CSV import and the screen."""

    class Meta:
        model = LegalEntity
        fields = ["code", "name", "books_org_id", "require_review", "invoice_delivery", "active"]

    def clean(self) -> dict:
        data = super().clean()
        values, problems = legal_entity_clean(
            {
                **{k: str(data.get(k) or "") for k in ("code", "name", "books_org_id")},
                "require_review": bool(data.get("require_review")),
            }
        )
        if not problems and (taken := org_taken(values["books_org_id"], values["code"])):
            problems.append(f"Books organization {values['books_org_id']} already belongs to legal entity {taken}")
        add_problems(self, problems)
        return data


class TaxRuleAdminForm(forms.ModelForm):
    """The admin (superusers only) edits with the same checks as the CSV import and the screen; countries and
    states are stored normalized."""

    country = forms.CharField(max_length=60, help_text="ISO code or name: US, GB, India…")
    state = forms.CharField(max_length=60, required=False, help_text="Code or name; blank: the whole country.")

    class Meta:
        model = TaxRule
        fields = ["legal_entity", "country", "state", "tax_authority", "tax_treatment"]

    def clean(self) -> dict:
        data = super().clean()
        entity = data.get("legal_entity")
        row = {k: str(data.get(k) or "") for k in ("country", "state", "tax_authority", "tax_treatment")}
        values, problems = tax_rule_clean(
            {**row, "legal_entity": entity.code if entity else ""}, {entity.code: entity} if entity else {}
        )
        add_problems(self, problems)
        if not problems:
            data["country"], data["state"] = values["country"], values["state"]
        return data


@admin.register(LegalEntity)
class LegalEntityAdmin(SimpleHistoryAdmin):
    form = LegalEntityAdminForm
    list_display = ["code", "name", "books_org_id", "require_review", "active"]
    list_filter = ["active", "require_review"]
    search_fields = ["code", "name", "books_org_id"]


@admin.register(TaxRule)
class TaxRuleAdmin(SimpleHistoryAdmin):
    form = TaxRuleAdminForm
    list_display = ["country", "state", "legal_entity", "tax_authority", "tax_treatment"]
    list_filter = ["country", "legal_entity"]
    search_fields = ["tax_authority", "tax_treatment", "state"]


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
