"""URL configuration: the admin and the process-run HTTP API."""

from django.contrib import admin
from django.urls import path

from orderlines import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", views.watch, name="watch"),
    path("graph/graph_instance", views.graph_instance, name="graph-instance"),
]
