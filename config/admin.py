"""Admin building blocks shared by the apps."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core import checks
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import path

from config.errors import DomainError
from organizations.models import Organization  # the staff console is tenant-aware

SITE_HEADER = "SaaS platform — staff"


class OrganizationFilter(admin.SimpleListFilter):
    """Filter a tenant model's list by organization (``?org=<slug>``).

    Offers the first :attr:`LIMIT` organizations by slug as links; any slug
    works in the URL, so the filter stays usable with thousands of tenants.
    """

    title = "organization"
    parameter_name = "org"
    LIMIT = 100

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        rows = Organization.objects.order_by("slug").values_list("slug", "name")[: self.LIMIT]
        return [(slug, f"{name} ({slug})") for slug, name in rows]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(organization__slug=self.value())
        return queryset


def organization_field(model: type) -> Any:
    """The model's ``organization`` foreign key, if it is a tenant model."""
    field = next((f for f in model._meta.concrete_fields if f.name == "organization"), None)
    return field if field is not None and field.related_model is Organization else None


class StaffAdminSite(admin.AdminSite):
    """The staff console (``admin.site``, installed by ``config.apps.StaffAdminConfig``).

    Every tenant model's list gets an organization filter when it is
    registered, so an admin added later has one without asking.
    """

    site_header = SITE_HEADER
    site_title = SITE_HEADER
    index_title = "Tenants, people and their work"

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        super().register(model_or_iterable, admin_class, **options)
        models = (
            model_or_iterable
            if isinstance(model_or_iterable, list | tuple)
            else [model_or_iterable]
        )
        for model in models:
            model_admin = self._registry.get(model)  # None: a swapped model (auth.User)
            if model_admin is None:
                continue
            if organization_field(model) is not None and OrganizationFilter not in (
                model_admin.list_filter or ()
            ):
                model_admin.list_filter = [OrganizationFilter, *(model_admin.list_filter or ())]

    def get_urls(self) -> list[Any]:
        urls = super().get_urls()
        return [
            path(
                "r/<path:content_type_id>/<path:object_id>/",
                self.admin_view(self.view_on_site),
                name="view_on_site",
            )
            if getattr(url, "name", None) == "view_on_site"
            else url
            for url in urls
        ]

    def view_on_site(self, request: HttpRequest, content_type_id: str, object_id: str) -> Any:
        """Django's "view on site" redirect, for staff who may view the model.

        SECURITY: Django's own view answers any staff user, and its 404 says
        whether the object exists ("... object X doesn't exist" vs "... objects
        don't have a get_absolute_url() method"): an existence oracle for every
        row of every table. Without view permission on the model (or for a model
        with no admin), every answer is the same bare 404.
        """
        from django.contrib.contenttypes import views as contenttype_views
        from django.contrib.contenttypes.models import ContentType

        try:
            model = ContentType.objects.get_for_id(int(content_type_id)).model_class()
        except (ValueError, ContentType.DoesNotExist):
            model = None
        model_admin = self._registry.get(model) if model is not None else None
        if model_admin is None or not model_admin.has_view_permission(request):
            raise Http404
        return contenttype_views.shortcut(request, content_type_id, object_id)


def configure_site(site: admin.AdminSite | None = None) -> None:
    """Hide the models staff have no use for.

    Groups are not used (staff get permissions one by one), permissions have no
    screen of their own, and the JWT blacklist tables are SimpleJWT internals
    (our sessions are ``accounts.Session``).
    """
    from django.contrib.auth.models import Group
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    site = site or admin.site
    for model in (Group, OutstandingToken, BlacklistedToken):
        if site.is_registered(model):
            site.unregister(model)


class ActionsOnlyAdmin(admin.ModelAdmin):
    """Rows that change only through admin actions, which call the services.

    The change form is a read-only page (posting it is refused: ``ModelAdmin``
    would save the row directly, past the service and its audit event), and
    there is no add or generic delete. ``has_change_permission`` still answers
    for the list, so actions declaring ``("change",)`` work for staff who hold it.
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyActionsAdmin(ActionsOnlyAdmin):
    """An :class:`ActionsOnlyAdmin` whose change page shows every column, read-only,
    except the ones named in ``hidden_fields``.

    The page lists exactly the model's columns minus ``hidden_fields``, so a hidden
    column (an encrypted secret, a key hash, a search vector) is never rendered, not
    even as a form field.
    """

    hidden_fields: Collection[str] = ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields if f.name not in self.hidden_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.get_fields(request, obj)


class ReadOnlyTabularInline(admin.TabularInline):
    """Rows shown beside their parent for context; they change through services, not here."""

    extra = 0
    can_delete = False
    show_change_link = True
    related: tuple[str, ...] = ()  # what each row's label (``__str__``) reads

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related(*self.related)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.fields or [])

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def apply_to_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    verb: str,
    change: Callable[[Any], None],
) -> None:
    """Run ``change`` on each row in its own savepoint; report what worked and what was refused."""
    done = 0
    for obj in queryset:
        try:
            with transaction.atomic():
                change(obj)
            done += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{verb}: {done}", messages.SUCCESS)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded in the audit log with the change (e.g. the support ticket).",
    )


def apply_with_reason(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    title: str,
    verb: str,
    change: Callable[[Any, str], None],
) -> TemplateResponse | None:
    """A support action's intermediate page: first it asks why (``ReasonForm``), then,
    posted back with the reason, runs ``change(obj, reason)`` on each selected row
    through :func:`apply_to_each` (the services audit the reason). The action's
    declared permission is checked by Django before either step runs."""
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        reason = form.cleaned_data["reason"]
        apply_to_each(modeladmin, request, queryset, verb, lambda obj: change(obj, reason))
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "queryset": queryset,
        "form": form,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/action_reason.html", context)


def action_permission_problems(site: admin.AdminSite | None = None) -> list[str]:
    """Every admin action of ``site`` that does not declare the permission it needs.

    Admin requests run in the service context (every tenant is reachable), so an
    action without ``allowed_permissions`` is one any staff user who can open the
    list page can run. A declared custom permission needs its
    ``has_<name>_permission`` method on the model admin (Django checks that too,
    as ``admin.E129``; this repeats it so the message names the rule).
    """
    site = site or admin.site
    problems = []
    for model, model_admin in site._registry.items():
        actions = [*site._actions.values(), *(model_admin.actions or [])]
        for action in actions:
            func = getattr(model_admin, action, None) if isinstance(action, str) else action
            name = getattr(func, "__name__", repr(action))
            where = f"{model._meta.label} action {name!r}"
            allowed = getattr(func, "allowed_permissions", None)
            if not allowed:
                problems.append(f"{where} declares no allowed_permissions")
                continue
            for permission in allowed:
                if not hasattr(model_admin, f"has_{permission}_permission"):
                    problems.append(f"{where} needs has_{permission}_permission()")
    return problems


@checks.register(checks.Tags.admin)
def check_admin_actions_declare_permissions(**kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Error(problem, hint="Use @admin.action(permissions=[...]).", id="saas.E001")
        for problem in action_permission_problems()
    ]
