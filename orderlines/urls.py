"""URL configuration: the admin, the run monitor and the process-run HTTP API."""

from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path

from orderlines import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", views.watch, name="watch"),
    path("runs/start", views.start_demo, name="start-demo"),
    path("graph/graph_instance", views.graph_instance, name="graph-instance"),
    path("realtime/", include("realtime.urls")),
]
# With DEBUG on, daphne and uvicorn serve /static/ too (runserver's wrapper does it only for
# runserver); with DEBUG off this adds nothing: collectstatic and nginx serve them.
urlpatterns += staticfiles_urlpatterns()
