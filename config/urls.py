from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("coach/", include("coaching.urls")),
    path("", include("api.urls")),
    path("", include("crm.urls")),
]
