"""Reads of an account's contacts and groups. Every query is scoped to the account: another
account's id is simply not found."""

import re
from collections import defaultdict

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from contacts.models import Contact, Group, OptOut
from core.errors import ApplicationError, TooLarge
from core.ids import valid_id

PHONE_LIKE = re.compile(r"^[\d\s+()./-]+$")


def contact_list(*, account_id: int, group_id: int | None = None, search: str = "") -> QuerySet[Contact]:
    """The account's contacts, newest first; in a group, and/or whose name (any case) or number
    holds `search`."""
    contacts = Contact.objects.filter(account_id=account_id)
    if group_id is not None:
        contacts = contacts_in_group(contacts, group_id)
    return contacts_matching(contacts, search).order_by("-id")


def contacts_in_group(contacts: QuerySet[Contact], group_id: int) -> QuerySet[Contact]:
    """Those in the group; a group id that is not one of the account's groups finds none."""
    if not valid_id(group_id):
        return contacts.none()
    return contacts.filter(groups__id=group_id)


def contacts_matching(contacts: QuerySet[Contact], search: str) -> QuerySet[Contact]:
    """Those whose name (any case) or number holds `search` (spaces around it ignored)."""
    search = search.strip()
    if not search:
        return contacts
    condition = Q(name__icontains=search)
    digits = re.sub(r"\D", "", search)
    if digits and PHONE_LIKE.match(search):  # "+44 7400", "(07400) 123": the digits, as stored
        condition |= Q(phone__contains=digits)
    return contacts.filter(condition)


def contact_get(*, account_id: int, contact_id: int) -> Contact | None:
    if not valid_id(contact_id):
        return None
    return Contact.objects.filter(account_id=account_id, pk=contact_id).first()


def contact_group_ids(contacts: list[Contact]) -> dict[int, list[int]]:
    """Each contact's group ids, sorted, in one query for the whole list (never one per contact);
    also set as `contact.group_ids`."""
    by_contact: dict[int, list[int]] = defaultdict(list)
    if contacts:
        rows = Contact.groups.through.objects.filter(contact_id__in=[c.pk for c in contacts]).order_by("group_id")
        for contact_id, group_id in rows.values_list("contact_id", "group_id"):
            by_contact[contact_id].append(group_id)
    for contact in contacts:
        contact.group_ids = by_contact.get(contact.pk, [])
    return by_contact


def group_list(*, account_id: int) -> QuerySet[Group]:
    """The account's groups by name, each with `contact_count` (one query)."""
    return Group.objects.filter(account_id=account_id).annotate(contact_count=Count("contacts")).order_by("name", "id")


def group_get(*, account_id: int, group_id: int) -> Group | None:
    if not valid_id(group_id):
        return None
    return group_list(account_id=account_id).filter(pk=group_id).first()


def group_numbers(*, account_id: int, group_ids: list[int]) -> list[str]:
    """The numbers of the contacts in the account's groups, each once, in two queries. Any id that
    is not one of the account's groups is refused, named (400)."""
    wanted = list(dict.fromkeys(group_ids))
    found: set[int] = set()
    numbers: dict[str, None] = {}
    queried = [group_id for group_id in wanted if valid_id(group_id)]
    if queried:
        found = set(Group.objects.filter(account_id=account_id, pk__in=queried).values_list("pk", flat=True))
        # Each number once, and never more than one past the limit in memory, however many
        # (overlapping) groups the request names.
        limit = settings.SMS_MAX_RECIPIENTS
        phones = list(
            Contact.objects.filter(account_id=account_id, groups__in=found)
            .order_by("phone")
            .values_list("phone", flat=True)
            .distinct()[: limit + 1]
        ) if found else []  # fmt: skip
        if len(phones) > limit:
            raise TooLarge(
                f"At most {limit:,} recipients per request; these contact groups hold more.",
                code="too_many_recipients",
            )
        numbers = dict.fromkeys(phones)
    unknown = [group_id for group_id in wanted if group_id not in found]
    if unknown:
        shown = ", ".join(str(group_id) for group_id in unknown[:20])
        plural = "s" if len(unknown) > 1 else ""
        raise ApplicationError(
            f"No contact group{plural} of this account with the id{plural} {shown}.",
            code="unknown_groups",
            errors={"to_groups": [f"No group with id {group_id}." for group_id in unknown[:100]]},
        )
    return list(numbers)


def opt_out_list(*, account_id: int, search: str = "") -> QuerySet[OptOut]:
    """The account's opt-outs, newest first; with `search`, those whose number holds its digits."""
    opt_outs = OptOut.objects.filter(account_id=account_id)
    return opt_outs_matching(opt_outs, search).order_by("-id")


def opt_outs_matching(opt_outs: QuerySet[OptOut], search: str) -> QuerySet[OptOut]:
    """Those whose number holds the digits of `search` ("+44 7400" finds +447400…); a search
    with no digits finds none."""
    digits = re.sub(r"\D", "", search)
    if not search.strip():
        return opt_outs
    return opt_outs.filter(phone__contains=digits) if digits else opt_outs.none()


def opted_out(*, account_id: int, phones: list[str]) -> set[str]:
    """Which of these E.164 numbers are opted out of the account's messages: one query, whatever
    their number (the send's check, SPEC §3)."""
    if not phones:
        return set()
    return set(OptOut.objects.filter(account_id=account_id, phone__in=phones).values_list("phone", flat=True))


def opted_out_pairs(pairs: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which of these (account id, E.164 number) pairs are opted out, in one query (a delivery
    batch checks again what may have changed since its messages were accepted)."""
    if not pairs:
        return set()
    found = OptOut.objects.filter(
        account_id__in={account_id for account_id, _ in pairs}, phone__in={phone for _, phone in pairs}
    ).values_list("account_id", "phone")
    return set(found) & pairs
