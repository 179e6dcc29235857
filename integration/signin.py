"""Sign-in protection that works behind the TLS proxy.

The client's address is the one the trusted proxy saw (FORWARDED_ALLOW_IPS, the one setting gunicorn uses too):
when the request comes from a trusted proxy, the right-most address in `X-Forwarded-For` that is not itself a
trusted proxy; otherwise the connection's own address, whatever headers it sends.

django-axes locks a username *at one address* after AXES_FAILURE_LIMIT wrong passwords, so nobody can lock a
user out from elsewhere. On top of that (the window is AXES_COOLOFF_TIME):
- one address that fails LOGIN_FAILURES_PER_ADDRESS times, across any usernames (password spraying), is refused;
- a username that fails LOGIN_FAILURES_PER_USER times across addresses is refused at every address it has never
  signed in from — its owner, at an address where they signed in before, still gets in.
"""

from __future__ import annotations

import ipaddress

from axes.models import AccessAttempt, AccessLog
from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Sum
from django.http import HttpRequest
from django.utils import timezone


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    for proxy in settings.TRUSTED_PROXIES:
        if proxy == "*":
            return True
        try:
            if ip in ipaddress.ip_network(proxy, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_ip(request: HttpRequest) -> str:
    """The address of whoever is signing in (see the module's text); used by django-axes too."""
    remote = request.META.get("REMOTE_ADDR", "")
    if not _trusted(remote):
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote  # a forged, unparsable entry: the proxy's own address is all we know
    return remote


def _failures(**where) -> int:
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    found = AccessAttempt.objects.filter(attempt_time__gte=since, **where).aggregate(n=Sum("failures_since_start"))
    return found["n"] or 0


def throttle_problem(request: HttpRequest, username: str) -> str:
    """Why this sign-in is refused before the password is even checked ('' when it is not)."""
    ip, minutes = client_ip(request), int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    if _failures(ip_address=ip) >= settings.LOGIN_FAILURES_PER_ADDRESS:
        return f"Too many failed sign-ins from your address. Wait {minutes} minutes, then try again."
    if (
        username
        and _failures(username=username) >= settings.LOGIN_FAILURES_PER_USER
        and not AccessLog.objects.filter(username=username, ip_address=ip).exists()
    ):
        return (
            f"Too many failed sign-ins for this user from other addresses. Sign in from an address you have used "
            f"before, or wait {minutes} minutes."
        )
    return ""


class ThrottledAuthenticationForm(AuthenticationForm):
    def clean(self):
        problem = throttle_problem(self.request, self.data.get("username", "")[:150])
        if problem:
            raise forms.ValidationError(problem, code="throttled")
        return super().clean()
