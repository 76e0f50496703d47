"""The portal's Verify page: the text of the account's verification SMS (`manage_security`)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.context import AuditContext
from core.forms import form_submit
from security.selectors import can_manage_security
from verify import services
from verify.forms import TemplateForm
from verify.selectors import template_for


@login_required
def template_edit(request: HttpRequest) -> HttpResponse:
    if not can_manage_security(request.user):
        raise PermissionDenied
    account = request.user.account
    form = TemplateForm(request.POST or None, initial={"template": template_for(account_id=account.pk)})
    done = form_submit(
        request,
        form,
        lambda data: services.verify_template_set(
            account=account, template=data["template"], actor=request.user, context=AuditContext.from_request(request)
        ),
        done="The verification SMS text is saved.",
        to="verify:template",
    )
    if done is not None:
        return done
    return render(request, "verify/template.html", {"form": form}, status=400 if form.is_bound else 200)
