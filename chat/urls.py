from django.urls import path

from chat import views, widget

urlpatterns = [
    path("", views.chat_page, name="chat"),
    path("healthz", views.livez, name="healthz"),
    path("livez", views.livez, name="livez"),
    path("readyz", views.readyz, name="readyz"),
    path("widget.js", widget.widget_js, name="widget-js"),
    path("widget/frame/", widget.widget_frame, name="widget-frame"),
    path("widget/i18n/<slug:language>.js", widget.widget_catalog, name="widget-i18n"),
    path("agent/", widget.agent_console, name="agent"),
]
