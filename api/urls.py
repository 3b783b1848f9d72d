from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from api import schema  # noqa: F401  (registers the bearer scheme with drf-spectacular, for the schema views)
from api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("conversations", views.ConversationViewSet, basename="conversation")
router.register("intents", views.IntentViewSet, basename="intent")
router.register("tickets", views.TicketViewSet, basename="ticket")
router.register("model-versions", views.ModelVersionViewSet, basename="model-version")
router.register("training-runs", views.TrainingRunViewSet, basename="training-run")
router.register("webhooks", views.WebhookViewSet, basename="webhook")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("v1/insights/", views.InsightsView.as_view(), name="api-insights"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    re_path(r"^(?P<rest>.*)$", views.not_found),
]
