from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from chat.admin import review_label, review_queue
from config.throttle import per_address_per_hour

# Password reset only where mail can be sent, and a few requests an hour per address (issue 14, item 9).
if settings.PASSWORD_RESET_BY_EMAIL:
    accounts = [
        path("accounts/password_reset/",
             per_address_per_hour(settings.PASSWORD_RESETS_PER_HOUR)(auth_views.PasswordResetView.as_view()),
             name="password_reset"),
        path("accounts/", include("django.contrib.auth.urls")),
    ]
else:
    accounts = [
        path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
        path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    ]

urlpatterns = [
    path("admin/review/", review_queue, name="review_queue"),
    path("admin/review/<int:message_id>/", review_label, name="review_label"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    *accounts,
    path("insights/", include("insights.urls")),
    path("", include("chat.urls")),
]
