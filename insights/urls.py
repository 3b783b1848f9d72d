from django.urls import path

from insights import views

urlpatterns = [
    path("", views.dashboard, name="insights"),
    path("chart/<slug:name>.svg", views.chart_svg, name="insights-chart-svg"),
    path("chart/<slug:name>.csv", views.chart_csv, name="insights-chart-csv"),
    path("gaps/", views.content_gaps, name="insights-gaps"),
    path("gaps/run/", views.content_gaps_run, name="insights-gaps-run"),
    path("gaps/run/<int:run_id>.json", views.content_gaps_progress, name="insights-gaps-progress"),
    path("gaps/topic/<int:topic_id>/promote/", views.promote_topic, name="insights-promote"),
]
