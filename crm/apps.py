from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("CRM")

    def ready(self) -> None:
        from django.contrib.admin.models import LogEntry
        from django.db.models.signals import post_save

        import config.production  # noqa: F401  (registers the deploy check for the secret key)
        from crm.audit import record_admin_action

        post_save.connect(record_admin_action, sender=LogEntry, dispatch_uid="kaopu-audit-admin")
