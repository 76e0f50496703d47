"""Changes to an account's contacts and groups. Every write is scoped to the account (another
account's id is a 404) and numbers are normalised to E.164 by the parser the sending service uses,
so a contact is exactly a number a message can go to."""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import CharField, Value
from django.db.models.functions import Lower

from accounts.models import Account
from audit import hub
from audit.context import NO_CONTEXT, AuditContext
from audit.services import audit_record
from contacts.models import Contact, Group, OptOut
from contacts.serializers import opt_out_json
from core.errors import ApplicationError, Conflict, NotFound, not_found
from core.ids import valid_id
from core.phone import number_refusal, parse_recipient
from core.text import UNSTORABLE

NAME_MAX = 100


def _parse(raw, region: str | None) -> tuple[str, str] | None:
    """(E.164, country) of a number typed by a person; `region` is the account's default country
    in the portal (national numbers), None through the API (E.164 only, SPEC §5)."""
    if not isinstance(raw, str) or UNSTORABLE.search(raw):
        return None
    return parse_recipient(raw, region or "")


def _phone(raw, region: str | None = None) -> str:
    parsed = _parse(raw, region)
    if parsed is None:
        if region is None or not isinstance(raw, str) or UNSTORABLE.search(raw):
            shown = str(raw)[:32] if isinstance(raw, str) and not UNSTORABLE.search(raw) else "this value"
            detail = f"Not a valid phone number in international (E.164) format: {shown}."
            short = "Give a valid number in international format, e.g. +447400123456."
        else:
            detail = short = number_refusal(raw, region)
        raise ApplicationError(detail, code="invalid_phone", errors={"phone": [short]})
    return parsed[0]


def _text(raw, *, field_name: str, required: bool) -> str:
    value = raw.strip() if isinstance(raw, str) else ""
    if UNSTORABLE.search(value):
        raise ApplicationError(
            f"The {field_name} holds a character that cannot be stored.",
            code="invalid_request",
            errors={field_name: ["Invalid character."]},
        )
    if required and not value:
        raise ApplicationError(
            f"The {field_name} is required.", code="invalid_request", errors={field_name: ["Required."]}
        )
    if len(value) > NAME_MAX:
        raise ApplicationError(
            f"The {field_name} is at most {NAME_MAX} characters.",
            code="invalid_request",
            errors={field_name: [f"At most {NAME_MAX} characters."]},
        )
    return value


def _group_ids(*, account_id: int, group_ids: Iterable[int]) -> list[int]:
    """The ids, each once and sorted, all of them the account's groups (else a 400 naming them)."""
    wanted = sorted(set(group_ids))
    queried = [group_id for group_id in wanted if valid_id(group_id)]
    found = set()
    if queried:
        found = set(Group.objects.filter(account_id=account_id, pk__in=queried).values_list("pk", flat=True))
    unknown = [group_id for group_id in wanted if group_id not in found]
    if unknown:
        raise ApplicationError(
            f"No contact group with the id {', '.join(str(g) for g in unknown[:20])}.",
            code="unknown_groups",
            errors={"groups": [f"No group with id {group_id}." for group_id in unknown[:100]]},
        )
    return wanted


def _duplicate_phone(*, account_id: int, phone: str) -> ApplicationError:
    existing = Contact.objects.filter(account_id=account_id, phone=phone).values_list("pk", flat=True).first()
    return Conflict(
        f"There is already a contact with the number {phone}" + (f" (id {existing})." if existing else "."),
        code="contact_exists",
        title="Conflict",
        errors={"phone": ["Already a contact."]},
    )


def _duplicate_group(name: str) -> ApplicationError:
    return Conflict(
        f"There is already a group named “{name}”.",
        code="group_exists",
        title="Conflict",
        errors={"name": ["Already a group."]},
    )


def _set_groups(contact: Contact, group_ids: list[int]) -> None:
    through = Contact.groups.through
    through.objects.filter(contact_id=contact.pk).exclude(group_id__in=group_ids).delete()
    present = set(through.objects.filter(contact_id=contact.pk).values_list("group_id", flat=True))
    through.objects.bulk_create(
        [through(contact_id=contact.pk, group_id=group_id) for group_id in group_ids if group_id not in present],
        ignore_conflicts=True,  # added a moment ago by a concurrent request: it is there, as wanted
    )
    contact.group_ids = list(group_ids)


def contact_create(
    *, account_id: int, phone: str, name: str = "", group_ids: Iterable[int] = (), region: str | None = None
) -> Contact:
    """`region`: the account's default country, for a national number (the portal's form)."""
    phone = _phone(phone, region)
    name = _text(name, field_name="name", required=False)
    groups = _group_ids(account_id=account_id, group_ids=group_ids)
    try:
        with transaction.atomic():
            contact = Contact.objects.create(account_id=account_id, phone=phone, name=name)
            _set_groups(contact, groups)
    except IntegrityError:  # the number is taken (perhaps a moment ago, by a concurrent request)
        raise _duplicate_phone(account_id=account_id, phone=phone) from None
    return contact


def contact_update(
    *,
    account_id: int,
    contact_id: int,
    phone: str | None = None,
    name: str | None = None,
    group_ids: Iterable[int] | None = None,
    region: str | None = None,
) -> Contact:
    """Change what is given (None: unchanged); `group_ids` replaces the contact's groups."""
    new_phone = _phone(phone, region) if phone is not None else None
    new_name = _text(name, field_name="name", required=False) if name is not None else None
    groups = _group_ids(account_id=account_id, group_ids=group_ids) if group_ids is not None else None
    if not valid_id(contact_id):
        raise not_found("contact")
    try:
        with transaction.atomic():
            contact = Contact.objects.select_for_update().filter(account_id=account_id, pk=contact_id).first()
            if contact is None:
                raise not_found("contact")
            changed = []
            if new_phone is not None and new_phone != contact.phone:
                contact.phone = new_phone
                changed.append("phone")
            if new_name is not None and new_name != contact.name:
                contact.name = new_name
                changed.append("name")
            if changed:
                contact.save(update_fields=changed)
            if groups is not None:
                _set_groups(contact, groups)
    except IntegrityError:
        raise _duplicate_phone(account_id=account_id, phone=new_phone or "") from None
    return contact


def contact_delete(*, account_id: int, contact_id: int) -> None:
    if not valid_id(contact_id) or not Contact.objects.filter(account_id=account_id, pk=contact_id).delete()[0]:
        raise not_found("contact")


def _group_name_taken(*, account_id: int, name: str, exclude_id: int | None = None) -> bool:
    groups = Group.objects.annotate(lower_name=Lower("name")).filter(account_id=account_id, lower_name=name.lower())
    if exclude_id is not None:
        groups = groups.exclude(pk=exclude_id)
    return groups.exists()


def group_create(*, account_id: int, name: str) -> Group:
    name = _text(name, field_name="name", required=True)
    if _group_name_taken(account_id=account_id, name=name):
        raise _duplicate_group(name)
    try:
        with transaction.atomic():
            group = Group.objects.create(account_id=account_id, name=name)
    except IntegrityError:  # created a moment ago by a concurrent request
        raise _duplicate_group(name) from None
    group.contact_count = 0
    return group


def group_update(*, account_id: int, group_id: int, name: str) -> Group:
    name = _text(name, field_name="name", required=True)
    if not valid_id(group_id):
        raise not_found("group")
    try:
        with transaction.atomic():
            group = Group.objects.select_for_update().filter(account_id=account_id, pk=group_id).first()
            if group is None:
                raise not_found("group")
            if name != group.name:
                if _group_name_taken(account_id=account_id, name=name, exclude_id=group.pk):
                    raise _duplicate_group(name)
                group.name = name
                group.save(update_fields=["name"])
    except IntegrityError:
        raise _duplicate_group(name) from None
    return group


def group_delete(*, account_id: int, group_id: int) -> None:
    """The group goes; its contacts stay (only their membership of it goes)."""
    if not valid_id(group_id) or not Group.objects.filter(account_id=account_id, pk=group_id).delete()[0]:
        raise not_found("group")


# --- CSV import -------------------------------------------------------------------------------

IMPORT_MAX_ROWS = 10_000
IMPORT_GROUP_SEPARATOR = re.compile(r"[;|]")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0  # already contacts: joined the row's groups
    groups_created: list[str] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def contacts_import(*, account_id: int, rows: list[tuple[int, list[str]]], region: str | None = None) -> ImportReport:
    """Import (line number, [phone, name, groups]) rows: one transaction for all the valid rows,
    every other row refused with its reason. A number without its country code is read in `region`
    (the account's default country; "" when it has none). `groups` names groups, separated by `;` or `|`;
    missing ones are created. A number that is already a contact keeps its name (or takes the
    row's if it had none) and joins the row's groups. A few queries for the whole file, never one
    per row."""
    report = ImportReport()
    if len(rows) > IMPORT_MAX_ROWS:
        raise ApplicationError(f"At most {IMPORT_MAX_ROWS:,} rows per file; this one has {len(rows):,}.")
    valid: dict[str, tuple[str, list[str]]] = {}  # phone -> (name, group names)
    first_line: dict[str, int] = {}
    for line, cells in rows:
        cells = [cell.strip() for cell in cells]
        while cells and not cells[-1]:  # "phone,name,," from spreadsheets
            cells.pop()
        if not cells:
            continue
        if len(cells) > 3:
            report.refused.append((line, "More than three columns (phone, name, groups)."))
            continue
        phone_raw, name, groups_raw = [*cells, "", ""][:3]
        parsed = _parse(phone_raw, region)
        if parsed is None:
            report.refused.append((line, number_refusal(phone_raw, region)))
            continue
        phone = parsed[0]
        if UNSTORABLE.search(name) or UNSTORABLE.search(groups_raw):
            report.refused.append((line, "Holds a character that cannot be stored."))
            continue
        if len(name) > NAME_MAX:
            report.refused.append((line, f"The name is longer than {NAME_MAX} characters."))
            continue
        group_names = [g.strip() for g in IMPORT_GROUP_SEPARATOR.split(groups_raw) if g.strip()]
        if any(len(g) > NAME_MAX for g in group_names):
            report.refused.append((line, f"A group name is longer than {NAME_MAX} characters."))
            continue
        if phone in valid:
            report.refused.append((line, f"{phone} is already on line {first_line[phone]}."))
            continue
        valid[phone] = (name, group_names)
        first_line[phone] = line
    if not valid:
        return report

    with transaction.atomic():
        # Groups, by name whatever the case, folded as the database folds them (its unique
        # constraint's LOWER; Python's lower() differs for some letters, such as "İ"): the
        # account's, and those the file names anew.
        fold = _database_lower(account_id, list(dict.fromkeys(g for _, names in valid.values() for g in names)))
        wanted: dict[str, str] = {}
        for name, key in fold.items():
            wanted.setdefault(key, name)

        def account_groups() -> dict[str, int]:
            return dict(
                Group.objects.filter(account_id=account_id)
                .annotate(folded=Lower("name"))
                .filter(folded__in=list(wanted))
                .values_list("folded", "pk")
            )

        groups = account_groups() if wanted else {}
        new_groups = [Group(account_id=account_id, name=wanted[key]) for key in wanted if key not in groups]
        Group.objects.bulk_create(new_groups, ignore_conflicts=True)
        if new_groups:
            groups = account_groups()
            report.groups_created = [g.name for g in new_groups if fold[g.name] in groups]
        existing = dict(Contact.objects.filter(account_id=account_id, phone__in=list(valid)).values_list("phone", "pk"))
        named_now = [
            Contact(pk=pk, name=valid[phone][0])
            for pk, phone in Contact.objects.filter(pk__in=existing.values(), name="").values_list("pk", "phone")
            if valid[phone][0]
        ]
        Contact.objects.bulk_create(
            [Contact(account_id=account_id, phone=p, name=n) for p, (n, _) in valid.items() if p not in existing],
            batch_size=2000,
            ignore_conflicts=True,  # a number added by someone else meanwhile: it is joined, below
        )
        Contact.objects.bulk_update(named_now, ["name"], batch_size=2000)
        ids = dict(Contact.objects.filter(account_id=account_id, phone__in=list(valid)).values_list("phone", "pk"))
        through = Contact.groups.through
        through.objects.bulk_create(
            [
                through(contact_id=ids[phone], group_id=groups[key])
                for phone, (_, names) in valid.items()
                for key in dict.fromkeys(fold[n] for n in names)
                if phone in ids and key in groups
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
        report.updated = sum(1 for phone in valid if phone in existing)
        report.created = len(valid) - report.updated
    return report


def _database_lower(account_id: int, names: list[str]) -> dict[str, str]:
    """Each name as the database's LOWER folds it, a few hundred per query (read beside the
    account's row: the ORM selects from a table)."""
    folded: dict[str, str] = {}
    account = Account.objects.filter(pk=account_id)
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        row = account.values_list(*(Lower(Value(name, output_field=CharField())) for name in chunk)).get()
        folded.update(zip(chunk, row, strict=True))
    return folded


# --- Opt-outs ---------------------------------------------------------------------------------
# Each change is audited and published on the hub as `opt_out.created` / `opt_out.removed` (the
# webhooks' events: KIND `opt_out`, ID the number, DATA the opt-out as the API answers it, since
# a removed one can no longer be read when the webhook is sent).

OPT_OUT_CREATED = "opt_out.created"
OPT_OUT_REMOVED = "opt_out.removed"


def _opt_out_published(action: str, opt_out: OptOut) -> None:
    hub.publish(
        hub.Event(
            action=action,
            account_id=opt_out.account_id,
            object_type="opt_out",
            object_id=opt_out.phone,
            data=opt_out_json(opt_out),
        )
    )


def opt_out_add(
    *, account_id: int, phone: str, source: str, context: AuditContext = NO_CONTEXT, region: str | None = None
) -> tuple[OptOut, bool]:
    """The number's opt-out in the account, and whether it is new: adding one that exists
    answers it, unchanged (idempotent). A number given in any international form (or, with the
    account's default country as `region`, a national one) is stored E.164."""
    phone = _phone(phone, region)
    with transaction.atomic():
        opt_out, created = OptOut.objects.get_or_create(
            account_id=account_id, phone=phone, defaults={"source": OptOut.Source(source)}
        )
        if created:
            audit_record(
                action="contacts.opt_out_added",
                account=Account(pk=account_id),
                context=context,
                target=opt_out,
                data={"phone": phone, "source": opt_out.source},
            )
            _opt_out_published(OPT_OUT_CREATED, opt_out)
    return opt_out, created


def opt_out_remove(
    *, account_id: int, phone: str, context: AuditContext = NO_CONTEXT, missing_ok: bool = False
) -> bool:
    """The number may be sent to again. An unknown number is a 404, or with `missing_ok` an
    answer of False (START from someone who never sent STOP)."""
    parsed = parse_recipient(phone) if isinstance(phone, str) and not UNSTORABLE.search(phone) else None
    with transaction.atomic():
        opt_out = None
        if parsed is not None:
            opt_out = OptOut.objects.select_for_update().filter(account_id=account_id, phone=parsed[0]).first()
        if opt_out is None:
            if missing_ok:
                return False
            raise not_found("opt-out") if parsed is None else NotFound(f"{parsed[0]} is not opted out.")
        opt_out.delete()
        opt_out.account_id = account_id  # (delete() keeps the fields; the event reads them)
        audit_record(
            action="contacts.opt_out_removed",
            account=Account(pk=account_id),
            context=context,
            data={"phone": opt_out.phone, "source": opt_out.source},
        )
        _opt_out_published(OPT_OUT_REMOVED, opt_out)
    return True


@dataclass
class OptOutImportReport:
    created: int = 0
    existing: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def opt_outs_import(
    *, account_id: int, rows: list[tuple[int, list[str]]], context: AuditContext, region: str | None = None
) -> OptOutImportReport:
    """Import (line number, [phone, …]) rows (the first column; an export's other columns are
    ignored) as portal opt-outs: the valid rows together, in a few queries for the whole file;
    numbers already opted out stay as they are. One audit event for the file, one hub event per
    new opt-out."""
    report = OptOutImportReport()
    if len(rows) > IMPORT_MAX_ROWS:
        raise ApplicationError(f"At most {IMPORT_MAX_ROWS:,} rows per file; this one has {len(rows):,}.")
    phones: dict[str, int] = {}
    for line, cells in rows:
        raw = cells[0].strip() if cells else ""
        if not raw and not any(cell.strip() for cell in cells):
            continue
        parsed = _parse(raw, region)
        if parsed is None:
            report.refused.append((line, number_refusal(raw, region)))
        elif parsed[0] in phones:
            report.refused.append((line, f"{parsed[0]} is already on line {phones[parsed[0]]}."))
        else:
            phones[parsed[0]] = line
    if not phones:
        return report
    with transaction.atomic():
        existing = set(
            OptOut.objects.filter(account_id=account_id, phone__in=list(phones)).values_list("phone", flat=True)
        )
        OptOut.objects.bulk_create(
            [OptOut(account_id=account_id, phone=p, source=OptOut.Source.PORTAL) for p in phones if p not in existing],
            batch_size=2000,
            ignore_conflicts=True,  # opted out a moment ago by other means: it is there, as wanted
        )
        new = [p for p in phones if p not in existing]
        created = list(OptOut.objects.filter(account_id=account_id, phone__in=new)) if new else []
        report.created, report.existing = len(created), len(phones) - len(created)
        if created:
            audit_record(
                action="contacts.opt_outs_imported",
                account=Account(pk=account_id),
                context=context,
                data={"count": len(created)},
            )
        for opt_out in created:
            _opt_out_published(OPT_OUT_CREATED, opt_out)
    return report
