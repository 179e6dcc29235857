"""Read-side queries."""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, Q, Value, When

from integration.models import InvoicePush, LegalEntity, TaxRule
from integration.zoho.auth import current_fatal_error


def tax_rule_for(*, legal_entity: LegalEntity, country: str, state: str = "") -> TaxRule | None:
    """The most specific tax rule for a region (country/state already normalized), or None.

    Specificity: a state rule beats a country-wide rule (geography decides the authority); at equal
    geography, a rule for this entity beats one for all entities.
    """
    states = [state, ""] if state else [""]
    return (
        TaxRule.objects.filter(Q(legal_entity=legal_entity) | Q(legal_entity__isnull=True))
        .filter(country=country, state__in=states)
        .annotate(
            specificity=Case(When(~Q(state=""), then=Value(2)), default=Value(0), output_field=IntegerField())
            + Case(When(legal_entity__isnull=False, then=Value(1)), default=Value(0), output_field=IntegerField())
        )
        .order_by("-specificity")
        .first()
    )


def push_list(*, state: str | None = None, limit: int = 100):
    """Most recent pushes first, optionally in one state."""
    pushes = InvoicePush.objects.select_related("legal_entity")
    if state:
        pushes = pushes.filter(state=state)
    return pushes[:limit]


def push_counts() -> dict[str, int]:
    """Number of pushes in each state (every state present, zero or not)."""
    counts = {state: 0 for state in InvoicePush.State.values}
    for row in InvoicePush.objects.values("state").order_by().annotate(n=Count("id")):
        counts[row["state"]] = row["n"]
    return counts


def zoho_token_problem() -> str:
    """The fatal OAuth problem to show on every screen, or ''."""
    return current_fatal_error()
