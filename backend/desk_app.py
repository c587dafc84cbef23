"""What the desk's routes share in one process: the services, sign-in, templates and translations.

Built once in the app's lifespan (`create_app`), kept on `app.state.desk`; no module-level state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from backend.auth import Auth
from backend.casework import Casework
from backend.notices import Notifier
from backend.plans import AssessmentWork, PlanWork
from backend.views import Views
from backend.workdays import STOCKHOLM
from bot.i18n import Catalogs
from bot.service import ConversationService
from bot.settings import Settings
from flows.events import Msg
from flows.i18n import S_

HERE = Path(__file__).resolve().parent
DANGER_SIGNAL = S_("The family's words tell of danger")
PROFESSIONAL_REPORT = S_("A professional reports a worry")
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STAFF_LANGUAGES = ("sv", "en")


@dataclass
class DeskApp:
    settings: Settings
    service: ConversationService
    casework: Casework
    views: Views
    auth: Auth
    catalogs: Catalogs
    templates: Environment
    plans: PlanWork
    assessments: AssessmentWork
    channel: Any = None  # the Telegram channel in webhook mode

    def page(
        self, request: Request, name: str, lang: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        def translate(message: str, **params: Any) -> str:
            return self.catalogs.render(Msg(message, params), lang)

        html = self.templates.get_template(name).render(
            request=request, lang=lang, S_=translate, languages=STAFF_LANGUAGES, **context
        )
        return HTMLResponse(html, status_code=status_code)

    @property
    def secure_cookies(self) -> bool:
        return self.settings.public_url.startswith("https://")


def build_desk_app(settings: Settings, service: ConversationService, notifier: Notifier | None) -> DeskApp:
    staff_catalogs = Catalogs(settings.locales_dir, "staff")
    casework = Casework(service, notifier)
    reasons = {rule.reason: rule.label for flow in service.engine.flows.values() for rule in flow.concerns}
    reasons["danger_signal"] = DANGER_SIGNAL
    reasons["professional_report"] = PROFESSIONAL_REPORT
    plans, assessments = PlanWork(casework), AssessmentWork(casework)
    views = Views(casework, staff_catalogs, service.catalogs, reasons, assessments)
    templates = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates.filters["local"] = local_time
    auth = Auth(service.sessions, timedelta(minutes=settings.session_idle_minutes))
    return DeskApp(settings, service, casework, views, auth, staff_catalogs, templates, plans, assessments)


def local_time(moment: datetime | None, seconds: bool = False) -> str:
    """A time as staff read it: Stockholm time, to the minute."""
    if moment is None:
        return "—"
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def staff_language(request: Request) -> str:
    """For pages before sign-in: ?lang=, else the browser's Accept-Language, else Swedish."""
    asked = request.query_params.get("lang")
    if asked in STAFF_LANGUAGES:
        return asked
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().split("-")[0].lower()
        if code in STAFF_LANGUAGES:
            return code
    return "sv"
