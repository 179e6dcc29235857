from django.urls import path

from integration.views import pushes

app_name = "integration"
urlpatterns = [
    path("", pushes.dashboard, name="dashboard"),
    path("pushes/<int:push_id>/", pushes.push_detail, name="push-detail"),
]
