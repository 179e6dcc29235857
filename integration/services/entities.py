"""Legal entities and their Books organizations: learn an organization's name, currency, edition and home
state from Books (on first use, and whenever someone tests the connection)."""

from __future__ import annotations

from django.utils import timezone

from integration.editions import edition_for_country
from integration.models import LegalEntity
from integration.normalize import normalize_country
from integration.zoho.books import BooksClient


def legal_entity_refresh(*, entity: LegalEntity, books: BooksClient | None = None) -> LegalEntity:
    """Read the entity's Books organization and keep what planning needs. Zoho errors propagate."""
    organization = (books or BooksClient()).organization_get(entity.books_org_id)
    address = organization.get("address") or {}
    country = normalize_country(str(address.get("country") or "")) or ""
    entity.books_org_name = str(organization.get("name") or "")[:200]
    entity.books_currency = str(organization.get("currency_code") or "")[:3]
    entity.books_country = country
    entity.books_edition = edition_for_country(country)
    entity.books_home_state = str(address.get("state") or "")[:100]
    entity.books_checked_at = timezone.now()
    entity._change_reason = "Read from Books"
    entity.save()
    return entity


def legal_entity_edition(*, entity: LegalEntity, books: BooksClient | None = None) -> str:
    """The entity's edition, learnt from Books the first time it is needed."""
    if not entity.books_edition:
        legal_entity_refresh(entity=entity, books=books)
    return entity.books_edition
