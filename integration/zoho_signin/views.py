"""allauth's Zoho sign-in views with the data centre's URLs: Zoho's accounts server of ZOHO_ACCOUNTS_URL serves
`/oauth/v2/auth` (the consent screen), `/oauth/v2/token` (the code for a token) and `/oauth/user/info` (who
signed in: ZUID, Email, Display_Name, First_Name, Last_Name)."""

from __future__ import annotations

from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.zoho.views import ZohoOAuth2Adapter
from django.conf import settings
from django.urls import reverse


class ZohoDataCentreAdapter(ZohoOAuth2Adapter):
    @property
    def access_token_url(self) -> str:  # type: ignore[override]
        return f"{settings.ZOHO_ACCOUNTS_URL}/oauth/v2/token"

    @property
    def authorize_url(self) -> str:  # type: ignore[override]
        return f"{settings.ZOHO_ACCOUNTS_URL}/oauth/v2/auth"

    @property
    def profile_url(self) -> str:  # type: ignore[override]
        return f"{settings.ZOHO_ACCOUNTS_URL}/oauth/user/info"

    def get_callback_url(self, request, app) -> str:
        """Where Zoho sends the person back: this installation's public address (the redirect URI registered
        with the Zoho client), not whatever host the request came in by."""
        return settings.PUBLIC_BASE_URL + reverse(f"{self.provider_id}_callback")


oauth2_login = OAuth2LoginView.adapter_view(ZohoDataCentreAdapter)
oauth2_callback = OAuth2CallbackView.adapter_view(ZohoDataCentreAdapter)
