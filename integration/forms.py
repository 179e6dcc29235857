"""Input to the views, validated in one place: the CRM button's body and the dashboard's filters."""

from __future__ import annotations

import re

from django import forms

from integration.models import PAYMENT_STATUSES, InvoicePush, LegalEntity

DEAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def add_problems(form: forms.BaseForm, problems: list[str]) -> None:
    """Show the table checks' problems (`services.config_tables`) on a form, each as a sentence."""
    for problem in problems:
        form.add_error(None, problem[0].upper() + problem[1:] + ".")


class ButtonPressForm(forms.Form):
    """The CRM button's JSON body: `deal_id` (a CRM record id; a JSON number is taken as its digits) and
    `user` (the email of whoever clicked, optional)."""

    deal_id = forms.CharField(error_messages={"required": "deal_id is missing or is not a CRM record id."})
    user = forms.CharField(required=False, strip=True)

    def clean_deal_id(self) -> str:
        raw = self.data.get("deal_id")
        if isinstance(raw, bool) or not isinstance(raw, str | int) or not DEAL_ID.match(str(raw).strip()):
            raise forms.ValidationError("deal_id is missing or is not a CRM record id.")
        return str(raw).strip()

    def clean_user(self) -> str:
        raw = self.data.get("user") or ""
        if not isinstance(raw, str) or len(raw) > 254:
            raise forms.ValidationError("user must be the email address of the person who clicked.")
        return raw.strip()

    def first_error(self) -> str:
        return next(iter(self.errors.values()))[0]


class PushFilterForm(forms.Form):
    """The push list's filters and search (anything unknown is ignored: every push is shown)."""

    state = forms.ChoiceField(choices=[("", "All"), *InvoicePush.State.choices], required=False)
    entity = forms.CharField(required=False, max_length=40)
    q = forms.CharField(required=False, max_length=100, strip=True)
    decision = forms.BooleanField(required=False)
    payment = forms.ChoiceField(
        required=False,
        choices=[("", "any"), *((s, s) for s in PAYMENT_STATUSES)],
    )
    since = forms.DateField(required=False)
    until = forms.DateField(required=False)
    before = forms.IntegerField(required=False, min_value=1)
    after = forms.IntegerField(required=False, min_value=0)  # only pushes newer than this one (the live list)

    def state_or_none(self) -> str | None:
        return (self.cleaned_data.get("state") or None) if self.is_valid() else None

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "state": data["state"] or None,
            "entity": data["entity"] or None,
            "q": data["q"],
            "needs_decision": data["decision"],
            "payment": data["payment"] or None,
            "since": data["since"],
            "until": data["until"],
            "before": data["before"],
            "after": data["after"],
        }


class RejectForm(forms.Form):
    """A reviewer's reason for rejecting a push: required, because the AE reads it on the deal in CRM."""

    reason = forms.CharField(max_length=500, strip=True)


class TaxRuleForm(forms.Form):
    """One tax-map row on the screen; the checks are the CSV import's (services.config_tables.tax_rule_clean)."""

    legal_entity = forms.ChoiceField(required=False, help_text="Blank: every legal entity.")
    country = forms.CharField(max_length=60, help_text="ISO code or name: US, GB, India…")
    state = forms.CharField(max_length=60, required=False, help_text="Code or name; blank: the whole country.")
    tax_authority = forms.CharField(
        max_length=100,
        required=False,
        help_text="US and Canada: one of the organization's tax authorities in Books (listed as you type).",
        widget=forms.TextInput(attrs={"list": "books-authorities", "autocomplete": "off"}),
    )
    tax_treatment = forms.ChoiceField(required=False, help_text="UK, India and others: the customer's treatment.")

    def __init__(self, *args, entity_codes: list[str], treatments: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["legal_entity"].choices = [("", "All entities"), *((c, c) for c in entity_codes)]
        self.fields["tax_treatment"].choices = treatments


class RuleTesterForm(forms.Form):
    """Which tax-map rule applies to a customer in this country and state, for this entity?"""

    legal_entity = forms.ChoiceField()
    country = forms.CharField(max_length=60)
    state = forms.CharField(max_length=60, required=False)

    def __init__(self, *args, entity_codes: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["legal_entity"].choices = [(c, c) for c in entity_codes]


class DecisionForm(forms.Form):
    """One near-duplicate settled on the push page: which Books record (or "new") an item or customer is."""

    kind = forms.ChoiceField(choices=[("item", "item"), ("customer", "customer")])
    subject = forms.CharField(max_length=300)  # the CRM product id (items) or the Account name (customers)
    choice = forms.RegexField(regex=r"^(new|[0-9]{1,30})$")


class LegalEntityForm(forms.Form):
    """One legal entity on the screen; the checks are the CSV import's (services.config_tables)."""

    code = forms.CharField(max_length=40, help_text="The Account's Legal_Entity value; cannot change later.")
    name = forms.CharField(max_length=200)
    books_org_id = forms.CharField(label="Books organization id", max_length=40, help_text="Digits, from Books.")
    require_review = forms.BooleanField(required=False, help_text="Pushes wait for a reviewer.")
    invoice_delivery = forms.ChoiceField(
        label="When Books has created the invoice",
        choices=LegalEntity.Delivery.choices,
        initial=LegalEntity.Delivery.DRAFT,
        required=False,  # not given: as it was (a new entity: left as a draft)
        help_text="Emailing needs the customer's contact person to have an email address in Books.",
    )
    books_daily_cap = forms.IntegerField(
        label="Books API calls a day",
        min_value=1,
        required=False,  # not given: as it was (a new entity: 1,000, Books' lowest plan)
        help_text="Your Books plan's daily limit for this organization: 1,000 to 10,000 depending on the plan.",
    )


class CsvUploadForm(forms.Form):
    """A CSV file for one of the two tables (all or nothing, errors by line)."""

    table = forms.ChoiceField(choices=[("tax_map", "Tax map"), ("legal_entities", "Legal entities")])
    file = forms.FileField()
    mode = forms.ChoiceField(
        label="What the file does",
        choices=[
            ("merge", "Add and change rows; keep the rows the file does not name"),
            ("replace", "Replace the whole table (first shows what is added, changed and removed)"),
        ],
        initial="merge",
        widget=forms.RadioSelect,
        required=False,
    )


class CsvReplaceForm(forms.Form):
    """Applying a previewed replacement: the file's text and the fingerprint of what the preview showed."""

    table = forms.ChoiceField(choices=[("tax_map", "Tax map"), ("legal_entities", "Legal entities")])
    content = forms.CharField(strip=False, max_length=1_000_000)
    fingerprint = forms.RegexField(regex=r"^[0-9a-f]{64}$")
