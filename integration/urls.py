from django.urls import path

from integration.views import deliveries, pushes, setup, tables

app_name = "integration"
urlpatterns = [
    path("", pushes.dashboard, name="dashboard"),
    path("pushes/<int:push_id>/", pushes.push_detail, name="push-detail"),
    path("pushes/<int:push_id>/approve/", pushes.push_approve_view, name="push-approve"),
    path("pushes/<int:push_id>/reject/", pushes.push_reject_view, name="push-reject"),
    path("pushes/<int:push_id>/replay/", pushes.push_replay_view, name="push-replay"),
    path("pushes/<int:push_id>/decide/", pushes.push_decide_view, name="push-decide"),
    path("pushes/<int:push_id>/reissue/", pushes.push_reissue_view, name="push-reissue"),
    path("pushes/<int:push_id>/compare/", pushes.push_compare_view, name="push-compare"),
    path("pushes/<int:push_id>/plan-again/", pushes.push_plan_again_view, name="push-plan-again"),
    path("pushes/replay-failed/", pushes.bulk_replay_view, name="bulk-replay-start"),
    path("pushes/bulk-form/", pushes.bulk_form, name="bulk-form"),
    path("pushes/news/", pushes.push_news, name="push-news"),
    path("bulk-replays/<int:bulk_id>/", pushes.bulk_replay_page, name="bulk-replay"),
    path("deliveries/", deliveries.deliveries, name="deliveries"),
    path("activity/", deliveries.activity, name="activity"),
    path("deliveries/<int:delivery_id>/retry/", deliveries.delivery_retry, name="delivery-retry"),
    path("cliq/<int:post_id>/retry/", deliveries.cliq_retry, name="cliq-retry"),
    path("setup/", setup.setup, name="setup"),
    path("setup/check/", setup.setup_check, name="setup-check"),
    path("tables/", tables.tables, name="tables"),
    path("tables/tax-rules/add/", tables.tax_rule_add, name="tax-rule-add"),
    path("tables/tax-rules/<int:rule_id>/", tables.tax_rule_edit, name="tax-rule-edit"),
    path("tables/tax-rules/<int:rule_id>/delete/", tables.tax_rule_remove, name="tax-rule-delete"),
    path("tables/entities/<path:code>/test-connection/", tables.entity_test_connection, name="entity-test-connection"),
    path("tables/entities/<path:code>/check-taxes/", tables.entity_check_taxes, name="entity-check-taxes"),
    path("tables/entities/<path:code>/active/", tables.entity_active, name="entity-active"),
    path("tables/entities/add/", tables.entity_edit, name="entity-add"),
    path("tables/entities/<path:code>/edit/", tables.entity_edit, name="entity-edit"),
    path("tables/replace/", tables.tables_replace, name="tables-replace"),
    path("tables/import/", tables.tables_import, name="tables-import"),
    path("tables/imports/<int:import_id>/", tables.csv_import_page, name="csv-import"),
    path("tables/export/<str:table>.csv", tables.tables_export, name="tables-export"),
]
