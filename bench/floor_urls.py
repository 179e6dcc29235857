"""The product's addresses, plus the floor the webhook acknowledgement is compared with: a view that parses the JSON
body and inserts one row (a webhook delivery, as ignored, so no work follows) — nothing else."""

import json

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import handler404, handler500  # noqa: F401 — the product's error answers
from config.urls import urlpatterns as product
from integration.models import WebhookDelivery


@csrf_exempt
def one_insert(request: HttpRequest, organization_id: str) -> JsonResponse:
    delivery = WebhookDelivery.objects.create(
        organization_id=organization_id, payload=json.loads(request.body), state=WebhookDelivery.State.IGNORED
    )
    return JsonResponse({"delivery_id": delivery.pk})


urlpatterns = [path("bench/one-insert/<str:organization_id>/", one_insert), *product]
