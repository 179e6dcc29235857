from django.urls import path

from integration.views import pushes

app_name = "integration"
urlpatterns = [
    path("", pushes.dashboard, name="dashboard"),
    path("pushes/<int:push_id>/", pushes.push_detail, name="push-detail"),
    path("pushes/<int:push_id>/approve/", pushes.push_approve_view, name="push-approve"),
    path("pushes/<int:push_id>/reject/", pushes.push_reject_view, name="push-reject"),
]
