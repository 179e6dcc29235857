"""Legal entities and their Books organizations: learn an organization's name, currency, edition, home state and
time zone from Books (on first use, and whenever someone tests the connection), and tell its calendar day."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from integration.editions import edition_for_country
from integration.models import LegalEntity
from integration.money import books_places
from integration.normalize import normalize_country
from integration.zoho.books import BooksClient
from integration.zoho.errors import ZohoError, ZohoRejected

# organizations.yml's example `time_zone` is an abbreviation ("PST"); organizations also carry IANA names. These
# are the abbreviations we can place; an organization whose time zone we cannot place is dated by Books itself.
ZONE_ABBREVIATIONS = {
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "MST": "America/Denver",
    "MDT": "America/Denver",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "AKST": "America/Anchorage",
    "HST": "Pacific/Honolulu",
    "IST": "Asia/Kolkata",
    "GMT": "Europe/London",
    "BST": "Europe/London",
    "UTC": "UTC",
    "CET": "Europe/Berlin",
    "CEST": "Europe/Berlin",
    "EET": "Europe/Athens",
    "GST": "Asia/Dubai",
    "AEST": "Australia/Sydney",
    "AEDT": "Australia/Sydney",
    "NZST": "Pacific/Auckland",
    "SGT": "Asia/Singapore",
    "JST": "Asia/Tokyo",
}
IANA_NAME = re.compile(r"[A-Za-z]+(?:/[A-Za-z0-9_+-]+)+")


def organization_zone(time_zone: str) -> ZoneInfo | None:
    """The zone of a Books `time_zone`: an IANA name (also inside a longer label), or a known abbreviation."""
    text = (time_zone or "").strip()
    candidates = [text, *IANA_NAME.findall(text), ZONE_ABBREVIATIONS.get(text.upper(), "")]
    for name in filter(None, candidates):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return None


def organization_today(*, entity: LegalEntity, now: datetime | None = None) -> date | None:
    """The calendar day in the entity's Books organization now (its own time zone), or None when its time zone
    is unknown to us — then the invoice carries no `date` and Books dates it in the organization's own day."""
    zone = organization_zone(entity.books_time_zone)
    return (now or timezone.now()).astimezone(zone).date() if zone else None


def organization_problem(org_id: str) -> tuple[str, dict | None]:
    """Ask Books for an organization before a legal entity points at it: ("", the organization) when Books has it;
    (why, None) when Books refuses it — an id it does not know, or one the connected Zoho user is not in; ("", None)
    when Books cannot be reached just now (the id is then checked at the next Test connection and push)."""
    try:
        return "", BooksClient().organization_get(org_id)
    except ZohoRejected as exc:
        return (
            f"Books does not know organization {org_id} for the Zoho user this installation is connected as ({exc}). "
            "Check the id in Books (Settings → Organization Profile), or add that user to the organization",
            None,
        )
    except ZohoError:
        return "", None


def legal_entity_refresh(
    *, entity: LegalEntity, books: BooksClient | None = None, organization: dict | None = None
) -> LegalEntity:
    """Read the entity's Books organization (or take `organization`, just read) and keep what planning needs.
    Zoho errors propagate."""
    organization = organization or (books or BooksClient()).organization_get(entity.books_org_id)
    address = organization.get("address") or {}
    country = normalize_country(str(address.get("country") or "")) or ""
    learnt = {
        "books_org_name": str(organization.get("name") or "")[:200],
        "books_currency": str(organization.get("currency_code") or "")[:3],
        "books_country": country,
        "books_edition": edition_for_country(country),
        "books_home_state": str(address.get("state") or "")[:100],
        "books_time_zone": str(organization.get("time_zone") or "")[:64],
        "books_currency_decimals": books_places(organization.get("price_precision", 2)),
    }
    entity.books_checked_at = timezone.now()
    if all(getattr(entity, field) == value for field, value in learnt.items()):
        # Nothing new: no history row for every check.
        LegalEntity.objects.filter(pk=entity.pk).update(books_checked_at=entity.books_checked_at)
        return entity
    for field, value in learnt.items():
        setattr(entity, field, value)
    entity._change_reason = "Read from Books"
    entity.save()
    return entity


def legal_entity_edition(*, entity: LegalEntity, books: BooksClient | None = None) -> str:
    """The entity's edition, learnt from Books the first time it is needed (and again, at most daily, while its
    time zone is unknown: an entity read before the bridge kept time zones learns it this way)."""
    stale = entity.books_checked_at is None or timezone.now() - entity.books_checked_at > timedelta(days=1)
    if not entity.books_edition or (not entity.books_time_zone and stale):
        legal_entity_refresh(entity=entity, books=books)
    return entity.books_edition
