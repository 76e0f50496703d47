import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_dashboard_chart_is_drawn(page, live_server, owner, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from messaging.models import Message

    now = timezone.now()
    for days_ago, status in [(0, "delivered"), (0, "failed"), (0, "queued"), (3, "delivered"), (12, "undelivered")]:
        Message.objects.create(
            account=owner.membership.account,
            submitted_by=owner,
            sender="Shop",
            text="Hi",
            recipient="+447700111222",
            status=status,
            created_at=now - timedelta(days=days_ago),
        )
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    chart = page.get_by_role("img", name="Messages per day over the last 30 days, by outcome")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box["width"] > 300
    assert box["height"] > 60
    expect(page.get_by_test_id("delivery-rate")).to_have_text("50%")  # 2 delivered of 4 with an outcome
    # Today's bar: three segments, drawn with height (CSS reached the SVG).
    assert page.locator("svg rect.bar-delivered").count() == 2
    assert page.locator("svg rect.bar-failed").count() == 2
    fill = page.locator("svg rect.bar-delivered").first.evaluate("el => getComputedStyle(el).fill")
    assert fill == "rgb(46, 125, 50)"
    expect(page.get_by_test_id("spend")).to_contain_text(owner.email)
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)  # to look at when it fails
