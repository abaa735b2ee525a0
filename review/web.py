"""What every page shares: rendering templates, flash messages, queue filters in the URL, times."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from pipeline.store.columns import ID_LENGTH
from pipeline.store.records import ViolationStatus
from pipeline.store.review_queries import QueueFilter
from pipeline.store.review_repo import RejectReason
from pipeline.timing.site import camera_time
from review.csrf import csrf_token
from review.params import choice, clean_text, parse_day

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

REJECT_LABELS: dict[str, str] = {
    RejectReason.NOT_A_VIOLATION: "Not a violation",
    RejectReason.SIGNAL_MISREAD: "Signal misread",
    RejectReason.WRONG_VEHICLE: "Wrong vehicle",
    RejectReason.EVIDENCE_UNREADABLE: "Evidence unreadable",
    RejectReason.EMERGENCY_VEHICLE: "Emergency vehicle",
    RejectReason.OTHER: "Other (say what)",
}
RULE_LABELS = {
    "red_light": "Red light",
    "solid_line": "Solid line",
    "wrong_way": "Wrong way",
    "lane_class": "Vehicle not allowed in lane",
}
STATUS_CHOICES = ("pending", "confirmed", "rejected", "all")


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A UTC time shown in the server's local time zone (as on the evidence images)."""
    return value.astimezone().strftime(fmt) if value is not None else ""


def zone_name() -> str:
    """The server's local time zone, e.g. ``UTC+07:00``."""
    offset = datetime.now().astimezone().strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"


TEMPLATES.env.filters["local"] = local_time
TEMPLATES.env.filters["camera_time"] = camera_time
TEMPLATES.env.filters["rule_label"] = lambda rule: RULE_LABELS.get(rule, rule.replace("_", " ").capitalize())
_REASON_NAMES = {**REJECT_LABELS, RejectReason.PLATE_UNREADABLE: "Plate unreadable"}
TEMPLATES.env.filters["reason_label"] = lambda r: _REASON_NAMES.get(r, r) if r else ""
TEMPLATES.env.globals["zone_name"] = zone_name


def render(
    request: Request, template: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """Render a page with the user, CSRF token and flash messages every page uses."""
    context.setdefault("user", getattr(request.state, "user", None))
    context["csrf_token"] = csrf_token(request)
    context["flashes"] = request.session.pop("flash", [])
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status_code, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def flash(request: Request, kind: str, message: str, link: tuple[str, str] | None = None) -> None:
    """Show `message` on the next page (kind: ok, error, info), with an optional (url, text) link."""
    entry = {"kind": kind, "message": message}
    if link is not None:
        entry.update(href=link[0], link=link[1])
    request.session.setdefault("flash", []).append(entry)
    request.session["flash"] = request.session["flash"][-5:]


def redirect(url: str) -> RedirectResponse:
    """A 303 See Other, so a browser follows a POST with a GET."""
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None, default: str = "/queue") -> str:
    """`target` when it is a path on this site, else `default` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@dataclass(frozen=True)
class Filters:
    """The queue filters as they appear in the URL, and the `QueueFilter` they mean."""

    status: str = "pending"
    camera: str = ""
    rule: str = ""
    date_from: str = ""
    date_to: str = ""

    @classmethod
    def parse(cls, params: Any) -> Filters:
        """Read filters from query or form parameters; a malformed one raises `BadParameter`."""
        status = choice(params.get("status"), "status", STATUS_CHOICES, "pending")
        camera = clean_text(str(params.get("camera") or ""), "camera", ID_LENGTH)
        rule = clean_text(str(params.get("rule") or ""), "rule", ID_LENGTH)
        days = [parse_day(params.get(key), key) for key in ("from", "to")]
        date_from, date_to = (d.isoformat() if d else "" for d in days)
        return cls(status, camera, rule, date_from, date_to)

    def query(self, **changes: str) -> QueueFilter:
        """The repository filter (dates are local days; `to` includes its whole day)."""
        f = replace(self, **changes) if changes else self
        start, end = _parse_date(f.date_from), _parse_date(f.date_to)
        return QueueFilter(
            status=None if f.status == "all" else ViolationStatus(f.status),
            camera=f.camera or None,
            rule=f.rule or None,
            since=_local_midnight(start) if start else None,
            until=_local_midnight(end + timedelta(days=1)) if end else None,
        )

    def params(self) -> dict[str, str]:
        """The non-default filters, for links that keep them."""
        raw = {"status": self.status, "camera": self.camera, "rule": self.rule}
        raw.update({"from": self.date_from, "to": self.date_to})
        return {k: v for k, v in raw.items() if v and not (k == "status" and v == "pending")}

    def qs(self, **extra: Any) -> str:
        """``?status=...&camera=...`` (empty when nothing to say), plus `extra`."""
        params = self.params() | {k: str(v) for k, v in extra.items() if v is not None}
        return "?" + urlencode(params) if params else ""


def _parse_date(raw: str) -> date | None:
    return date.fromisoformat(raw) if raw else None


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time()).astimezone()
