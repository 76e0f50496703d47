"""The portal on a phone and on a desktop, in headless Chromium (issue #15, problem 2): at 390 px no
page scrolls sideways, for the owner, a sub-user and staff (the admin included), and the main menu,
folded behind "Menu", reaches every entry; at 1280 px the menu is a row and the Users table shows
its buttons. The pages are read from the URL configuration (tests/portal/routes.py), so a new page
is covered without being added here. One browser, one context per user, both widths in it.

Screenshots of the main pages at both widths are written to test-artifacts/screenshots/ (git-ignored)
for a person to look at; see docs/development.md."""

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from accounts.models import User
from tests.conftest import PASSWORD, REPO, enrol_sms, latest_sms_code
from tests.members.support import make_member
from tests.page_support import browser_sign_in
from tests.portal.routes import Samples, admin_routes, admin_url, page_routes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
# The pages a person looks at first, photographed at both widths.
MAIN_PAGES = (
    "dashboard",
    "messaging:send",
    "messaging:log",
    "messaging:detail",
    "billing:ledger",
    "billing:statement",
    "billing:prices",
    "inbound:list",
    "contacts:list",
    "security:security",
    "security:audit-log",
    "members:users",
    "members:users-edit",
    "apikeys:list",
    "webhooks:list",
)

FITS = "document.documentElement.scrollWidth <= window.innerWidth"
# For the failure message: what sticks out past the window's right edge.
STICKING_OUT = """() => {
  const width = window.innerWidth, out = [];
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + (typeof e.className === "string" && e.className ? "." + e.className.trim().replace(/\\s+/g, ".") : "");
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 0.5) {
      const path = [];
      for (let e = el; e && e !== document.body; e = e.parentElement) path.unshift(name(e));
      out.push(path.join(" > ") + ` (right edge ${Math.round(box.right)})`);
    }
  }
  return out.slice(0, 5);
}"""


def _slug(name: str) -> str:
    return name.replace(":", "-")


class Walk:
    """One signed-in browser context: visits pages at phone width and records every page that
    scrolls sideways."""

    def __init__(self, browser, base: str, who: str) -> None:
        self.base, self.who = base, who
        self.context = browser.new_context(viewport=PHONE)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.too_wide: list[tuple[str, int, dict]] = []
        self.statuses: dict[str, int] = {}

    def visit(self, path: str, name: str | None = None) -> int:
        response = self.page.goto(self.base + path)
        assert response is not None, path
        if not self.page.evaluate(FITS):
            self.too_wide.append((path, response.status, self.page.evaluate(STICKING_OUT)))
        self.statuses[name or path] = response.status
        return response.status

    def screenshot(self, path: str, name: str) -> None:
        """The page at both widths, whole, into SCREENSHOTS; the context is left at phone width."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.goto(self.base + path)
        for label, size in (("390", PHONE), ("1280", DESKTOP)):
            self.page.set_viewport_size(size)
            self.page.screenshot(path=str(SCREENSHOTS / f"{self.who}-{_slug(name)}-{label}.png"), full_page=True)
        self.page.set_viewport_size(PHONE)

    def close(self) -> None:
        self.context.close()


def _pages(owner: User, samples: Samples) -> list[tuple[str, str]]:
    """(route name, path) of every portal page: not the actions that answer only a POST (an empty
    405, which Chromium replaces with its own error page), found once, signed in, by Django's test
    client; not signing out, which would end the walk's session."""
    client = Client()
    client.force_login(owner)
    pages = [(route.name, samples.url(route)) for route in page_routes() if route.name != "security:logout"]
    return [(name, path) for name, path in pages if client.get(path).status_code != 405]


def _walk_portal(walk: Walk, pages: list[tuple[str, str]]) -> None:
    for name, path in pages:
        walk.visit(path, name)


def _menu_entries(page) -> list[str]:
    return page.get_by_test_id("menu").locator("ul a").evaluate_all("links => links.map(a => a.getAttribute('href'))")


def assert_menu_reaches_every_entry(page, base: str) -> list[str]:
    """At phone width, on the dashboard: the menu is folded (its entries hidden) until "Menu" is
    pressed; then each entry is in view and opens its page, and "Sign out" is in view too. The
    entries' paths."""
    page.goto(base + "/")
    menu = page.get_by_test_id("menu")
    hrefs = _menu_entries(page)
    assert len(hrefs) >= 3, hrefs
    for href in hrefs:
        page.goto(base + "/")
        link = menu.locator(f'ul a[href="{href}"]')
        expect(link).to_be_hidden()
        menu.locator("summary").click()
        expect(link).to_be_in_viewport()
        link.click()  # Chromium's own click: fails if anything covers the link
        page.wait_for_url(base + href)
    page.goto(base + "/")
    menu.locator("summary").click()
    expect(menu.get_by_role("button", name="Sign out")).to_be_in_viewport()
    assert page.evaluate(FITS)
    return hrefs


def sign_in_staff(page, base: str, staff: User) -> None:
    """Staff sign in with their second factor (the SMS code, delivered in this process)."""
    browser_sign_in(page, base, staff.email)
    page.get_by_label("Code").fill(latest_sms_code(staff.phone))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(base + "/")


def make_staff() -> User:
    staff = User.objects.create_user(
        "staff@example.com", PASSWORD, is_staff=True, is_superuser=True, phone="+447700900777"
    )
    enrol_sms(staff)
    return staff


def test_no_portal_page_scrolls_sideways_on_a_phone_for_owner_sub_user_and_staff(
    browser, live_server, owner, sms_delivery_inline
):
    base = live_server.url
    samples = Samples(owner)
    member = make_member(owner, "member@example.com", send_sms=True, view_messages=True, view_contacts=True)
    staff = make_staff()
    pages = _pages(owner, samples)

    # The owner: every page, each main page photographed at both widths, the menu open on a phone.
    walk = Walk(browser, base, "owner")
    browser_sign_in(walk.page, base, owner.email)
    walk.page.wait_for_url(base + "/")
    _walk_portal(walk, pages)
    routes = {route.name: route for route in page_routes()}
    for name in MAIN_PAGES:
        walk.screenshot(samples.url(routes[name]), name)
    walk.page.goto(base + "/")
    walk.page.get_by_test_id("menu").locator("summary").click()
    walk.page.screenshot(path=str(SCREENSHOTS / "owner-menu-open-390.png"))
    owner_results = walk.too_wide, walk.statuses
    walk.close()

    # A sub-user who may send and read messages and contacts (other pages answer 403: still a page).
    walk = Walk(browser, base, "sub-user")
    browser_sign_in(walk.page, base, member.email)
    walk.page.wait_for_url(base + "/")
    _walk_portal(walk, pages)
    walk.screenshot("/", "dashboard")
    member_results = walk.too_wide, walk.statuses
    walk.close()

    # Staff, signed in with their second factor: the portal's pages, then the admin's lists and forms.
    walk = Walk(browser, base, "staff")
    sign_in_staff(walk.page, base, staff)
    _walk_portal(walk, pages)
    for route in admin_routes():
        if route.name.endswith(("_changelist", "_add", ":index", ":app_list")):
            walk.visit(admin_url(route), route.name)
    walk.visit(f"/admin/accounts/account/{owner.membership.account_id}/change/")
    walk.screenshot("/admin/", "admin-index")
    walk.screenshot("/admin/messaging/message/", "admin-messages")
    staff_results = walk.too_wide, walk.statuses
    walk.close()

    for who, (too_wide, statuses) in (("owner", owner_results), ("sub-user", member_results), ("staff", staff_results)):
        assert too_wide == [], (who, too_wide)
        assert len(statuses) > 40, (who, statuses)
    # The walks saw the pages themselves, not a sign-in page or errors only.
    assert {name for name, status in owner_results[1].items() if status == 200} >= set(MAIN_PAGES)
    assert member_results[1]["messaging:send"] == 200
    assert member_results[1]["members:users"] == 403
    assert staff_results[1]["otpadmin:index"] == 200
    assert staff_results[1]["otpadmin:messaging_message_changelist"] == 200


def test_the_menu_folds_on_a_phone_and_reaches_every_entry(page, live_server, owner, sms_delivery_inline):
    base = live_server.url
    member = make_member(owner, "member@example.com", send_sms=False, view_contacts=True)
    page.set_viewport_size(PHONE)
    browser_sign_in(page, base, owner.email)
    page.wait_for_url(base + "/")
    owner_entries = assert_menu_reaches_every_entry(page, base)
    assert {"/", "/messages/send/", "/messages/", "/contacts/", "/accounts/security/", "/accounts/users/"} <= set(
        owner_entries
    )

    page.context.clear_cookies()
    browser_sign_in(page, base, member.email)
    page.wait_for_url(base + "/")
    member_entries = assert_menu_reaches_every_entry(page, base)
    assert "/contacts/" in member_entries
    assert "/messages/send/" not in member_entries  # no send_sms: the page would be a 403
    assert "/accounts/users/" not in member_entries

    page.context.clear_cookies()
    sign_in_staff(page, base, make_staff())
    staff_entries = assert_menu_reaches_every_entry(page, base)
    assert "/admin/" in staff_entries
    assert "/messages/send/" not in staff_entries  # without a membership: both would be 403s
    assert "/messages/" not in staff_entries


def test_on_a_desktop_the_menu_is_a_row_and_the_users_table_shows_every_button(page, live_server, owner):
    """At 1280 px the menu needs no "Menu" button, and the Users table fits its box: with a sub-user
    holding every permission and an invitation pending (three buttons on its row), "Edit" is not
    cut off at the box's right edge."""
    everything = {name: True for name in owner.membership.PERMISSIONS}
    make_member(owner, "everything@example.com", **everything)
    invited = make_member(owner, "invited-colleague-with-a-long-address@example.com", password=None, **everything)
    invited.is_active = False  # with no password and no sign-in yet: an invitation pending
    invited.save()
    base = live_server.url
    page.set_viewport_size(DESKTOP)
    browser_sign_in(page, base, owner.email)
    page.wait_for_url(base + "/")
    menu = page.get_by_test_id("menu")
    expect(menu.locator("summary")).to_be_hidden()
    for href in _menu_entries(page):
        expect(menu.locator(f'ul a[href="{href}"]')).to_be_in_viewport()
    expect(menu.get_by_role("button", name="Sign out")).to_be_in_viewport()

    page.goto(base + "/accounts/users/")
    table = page.get_by_test_id("users")
    box = table.locator("xpath=..")  # its .overflow-auto scroll box
    edits = page.get_by_role("button", name=re.compile(r"^Edit"))
    expect(edits).to_have_count(2)
    right_edge = box.evaluate("el => el.getBoundingClientRect().right")
    for edit in edits.all():
        expect(edit).to_be_in_viewport()
        assert edit.bounding_box()["x"] + edit.bounding_box()["width"] <= right_edge
    assert box.evaluate("el => el.scrollWidth <= el.clientWidth")


def test_the_message_log_s_filters_are_folded_on_a_phone_unless_one_is_set(page, live_server, owner):
    base = live_server.url
    page.set_viewport_size(PHONE)
    browser_sign_in(page, base, owner.email)
    page.wait_for_url(base + "/")
    page.goto(base + "/messages/")
    status = page.get_by_label("Status")
    expect(status).to_be_hidden()
    expect(page.get_by_role("button", name="Send messages")).to_be_in_viewport()  # the list starts on screen one
    page.get_by_test_id("filters").locator("summary").click()
    status.select_option("delivered")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"status=delivered"))
    expect(page.get_by_label("Status")).to_be_visible()  # a filter is set: shown, so it can be changed
    expect(page.get_by_test_id("filters").locator("summary")).to_contain_text("1 set")

    page.set_viewport_size(DESKTOP)
    page.goto(base + "/messages/")
    expect(page.get_by_label("Status")).to_be_visible()  # wide screens: always shown
    expect(page.get_by_test_id("filters").locator("summary")).to_be_hidden()
