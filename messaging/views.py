from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from messaging.services import message_send_test
from portal.exceptions import ApplicationError


@login_required
@require_POST
def send_test_sms(request):
    try:
        message = message_send_test(user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Test message queued to {message.recipient}. Its status appears below.")
    return redirect("dashboard")
