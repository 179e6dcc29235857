from allauth.urls import build_provider_urlpatterns
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic.base import RedirectView

from integration.signin import ThrottledAuthenticationForm
from integration.views import api

# Sign in with Zoho (django-allauth): the provider's two addresses (auth/zoho/login/ and its callback) and the
# social-account pages, but none of allauth's password, sign-up or reset pages — passwords stay on /accounts/login/.
signin_with_zoho = [
    *build_provider_urlpatterns(),
    path("3rdparty/", include("allauth.socialaccount.urls")),
    path("login/", RedirectView.as_view(pattern_name="login"), name="account_login"),
    path("signup/", RedirectView.as_view(pattern_name="login"), name="account_signup"),
    path("inactive/", RedirectView.as_view(pattern_name="login"), name="account_inactive"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("auth/", include(signin_with_zoho)),
    path("api/crm/generate-invoice/", api.crm_generate_invoice, name="crm-generate-invoice"),
    path("api/books/webhook/<str:organization_id>/", api.books_webhook, name="books-webhook"),
    path("", include("audits.urls")),
    path("", include("integration.urls")),
]
handler404 = "integration.views.api.not_found"
handler500 = "integration.views.api.server_error"
