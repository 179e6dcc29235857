"""Small middlewares: the load balancer's health check, refusing addresses no database could store, and no
caching of dashboard pages."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from integration.jsonbody import text_problem
from integration.selectors import health_report

HEALTH_PATHS = ("/healthz", "/healthz/")


def health_check(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Answer `/healthz` before host checks, HTTPS redirects and sessions: a probe from the load balancer
    uses the instance's address and plain HTTP. 200 when the database and the broker answer, else 503;
    the Zoho connection is reported but never fails the check (a revoked token is not cured by moving
    traffic to another instance)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if request.path in HEALTH_PATHS and request.method in ("GET", "HEAD"):
            report = health_report()
            response = JsonResponse(report, status=200 if report["status"] == "ok" else 503)
            response["Cache-Control"] = "no-store"
            return response
        return get_response(request)

    return middleware


def refuse_unstorable(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """An address, query or submitted form holding a NUL character or a broken surrogate can only be an attack or a
    mistake, and reaching a database query with one is a 500: refuse it at once with a plain 400 (JSON under
    /api/)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        texts = [request.path, *request.GET.keys(), *(v for values in request.GET.lists() for v in values[1])]
        forms = ("application/x-www-form-urlencoded", "multipart/form-data")  # the screens' forms (JSON: jsonbody)
        if request.method == "POST" and request.content_type in forms and not request.path.startswith("/api/"):
            texts += [*request.POST.keys(), *(v for values in request.POST.lists() for v in values[1])]
        problem = next((p for p in map(text_problem, texts) if p), "")
        if problem:
            message = f"The request {problem}; nothing was done."
            if request.path.startswith("/api/"):
                return JsonResponse({"message": message}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return get_response(request)

    return middleware


def no_store(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Dashboard pages show customers' money: never let a browser or proxy keep a copy."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.setdefault("Cache-Control", "no-store")
        return response

    return middleware
