"""Who may see and do what on the screens (CONTRACT.md §7): reviewers and finance-admins see the data,
finance-admins also edit the tables, superusers do everything; anyone else who logs in sees a page saying
they have no role yet, and no data."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

SEE_DATA = "integration.view_invoicepush"  # held by both roles


def has_role(user) -> bool:
    return user.is_authenticated and (user.is_superuser or user.has_perm(SEE_DATA))


def role_required(permission: str = SEE_DATA) -> Callable:
    """Log in first; without a role, the no-role page (403); with a role but not `permission`, 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not has_role(request.user):
                return render(request, "integration/no_role.html", status=403)
            if not request.user.has_perm(permission):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
