"""The verify API's routes (`api_patterns`, included in each API version by portal/urls.py) and its
portal pages (`urlpatterns`)."""

app_name = "verify"

api_patterns: list = []

urlpatterns: list = []
