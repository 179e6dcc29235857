from django.urls import path

from audits import views

app_name = "audits"
urlpatterns = [
    path("audits/", views.audits, name="audits"),
    path("audits/progress/", views.audit_progress, name="progress"),
    path("audits/run/", views.audit_run, name="run"),
    path("audits/findings.csv", views.findings_export, name="export"),
    path("audits/groups/<int:flag_id>/resolve/", views.flag_resolve_view, name="resolve"),
    path("audits/groups/<int:flag_id>/dismiss/", views.flag_dismiss_view, name="dismiss"),
    path("audits/groups/<int:flag_id>/undo/", views.flag_undo_view, name="undo"),
    path("audits/groups/<int:flag_id>/put-back/", views.flag_put_back_view, name="put-back"),
]
