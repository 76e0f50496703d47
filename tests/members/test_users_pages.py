"""The Users pages (members/views.py) for wiring: lists, forms and their errors, who sees which
actions, and the invitation's accept page."""

import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from accounts.models import Membership, User
from tests.members.support import NEW_PASSWORD, USERS, invite_link, make_member, membership_id

pytestmark = pytest.mark.django_db


def test_the_users_page_lists_members_with_state_badges_and_spend(client, owner, invited):
    member = make_member(owner, "member@example.com", view_billing=True, monthly_limit=Decimal("50"))
    Membership.objects.filter(user=member).update(
        monthly_spent=Decimal("12.5"), spent_month=timezone.now().date().replace(day=1)
    )
    gone = make_member(owner, "gone@example.com")
    User.objects.filter(pk=gone.pk).update(is_active=False)
    client.force_login(owner)
    response = client.get(USERS)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="users-empty"' not in html
    rows = html.split('data-testid="member-row"')[1:]
    assert len(rows) == 4
    assert owner.email in rows[0]
    assert "Owner" in rows[0]
    states = dict(re.findall(r'<td>([^<\s]+@example\.com).*?data-testid="member-state">(\w+)<', html, re.S))
    assert states == {owner.email: "Active", "gone@example.com": "Deactivated", "member@example.com": "Active",
                      invited.email: "Invited"}  # fmt: skip
    member_row = next(row for row in rows if "member@example.com" in row)
    assert "12.5" in member_row
    assert "of 50" in member_row
    assert ">Billing<" in member_row
    invited_row = next(row for row in rows if invited.email in row)
    assert "Resend invitation" in invited_row
    assert "Cancel invitation" in invited_row
    assert f'href="{USERS}"' in html  # the nav link for the owner


def test_the_users_page_shows_an_empty_state_and_paginates(client, owner):
    client.force_login(owner)
    assert b'data-testid="users-empty"' in client.get(USERS).content
    for n in range(30):
        make_member(owner, f"m{n:02d}@example.com", password=None)
    first = client.get(USERS).content.decode()
    assert first.count('data-testid="member-row"') == 25
    assert "Page 1 of 2" in first
    second = client.get(USERS, {"page": 2}).content.decode()
    assert second.count('data-testid="member-row"') == 6
    assert client.get(USERS, {"page": "x' or 1=1"}).status_code == 200


def test_only_the_owner_and_managers_see_the_users_pages(client, owner, manager):
    plain = make_member(owner, "plain@example.com", send_sms=True)
    client.force_login(plain)
    assert client.get(USERS).status_code == 403
    assert client.get(USERS + "invite/").status_code == 403
    assert client.get(f"{USERS}{membership_id(manager)}/").status_code == 403
    assert f'href="{USERS}"'.encode() not in client.get("/").content
    client.force_login(manager)
    assert client.get(USERS).status_code == 200
    assert f'href="{USERS}"'.encode() in client.get("/").content


def test_the_invite_form_shows_errors_for_bad_input(client, owner):
    client.force_login(owner)
    page = client.get(USERS + "invite/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in page
    assert 'for="id_email"' in page
    for data, message in [
        ({"email": "not an address"}, "Enter a valid email address."),
        ({"email": "a@example.com", "monthly_limit": "-5"}, "greater than or equal to 0"),
        ({"email": "a@example.com", "monthly_limit": "1e400"}, "Ensure that there are no more than"),
        ({"email": "a@example.com", "monthly_limit": "abc"}, "Enter a number."),
        ({"email": "a@example.com", "permissions": ["superuser"]}, "Select a valid choice."),
        ({"email": "a\x00@example.com"}, "Null characters are not allowed."),
    ]:
        response = client.post(USERS + "invite/", data)
        assert response.status_code == 200, data
        assert message in response.content.decode(), (data, response.content.decode()[-3000:])
    assert not User.objects.filter(email="a@example.com").exists()


def test_the_invite_form_invites(client, owner, mailoutbox, django_capture_on_commit_callbacks):
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            USERS + "invite/", {"email": "New@example.com", "permissions": ["send_sms"], "monthly_limit": "9.5"}
        )
    assert response.status_code == 302
    assert response["Location"] == USERS
    membership = Membership.objects.get(user__email="new@example.com")
    assert membership.permissions() == {"send_sms"}
    assert membership.monthly_limit == Decimal("9.5")
    [mail] = mailoutbox
    assert "http://testserver/accounts/reset/invite-" in mail.body


def test_the_invite_page_answers_a_registered_address_as_it_answers_a_new_one(
    client, owner, make_account, email_tasks, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("members.services.invitations.INVITES_PER_ACCOUNT_PER_HOUR", 3)
    elsewhere = make_account().memberships.get().user.email
    here = make_member(owner, "member@example.com").email
    client.force_login(owner)
    answers = set()
    for email in ("new@example.com", elsewhere, here):
        queued = len(email_tasks.queued)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(USERS + "invite/", {"email": email.upper(), "permissions": ["send_sms"]})
        shown = [str(message).replace(email, "<address>") for message in get_messages(response.wsgi_request)]
        answers.add((response.status_code, response["Location"], tuple(shown)))
        assert len(email_tasks.queued) == queued + 1, email  # one e-mail each: the invitation, or the notice
        client.get(USERS)  # (shows the message, so the next answer holds only its own)
    assert len(answers) == 1, answers
    [(status, location, shown)] = answers
    assert (status, location) == (302, USERS)
    assert shown == ("An invitation is on its way to <address>. The link works once and for 7 days.",)
    # Each of the three counted against the hourly limit (3 here): the next one is refused.
    response = client.post(USERS + "invite/", {"email": "later@example.com", "permissions": ["send_sms"]})
    assert response.status_code == 200
    assert "Too many invitations in the last hour" in response.content.decode()


def test_a_manager_is_offered_only_the_permissions_it_may_grant(client, manager):
    client.force_login(manager)
    page = client.get(USERS + "invite/").content.decode()
    offered = set(re.findall(r'name="permissions" value="(\w+)"', page))
    assert offered == {"send_sms", "view_messages"}


def test_the_edit_form_shows_errors_for_bad_input(client, owner):
    member = make_member(owner, "member@example.com")
    path = f"{USERS}{membership_id(member)}/"
    client.force_login(owner)
    page = client.get(path).content.decode()
    assert 'for="id_window_timezone"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    base = {"permissions": ["send_sms"], "window_timezone": "UTC"}
    for data, message in [
        ({"window_timezone": "Mars/Olympus"}, "Select a valid choice."),
        ({"window_start": "25:99", "window_end": "10:00"}, "Enter a valid time."),
        ({"window_start": "09:00", "window_end": "09:00"}, "The end must differ from the start"),
        ({"window_start": "09:00"}, "Give both the start and the end"),
        ({"window_weekdays": ["9"]}, "Select a valid choice."),
        ({"allowed_senders": ["abc"]}, "Select a valid choice."),
        ({"monthly_limit": "-1"}, "greater than or equal to 0"),
    ]:
        response = client.post(path, {**base, **data})
        assert response.status_code == 200, data
        assert message in response.content.decode(), data
    response = client.post(path, {**base, "window_weekdays": ["1", "2"], "window_start": "08:00",
                                  "window_end": "18:00", "window_timezone": "America/New_York"})  # fmt: skip
    assert response.status_code == 302
    m = Membership.objects.get(user=member)
    assert (m.window_weekdays, m.window_timezone, m.permissions()) == ([1, 2], "America/New_York", {"send_sms"})


def test_the_owner_row_and_own_row_have_no_actions_and_their_pages_refuse(client, owner, manager):
    client.force_login(manager)
    html = client.get(USERS).content.decode()
    for target in (owner, manager):
        row = html.split(f'id="member-{membership_id(target)}"')[1].split("</tr>")[0]
        assert "Edit" not in row
        assert "Deactivate" not in row
        response = client.get(f"{USERS}{membership_id(target)}/", follow=True)
        assert response.redirect_chain[-1][0] == USERS
        response = client.post(f"{USERS}{membership_id(target)}/deactivate/", follow=True)
        assert response.redirect_chain[-1][0] == USERS
    assert User.objects.get(pk=owner.pk).is_active
    assert User.objects.get(pk=manager.pk).is_active


def test_a_manager_sees_no_actions_for_members_it_may_not_manage(client, owner, manager):
    richer = make_member(owner, "richer@example.com", view_billing=True)
    equal = make_member(owner, "equal@example.com", send_sms=True, view_messages=False)
    client.force_login(manager)
    html = client.get(USERS).content.decode()

    def row(user):
        return html.split(f'id="member-{membership_id(user)}"')[1].split("</tr>")[0]

    assert "Edit" not in row(richer)
    assert "only the account owner can change them" in row(richer)
    assert "Edit" in row(equal)
    assert "Deactivate" in row(equal)
    assert client.post(f"{USERS}{membership_id(richer)}/", {"permissions": []}, follow=True).redirect_chain
    assert Membership.objects.get(user=richer).view_billing


def test_deactivate_reactivate_resend_and_cancel_pages(client, owner, invited, mailoutbox):
    member = make_member(owner, "member@example.com")
    client.force_login(owner)
    path = f"{USERS}{membership_id(member)}/deactivate/"
    assert b"Deactivate this user?" in client.get(path).content
    response = client.post(path, follow=True)
    assert b"is deactivated" in response.content
    assert not User.objects.get(pk=member.pk).is_active
    response = client.post(f"{USERS}{membership_id(member)}/reactivate/", follow=True)
    assert b"is active again" in response.content
    assert client.get(f"{USERS}{membership_id(member)}/reactivate/").status_code == 405

    response = client.post(f"{USERS}{membership_id(invited)}/resend/", follow=True)
    assert b"A new invitation is on its way" in response.content
    cancel = f"{USERS}{membership_id(invited)}/cancel/"
    assert b"Cancel this invitation?" in client.get(cancel).content
    response = client.post(cancel, follow=True)
    assert b"is canceled" in response.content
    assert not User.objects.filter(pk=invited.pk).exists()


def test_the_accept_page_moves_the_token_out_of_the_url_and_sets_the_password(client, invited, mailoutbox):
    path, _uid, token = invite_link(mailoutbox[0])
    response = client.get(path)
    assert response.status_code == 302
    assert token not in response["Location"]
    assert response["Location"].endswith("/set-password/")
    page = client.get(response["Location"]).content.decode()
    assert "Accept the invitation" in page
    assert invited.email in page
    assert 'name="csrfmiddlewaretoken"' in page
    weak = client.post(response["Location"], {"new_password1": "password", "new_password2": "password"})
    assert weak.status_code == 200
    assert b'data-testid="field-error"' in weak.content
    mismatch = client.post(response["Location"], {"new_password1": NEW_PASSWORD, "new_password2": "Other-Pass-99"})
    assert b"The two passwords do not match." in mismatch.content
    done = client.post(response["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/accounts/login/"
    assert User.objects.get(pk=invited.pk).is_active
    again = client.get(client.get(path)["Location"])
    assert b'data-testid="invitation-invalid"' in again.content


def test_the_accept_page_never_fails_on_a_bad_link(client, db):
    for path in [
        "/accounts/reset/invite-MQ/abc-def/",
        "/accounts/reset/invite-%FF%FE/abc/",
        "/accounts/reset/invite-zzzzzzzzzzzzzzzzzzzzzzzz/x/",
        "/accounts/reset/invite-MQ/set-password/",
    ]:
        response = client.get(path, follow=True)
        assert response.status_code == 200, path
        assert b'data-testid="invitation-invalid"' in response.content
