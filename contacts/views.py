"""The Contacts pages: members with `view_contacts` read, with `manage_contacts` change."""

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audit.context import AuditContext
from contacts import selectors, services
from contacts.forms import (
    IMPORT_MAX_BYTES,
    ContactFilterForm,
    ContactForm,
    GroupForm,
    ImportForm,
    OptOutFilterForm,
    OptOutForm,
    OptOutImportForm,
)
from contacts.models import OptOut
from core.csv_export import streaming_csv
from core.errors import ApplicationError, raise_for_page
from core.forms import form_submit
from core.http import accepts_upload
from core.pagination import portal_page


def _account_id(request: HttpRequest, *, write: bool) -> int:
    membership = getattr(request.user, "membership", None)
    if membership is None:
        raise PermissionDenied
    if write and not membership.has_permission("manage_contacts"):
        raise PermissionDenied
    if not (membership.has_permission("view_contacts") or membership.has_permission("manage_contacts")):
        raise PermissionDenied
    return membership.account_id


def _region(request: HttpRequest) -> str:
    """The account's default country: the portal's forms take national numbers of it."""
    return request.user.membership.account.default_country


def _can_manage(request: HttpRequest) -> bool:
    return request.user.membership.has_permission("manage_contacts")


def _delete(request: HttpRequest, service, *, done: str, to: str, **ids) -> HttpResponse:
    account_id = _account_id(request, write=True)
    try:
        service(account_id=account_id, **ids)
    except ApplicationError as exc:
        raise_for_page(exc)
        raise
    messages.success(request, done)
    return redirect(to)


@login_required
def contact_list(request: HttpRequest) -> HttpResponse:
    account_id = _account_id(request, write=False)
    groups = list(selectors.group_list(account_id=account_id))
    form = ContactFilterForm(request.GET or None, groups=groups)
    filters = form.cleaned_data if form.is_valid() else {}
    contacts = selectors.contact_list(
        account_id=account_id, group_id=filters.get("group"), search=filters.get("q") or ""
    )
    page, query = portal_page(request, contacts)
    page.object_list = list(page.object_list)  # one query, and the group ids stay on these objects
    selectors.contact_group_ids(page.object_list)
    names = {g.pk: g.name for g in groups}
    for contact in page.object_list:
        contact.group_names = [names[pk] for pk in contact.group_ids if pk in names]
    return render(
        request,
        "contacts/list.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "groups": groups,
            "filtered": bool(filters.get("group") or filters.get("q")),
            "can_manage": _can_manage(request),
        },
    )


@login_required
def contact_create(request: HttpRequest) -> HttpResponse:
    account_id = _account_id(request, write=True)
    groups = list(selectors.group_list(account_id=account_id))
    form = ContactForm(request.POST or None, groups=groups, region=_region(request))
    created = form_submit(
        request,
        form,
        lambda data: services.contact_create(
            account_id=account_id,
            phone=data["phone"],
            name=data["name"],
            group_ids=data["groups"],
            region=_region(request),
        ),
        done=lambda contact: f"Contact {contact.phone} added.",
        to="contacts:list",
    )
    return created or render(request, "contacts/contact_form.html", {"form": form, "contact": None})


@login_required
def contact_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    account_id = _account_id(request, write=True)
    contact = selectors.contact_get(account_id=account_id, contact_id=contact_id)
    if contact is None:
        raise Http404
    selectors.contact_group_ids([contact])
    groups = list(selectors.group_list(account_id=account_id))
    initial = {"phone": contact.phone, "name": contact.name, "groups": contact.group_ids}
    form = ContactForm(request.POST or None, groups=groups, initial=initial, region=_region(request))
    saved = form_submit(
        request,
        form,
        lambda data: services.contact_update(
            account_id=account_id,
            contact_id=contact.pk,
            phone=data["phone"],
            name=data["name"],
            group_ids=data["groups"],
            region=_region(request),
        ),
        done="Contact saved.",
        to="contacts:list",
    )
    return saved or render(request, "contacts/contact_form.html", {"form": form, "contact": contact})


@login_required
@require_POST
def contact_delete(request: HttpRequest, contact_id: int) -> HttpResponse:
    return _delete(request, services.contact_delete, done="Contact deleted.", to="contacts:list", contact_id=contact_id)


@login_required
def group_list(request: HttpRequest) -> HttpResponse:
    account_id = _account_id(request, write=request.method == "POST")
    form = GroupForm(request.POST or None)
    created = form_submit(
        request,
        form,
        lambda data: services.group_create(account_id=account_id, name=data["name"]),
        done=lambda group: f"Group “{group.name}” created.",
        to="contacts:groups",
    )
    if created:
        return created
    groups = list(selectors.group_list(account_id=account_id))
    return render(request, "contacts/groups.html", {"form": form, "groups": groups, "can_manage": _can_manage(request)})


@login_required
def group_rename(request: HttpRequest, group_id: int) -> HttpResponse:
    account_id = _account_id(request, write=True)
    group = selectors.group_get(account_id=account_id, group_id=group_id)
    if group is None:
        raise Http404
    form = GroupForm(request.POST or None, initial={"name": group.name})
    renamed = form_submit(
        request,
        form,
        lambda data: services.group_update(account_id=account_id, group_id=group.pk, name=data["name"]),
        done="Group renamed.",
        to="contacts:groups",
    )
    return renamed or render(request, "contacts/group_form.html", {"form": form, "group": group})


@login_required
@require_POST
def group_delete(request: HttpRequest, group_id: int) -> HttpResponse:
    done = "Group deleted; its contacts stay."
    return _delete(request, services.group_delete, done=done, to="contacts:groups", group_id=group_id)


def _import(request: HttpRequest, form_class, service, template: str) -> HttpResponse:
    """A CSV import page: the upload form, then the report of what `service` imported (a refusal
    of the whole file on the form)."""
    account_id = _account_id(request, write=True)
    form = form_class(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = service(account_id=account_id, rows=form.cleaned_data["file"], region=_region(request))
        except ApplicationError as exc:
            form.add_error("file", exc.detail)
    return render(request, template, {"form": form, "report": report})


@accepts_upload(IMPORT_MAX_BYTES)
@login_required
def contact_import(request: HttpRequest) -> HttpResponse:
    return _import(request, ImportForm, services.contacts_import, "contacts/import.html")


# --- Opt-outs ---------------------------------------------------------------------------------

OPT_OUT_CSV_COLUMNS = ["phone", "source", "created_at"]


@login_required
def opt_out_list(request: HttpRequest) -> HttpResponse:
    """The list (search, pages, CSV export) and, for `manage_contacts`, the add form (POST)."""
    account_id = _account_id(request, write=request.method == "POST")
    form = OptOutForm(request.POST or None)
    added = form_submit(
        request,
        form,
        lambda data: services.opt_out_add(
            account_id=account_id,
            phone=data["phone"],
            source=OptOut.Source.PORTAL,
            context=AuditContext.from_request(request),
            region=_region(request),
        ),
        done=lambda answer: f"{answer[0].phone} {'opted out' if answer[1] else 'was already opted out'}.",
        to="contacts:opt-outs",
    )
    if added:
        return added
    search = OptOutFilterForm(request.GET or None)
    query_text = (search.cleaned_data.get("q") or "") if search.is_valid() else ""
    opt_outs = selectors.opt_out_list(account_id=account_id, search=query_text)
    if request.GET.get("format") == "csv":
        rows = opt_outs.values_list(*OPT_OUT_CSV_COLUMNS).iterator(chunk_size=2000)
        return streaming_csv("opt-outs.csv", OPT_OUT_CSV_COLUMNS, rows)
    page, query = portal_page(request, opt_outs)
    return render(
        request,
        "contacts/opt_outs.html",
        {
            "form": form,
            "search": search,
            "page": page,
            "query": query,
            "filtered": bool(query_text),
            "can_manage": _can_manage(request),
        },
    )


@login_required
@require_POST
def opt_out_remove(request: HttpRequest) -> HttpResponse:
    phone = request.POST.get("phone", "")
    remove = partial(services.opt_out_remove, context=AuditContext.from_request(request))
    return _delete(
        request, remove, done=f"{phone} may receive your messages again.", to="contacts:opt-outs", phone=phone
    )


@accepts_upload(IMPORT_MAX_BYTES)
@login_required
def opt_out_import(request: HttpRequest) -> HttpResponse:
    service = partial(services.opt_outs_import, context=AuditContext.from_request(request))
    return _import(request, OptOutImportForm, service, "contacts/opt_out_import.html")
