from django.urls import path

from integration import views

app_name = "integration"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("pushes/<int:push_id>/", views.push_detail, name="push-detail"),
]
