from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """``django.contrib.admin`` with the staff console's site (``config.admin.StaffAdminSite``)."""

    default_site = "config.admin.StaffAdminSite"
