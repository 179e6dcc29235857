"""People: who may use the dashboard, and with which role (CONTRACT §7's groups). A finance administrator gives a
role to someone who signed in (with Zoho, or was given a password) and has none yet, changes it, or takes it away —
here, not in Django's admin. Superusers are shown but not changed here; nobody changes their own role (no one
locks themselves out). Every change is in the activity list."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from integration.views.access import role_required

ROLES = {"": "no role", "reviewer": "reviewer", "finance-admin": "finance administrator"}
ADMINS = "integration.change_legalentity"  # finance-admins (and superusers) hold it


def _role(user) -> str:
    names = {g.name for g in user.groups.all()}
    return "finance-admin" if "finance-admin" in names else "reviewer" if "reviewer" in names else ""


def _person(user) -> dict:
    role = _role(user)
    return {
        "user": user,
        "role": role,
        "role_label": ROLES[role],
        "zoho": any(a.provider == "zoho" for a in user.socialaccount_set.all()),
        "password": user.has_usable_password(),
    }


@role_required(ADMINS)
def people(request: HttpRequest) -> HttpResponse:
    users = list(get_user_model().objects.prefetch_related("groups", "socialaccount_set").order_by("username"))
    rows = [_person(u) for u in users]
    rows.sort(key=lambda r: (bool(r["role"]) or r["user"].is_superuser, r["user"].username))  # waiting ones first
    waiting = sum(1 for r in rows if not r["role"] and not r["user"].is_superuser)
    return render(request, "integration/people.html", {"rows": rows, "roles": ROLES, "waiting": waiting})


@require_POST
@role_required(ADMINS)
def person_role(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=user_id)
    role = request.POST.get("role", "")
    if role not in ROLES:
        messages.error(request, "Choose no role, reviewer or finance administrator.")
    elif user.pk == request.user.pk:
        messages.error(request, "You cannot change your own role; ask another finance administrator.")
    elif user.is_superuser:
        messages.error(request, f"{user.username} is a superuser: that is changed in the admin, not here.")
    else:
        with transaction.atomic():
            before = _role(user)
            user.groups.remove(*Group.objects.filter(name__in=[r for r in ROLES if r]))
            if role:
                user.groups.add(Group.objects.get(name=role))
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=[user],
                action_flag=CHANGE,
                change_message=f"Role: {ROLES[before]} → {ROLES[role]}",
                single_object=True,
            )
        messages.success(request, f"{user.username} is now {'a ' + ROLES[role] if role else 'without a role'}.")
    return redirect("integration:people")
