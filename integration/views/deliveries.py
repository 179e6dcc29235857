"""Books webhook deliveries and Cliq posts: what arrived, what it did, and a retry for the failed ones."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from integration.activity import staff_activity
from integration.attention import deliveries_page
from integration.models import CliqPost, WebhookDelivery
from integration.services.cliq_posts import cliq_post_retry
from integration.services.webhooks import webhook_delivery_retry
from integration.views.access import role_required


@role_required()
def deliveries(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state") or None
    if state not in WebhookDelivery.State.values:
        state = None
    context = {**deliveries_page(state=state), "states": WebhookDelivery.State.choices, "selected": state}
    return render(request, "integration/deliveries.html", context)


@require_POST
@role_required("integration.review_invoicepush")
def delivery_retry(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(WebhookDelivery, pk=delivery_id)
    if webhook_delivery_retry(delivery=delivery):
        messages.success(request, f"Delivery #{delivery.pk} is being processed again.")
    else:
        messages.error(request, f"Delivery #{delivery.pk} has not failed; nothing to retry.")
    return redirect("integration:deliveries")


@require_POST
@role_required("integration.review_invoicepush")
def cliq_retry(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_object_or_404(CliqPost, pk=post_id)
    if cliq_post_retry(post=post):
        messages.success(request, f"The Cliq post for payment {post.payment_id} is being sent again.")
    else:
        messages.error(
            request, "Only a failed Cliq post can be sent again (an unconfirmed one may already be in Cliq)."
        )
    return redirect("integration:deliveries")


@role_required()
def activity(request: HttpRequest) -> HttpResponse:
    """Who did what, and when: every staff action on pushes and the tables."""
    return render(request, "integration/activity.html", {"rows": staff_activity()})
