from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from integration.signin import ThrottledAuthenticationForm
from integration.views import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/crm/generate-invoice/", api.crm_generate_invoice, name="crm-generate-invoice"),
    path("api/books/webhook/<str:organization_id>/", api.books_webhook, name="books-webhook"),
    path("", include("audits.urls")),
    path("", include("integration.urls")),
]
handler404 = "integration.views.api.not_found"
handler500 = "integration.views.api.server_error"
