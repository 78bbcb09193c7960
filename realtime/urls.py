"""URL patterns of the realtime app's HTTP endpoints; include under any prefix."""

from django.urls import path

from . import views

app_name = "realtime"
urlpatterns = [path("token", views.token, name="token")]
