from django.urls import path, re_path

from api import views
from api.api import api

urlpatterns = [
    path("api/", api.urls),
    # Anything else under /api/ answers in the API's error format, not with an HTML page.
    re_path(r"^api/(?P<path>.*)$", views.not_found),
    path("profile/api-tokens/", views.tokens, name="api-tokens"),
    path("profile/api-tokens/<int:pk>/revoke/", views.token_revoke, name="api-token-revoke"),
]
