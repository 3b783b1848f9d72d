from django.contrib import admin
from django.urls import include, path

from chat.admin import review_label, review_queue

urlpatterns = [
    path("admin/review/", review_queue, name="review_queue"),
    path("admin/review/<int:message_id>/", review_label, name="review_label"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("insights/", include("insights.urls")),
    path("", include("chat.urls")),
]
