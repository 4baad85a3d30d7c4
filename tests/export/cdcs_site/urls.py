"""URLs of the test CDCS: core-main-app's own, at the root."""

from django.urls import include, re_path

urlpatterns = [re_path(r"^", include("core_main_app.urls"))]
