"""The page where people make and revoke their API tokens, and the JSON 404 for unknown API
paths."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from api import services
from api.models import ApiToken
from crm.models import User


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("e.g. weekly Excel report")}),
    )


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """List the user's tokens; make a new one (shown once, on this response only)."""
    user = _user(request)
    form = TokenForm(request.POST or None)
    new_token = ""
    if request.method == "POST" and form.is_valid():
        try:
            _row, new_token = services.token_create(user=user, name=form.cleaned_data["name"])
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            form = TokenForm()
    context = {
        "form": form,
        "new_token": new_token,
        "tokens": ApiToken.objects.filter(user=user),
    }
    status = 422 if request.method == "POST" and not new_token else 200
    response = render(request, "api/tokens.html", context, status=status)
    # The page with a fresh token must not be kept by the browser or a proxy.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    token = get_object_or_404(ApiToken, pk=pk, user=user)
    services.token_revoke(user=user, token=token)
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("api-tokens")


def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    return JsonResponse(
        {"error": {"code": "not_found", "message": _("Not found."), "fields": {}}}, status=404
    )
