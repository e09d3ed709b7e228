from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoachingConfig(AppConfig):
    name = "coaching"
    verbose_name = _("Coach")

    def ready(self) -> None:
        # A broken playbook fails loudly at start-up, naming the file and the entry.
        from coaching import playbook, receivers

        playbook.load()
        receivers.connect()
