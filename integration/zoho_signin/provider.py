"""The Zoho provider of django-allauth, for the data centre of ZOHO_ACCOUNTS_URL (SOCIALACCOUNT_PROVIDERS
names it as the `zoho` provider's class)."""

from __future__ import annotations

from allauth.socialaccount.providers.zoho.provider import ZohoProvider

from integration.zoho_signin.views import ZohoDataCentreAdapter


class ZohoDataCentreProvider(ZohoProvider):
    oauth2_adapter_class = ZohoDataCentreAdapter


provider_classes = [ZohoDataCentreProvider]
