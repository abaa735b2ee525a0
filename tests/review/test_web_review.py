"""Reviewing through HTTP: the queue, a violation, every decision, two reviewers at once, evidence."""

from __future__ import annotations

import pytest

from pipeline.store.review_repo import reviews_of
from tests.databases import sql
from tests.review.conftest import csrf, form_value


def decide(client, public_id: str, qs: str = "", **fields: str):
    """Open the violation page, then post its decision form with `fields` (a confirmation without
    a `plate` field carries a valid one, as the page's prefilled field would)."""
    if fields.get("decision") == "confirm":
        fields.setdefault("plate", "30K-559.78")
    page = client.get(f"/violations/{public_id}{qs}")
    assert page.status_code == 200
    data = {
        "csrf_token": form_value(page.text, "csrf_token"),
        "expected": form_value(page.text, "expected"),
        "back": form_value(page.text, "back").replace("&amp;", "&"),
        **fields,
    }
    return client.post(f"/violations/{public_id}/decision", data=data)


def test_queue_lists_pending_newest_first_with_thumbnails(login, violations):
    r = login("rita").get("/queue")
    assert r.status_code == 200
    assert "3 pending violations" in r.text
    positions = [r.text.index(f"/violations/{pid}") for pid in violations]
    assert positions == sorted(positions, reverse=True)  # newest first
    assert r.text.count('<img src="/evidence/') == 3
    assert "Red light" in r.text and "cam-1" in r.text and "motorcycle" in r.text and "red for 3.2 s" in r.text


def test_queue_filters(login, db, violations):
    from tests.review.conftest import add_violation, new_run

    other = add_violation(db, new_run(db, "cam-2"), 9, camera="cam-2", rule="wrong_way")
    c = login("rita")
    r = c.get("/queue?camera=cam-2")
    assert other in r.text and violations[0] not in r.text and "1 pending violation" in r.text
    r = c.get("/queue?rule=red_light")
    assert other not in r.text and all(p in r.text for p in violations)
    r = c.get("/queue?from=2024-05-02")
    assert "0 pending violations" in r.text and "Nothing matches" in r.text
    r = c.get("/queue?from=2024-05-01&to=2024-05-01")
    assert "4 pending violations" in r.text
    r = c.get("/queue?from=yesterday")
    assert r.status_code == 400 and "from must be a date like 2024-05-01" in r.text
    r = c.get("/queue?status=nonsense")
    assert r.status_code == 400 and "status must be one of pending, confirmed, rejected, all" in r.text


def test_violation_page_shows_evidence_data_and_form(login, violations):
    r = login("rita").get(f"/violations/{violations[0]}")
    assert r.status_code == 200
    for text in ("before frame", "during frame", "after frame", "vehicle crop", "<video", "red for 3.2 s",
                 "coco-n", "c" * 12, "Confirm", "Reject", "Emergency vehicle", "✓ intact"):  # fmt: skip
        assert text in r.text, text
    assert form_value(r.text, "expected") == ""


def test_unknown_violation_is_404(login, violations):
    r = login("rita").get("/violations/" + "f" * 32)
    assert r.status_code == 404 and "no violation" in r.text


def test_confirm_opens_next_pending_and_logs(login, db, violations):
    c = login("rita")
    r = decide(c, violations[2], decision="confirm", plate="29a-123.45")
    assert r.status_code == 303
    assert r.headers["location"] == f"/violations/{violations[1]}"  # the next older pending one
    entry = reviews_of(db, violations[2])[-1]
    assert (entry.reviewer, entry.decision.value, entry.plate_text) == ("rita", "confirm", "29A-123.45")
    page = c.get(r.headers["location"])
    assert "Confirmed 00000000" in page.text  # the flash about the last decision
    assert "2 pending" not in page.text
    assert "2 pending violations" in c.get("/queue").text


def test_reject_needs_a_reason_and_other_needs_a_note(login, db, violations):
    c = login("rita")
    r = decide(c, violations[0], decision="reject")
    assert r.status_code == 303 and r.headers["location"] == f"/violations/{violations[0]}"
    assert "needs a reason" in c.get(r.headers["location"]).text
    r = decide(c, violations[0], decision="reject", reason="other")
    assert "needs a note" in c.get(r.headers["location"]).text
    assert reviews_of(db, violations[0]) == []
    r = decide(c, violations[0], decision="reject", reason="other", note="camera was moved")
    assert r.status_code == 303
    entry = reviews_of(db, violations[0])[-1]
    assert (entry.decision.value, entry.reason, entry.note) == ("reject", "other", "camera was moved")


@pytest.mark.parametrize("reason", ["not_a_violation", "signal_misread", "wrong_vehicle", "evidence_unreadable",
                                    "emergency_vehicle"])  # fmt: skip
def test_every_reject_reason(login, db, violations, reason):
    r = decide(login("rob"), violations[1], decision="reject", reason=reason, plate="IGNORED")
    assert r.status_code == 303
    entry = reviews_of(db, violations[1])[-1]
    assert (entry.reason, entry.plate_text) == (reason, None)


def test_bad_plate_is_refused(login, db, violations):
    c = login("rita")
    r = decide(c, violations[0], decision="confirm", plate="<script>")
    assert "is not a plate number" in c.get(r.headers["location"]).text
    r = decide(c, violations[0], decision="confirm", plate="12345")  # plate characters, no Vietnamese format
    assert "not a plate number in a Vietnamese format" in c.get(r.headers["location"]).text
    assert reviews_of(db, violations[0]) == []


def test_last_decision_goes_back_to_the_queue(login, violations):
    c = login("rita")
    for pid in violations[:2]:
        decide(c, pid, decision="confirm")
    r = decide(c, violations[2], decision="confirm")
    assert r.headers["location"] == "/queue"
    assert "No pending violations left" in c.get("/queue").text


def test_filters_carry_through_decisions(login, db, violations):
    from tests.review.conftest import add_violation, new_run

    other = add_violation(db, new_run(db, "cam-2"), 9, camera="cam-2")
    r = decide(login("rita"), violations[2], qs="?camera=cam-1", decision="confirm")
    assert r.headers["location"] == f"/violations/{violations[1]}?camera=cam-1"
    assert other not in r.headers["location"]


def test_skip_opens_next_without_deciding(login, db, violations):
    r = login("rita").get(f"/violations/{violations[2]}/next")
    assert r.headers["location"] == f"/violations/{violations[1]}"
    assert reviews_of(db, violations[2]) == []


def test_second_reviewer_gets_already_decided_and_reload(login, db, violations):
    rita, rob = login("rita"), login("rob")
    pid = violations[0]
    rita_page, rob_page = rita.get(f"/violations/{pid}"), rob.get(f"/violations/{pid}")
    first = rita.post(
        f"/violations/{pid}/decision",
        data={"csrf_token": form_value(rita_page.text, "csrf_token"), "expected": "", "decision": "confirm",
              "plate": "30K-559.78"},
    )
    assert first.status_code == 303
    second = rob.post(f"/violations/{pid}/decision", data={
        "csrf_token": form_value(rob_page.text, "csrf_token"), "expected": "", "decision": "reject",
        "reason": "not_a_violation"})  # fmt: skip
    assert second.status_code == 303 and second.headers["location"] == f"/violations/{pid}"  # reload
    reloaded = rob.get(second.headers["location"])
    assert "Already decided by rita" in reloaded.text
    assert "Revise the decision" in reloaded.text
    log = reviews_of(db, pid)
    assert [(e.reviewer, e.decision.value) for e in log] == [("rita", "confirm")]


def test_revision_is_a_new_entry(login, db, violations):
    pid = violations[0]
    decide(login("rita"), pid, decision="confirm")
    r = decide(login("rob"), pid, decision="reject", reason="wrong_vehicle")  # from the reloaded page
    assert r.status_code == 303
    log = reviews_of(db, pid)
    assert [(e.reviewer, e.decision.value) for e in log] == [("rita", "confirm"), ("rob", "reject")]
    assert log[1].prev_hash == log[0].entry_hash
    page = login("ada").get(f"/violations/{pid}?status=all")
    assert "Rejected by <b>rob</b>" in page.text and "Review log (2)" in page.text


def test_review_log_page(login, violations):
    c = login("rita")
    decide(c, violations[0], decision="reject", reason="other", note="bus lane <b>")
    r = c.get("/log")
    assert r.status_code == 200 and "rita" in r.text and "Other (say what)" in r.text
    assert "bus lane &lt;b&gt;" in r.text  # escaped


# -- evidence ------------------------------------------------------------------------------


def _evidence_ids(client, public_id: str) -> list[str]:
    import re

    return re.findall(r'src="/evidence/(\d+)"', client.get(f"/violations/{public_id}").text)


def test_evidence_served_by_id_to_logged_in_users(login, client, db, violations):
    rita = login("rita")
    ids = _evidence_ids(rita, violations[0])
    assert len(ids) == 5
    bodies = {rita.get(f"/evidence/{i}").content for i in ids}
    assert f"during of {violations[0]}".encode() in bodies
    r = rita.get(f"/evidence/{ids[0]}")
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["content-type"] == "image/jpeg"
    assert client.get(f"/evidence/{ids[0]}").status_code == 401  # anonymous


def test_clip_supports_range_requests(login, violations):
    rita = login("rita")
    clip = max(int(i) for i in _evidence_ids(rita, violations[0]))
    r = rita.get(f"/evidence/{clip}", headers={"Range": "bytes=0-3"})
    assert r.status_code == 206 and r.content == b"clip" and r.headers["content-type"] == "video/mp4"


TRAVERSALS = [
    "/evidence/../../etc/passwd",
    "/evidence/..%2f..%2fetc%2fpasswd",
    "/evidence/%2e%2e/%2e%2e/etc/passwd",
    "/evidence/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/evidence/%252e%252e%252fetc%252fpasswd",
    "/evidence/1%2f..%2f..%2ftrafficcam.db",
    "/evidence/..\\..\\trafficcam.db",
    "/evidence/-1",
    "/evidence/1.0",
    "/evidence/99999",
    "/evidence/trafficcam.db",
    "/evidence/%00",
    "/static/../trafficcam.db",
    "/static/..%2fapp.py",
    "/static/%2e%2e%2fapp.py",
]


def test_path_traversal_never_reaches_the_file_system(login, violations):
    rita = login("rita")
    for path in TRAVERSALS:
        r = rita.get(path)
        assert r.status_code in (404, 400), (path, r.status_code)
        assert b"root:" not in r.content and b"SQLite" not in r.content and b"import" not in r.content, path


def raw_get(app, path: str, cookie: str) -> tuple[int, bytes]:
    """GET `path` exactly as given (no client-side dot-segment clean-up), the way a server hands a
    decoded ``%2e%2e`` path to the app."""
    import anyio

    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http", "path": path,
        "raw_path": path.encode(), "root_path": "", "query_string": b"", "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80), "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
    }  # fmt: skip
    out: dict[str, object] = {"body": b""}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] = out["body"] + message.get("body", b"")  # type: ignore[operator]

    anyio.run(app, scope, receive, send)
    return out["status"], out["body"]  # type: ignore[return-value]


def test_dot_segments_reaching_the_app_are_refused(app, login, violations):
    rita = login("rita")
    cookie = "; ".join(f"{k}={v}" for k, v in rita.cookies.items())
    for path in ("/evidence/../../etc/passwd", "/evidence/../trafficcam.db", "/evidence/1/../../../etc/passwd",
                 "/static/../app.py", "/static/../../pipeline/cli/main.py"):  # fmt: skip
        status, body = raw_get(app, path, cookie)
        assert status == 404, (path, status)
        assert b"root:" not in body and b"import" not in body


def test_a_tampered_evidence_row_cannot_point_outside_the_data_dir(login, db, violations):
    rita = login("rita")
    first = min(int(i) for i in _evidence_ids(rita, violations[0]))
    sql(db.data_dir, "UPDATE evidence SET path = '../../../../etc/passwd' WHERE id = :id", id=first)
    sql(db.data_dir, "UPDATE evidence SET path = 'trafficcam.db' WHERE id = :id", id=first + 1)
    assert rita.get(f"/evidence/{first}").status_code == 404
    assert rita.get(f"/evidence/{first + 1}").status_code == 404


def test_altered_evidence_is_flagged_on_the_page(login, db, violations):
    path = next((db.data_dir / "evidence").rglob(f"{violations[0]}/during.jpg"))
    path.write_bytes(b"doctored")
    r = login("rita").get(f"/violations/{violations[0]}")
    assert "✗ altered or missing" in r.text


def test_decision_without_csrf_is_refused(login, db, violations):
    c = login("rita")
    for data in ({"decision": "confirm"}, {"decision": "confirm", "csrf_token": "forged"}):
        r = c.post(f"/violations/{violations[0]}/decision", data=data)
        assert r.status_code == 403 and "Form refused" in r.text
    assert reviews_of(db, violations[0]) == []


def test_csrf_token_of_another_session_is_refused(login, db, violations):
    token = csrf(login("rob"), "/queue")
    r = login("rita").post(f"/violations/{violations[0]}/decision", data={"decision": "confirm", "csrf_token": token})
    assert r.status_code == 403


def test_start_reviewing_opens_the_newest_pending(login, violations):
    c = login("rita")
    assert 'href="/queue/start"' in c.get("/queue").text
    assert c.get("/queue/start").headers["location"] == f"/violations/{violations[2]}"
    r = c.get("/queue/start?camera=cam-9")
    assert r.headers["location"] == "/queue?camera=cam-9"


def test_decision_form_missing_fields_is_a_clear_400(login, violations):
    c = login("rita")
    r = c.post(f"/violations/{violations[0]}/decision", data={"csrf_token": csrf(c, "/queue")})
    assert r.status_code == 400 and "decision" in r.text
    r = c.post(f"/violations/{violations[0]}/decision",
               data={"csrf_token": csrf(c, "/queue"), "decision": "confirm", "expected": "abc"})  # fmt: skip
    assert r.status_code == 400


def test_decided_page_offers_revision_and_keeps_shortcuts_from_submitting(login, violations):
    c = login("rita")
    decide(c, violations[0], decision="confirm")
    page = c.get(f"/violations/{violations[0]}").text
    assert 'data-decided="1"' in page and "Revise the decision" in page


def test_altered_evidence_cannot_be_confirmed(login, db, violations):
    next((db.data_dir / "evidence").rglob(f"{violations[0]}/before.jpg")).unlink()
    c = login("rita")
    page = c.get(f"/violations/{violations[0]}").text
    assert "It cannot be confirmed" in page and "before missing" in page
    r = decide(c, violations[0], decision="confirm")
    assert r.headers["location"] == f"/violations/{violations[0]}"
    assert "Not confirmed: the evidence is not intact" in c.get(r.headers["location"]).text
    assert reviews_of(db, violations[0]) == []
    assert decide(c, violations[0], decision="reject", reason="evidence_unreadable").status_code == 303
    assert reviews_of(db, violations[0])[-1].reason == "evidence_unreadable"
