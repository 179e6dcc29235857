from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from integration.zoho_signin.provider import ZohoDataCentreProvider

urlpatterns = default_urlpatterns(ZohoDataCentreProvider)
