"""The in-app inbox page: a person's notifications, links to what they are about, marking them read."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.extensions import db
from app.notifications.models import Notification, NotificationKind


def _notification(user: User, n: int, **fields: Any) -> Notification:
    values: dict[str, Any] = {
        "user_id": user.id,
        "kind": NotificationKind.FOLLOW_UP_DUE,
        "event_key": f"follow_up_due:{n}:2026-05-04",
        "subject": f"复查提醒 {n}",
        "body": f"发生点 {n} 今天应复查。\n请按时完成。",
        "links": [
            ["复查", f"http://127.0.0.1:5000/follow-ups/{n}"],
            ["发生点", f"http://127.0.0.1:5000/sites/{n}"],
        ],
        "data": {"follow_up_id": n},
        "created_at": datetime(2026, 5, 4, 0, n, tzinfo=UTC),
        **fields,
    }
    notification = Notification(**values)
    db.session.add(notification)
    db.session.flush()
    return notification


def _read_at(notification_id: int) -> datetime | None:
    return db.session.scalar(sa.select(Notification.read_at).where(Notification.id == notification_id))


def test_inbox_shows_my_notifications_newest_first_with_links(web_as: Any, make_user: Any) -> None:
    web = web_as("surveyor")
    older = _notification(web.user, 1)
    newer = _notification(web.user, 2)
    _notification(make_user("surveyor"), 3, subject="别人的提醒")
    db.session.commit()

    response = web.get("/notifications")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.index("复查提醒 2") < html.index("复查提醒 1")
    assert "别人的提醒" not in html
    # Stored absolute (for e-mail); shown as paths on this site.
    assert 'href="/follow-ups/2"' in html
    assert 'href="/sites/1"' in html
    assert "今天应复查。<br>请按时完成。" in html
    # Both unread: each has its own mark-read form.
    assert f'name="id" value="{older.id}"' in html
    assert f'name="id" value="{newer.id}"' in html


def test_review_notification_links_to_the_record(api_as: Any, make_observation: Any, web_as: Any) -> None:
    surveyor = api_as("surveyor")
    record = make_observation(surveyor)
    verifier = api_as("verifier")
    verifier.post(
        f"/api/v1/observations/{record['id']}/review", json={"decision": "returned", "comment": "补拍照片"}
    )
    html = web_as(surveyor.user).get("/notifications").get_data(as_text=True)
    assert f'href="/observations/{record["id"]}"' in html
    assert "补拍照片" in html


def test_links_never_leave_the_site(web_as: Any) -> None:
    web = web_as("surveyor")
    _notification(web.user, 1, links=[["x", "//evil.example/phish"], ["y", "https://evil.example//x"]])
    db.session.commit()
    html = web.get("/notifications").get_data(as_text=True)
    assert "evil.example" not in html


def test_mark_one_read(web_as: Any, make_user: Any) -> None:
    web = web_as("surveyor")
    first = _notification(web.user, 1)
    second = _notification(web.user, 2)
    db.session.commit()
    response = web.post("/notifications/read", data={"id": str(first.id)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/notifications"
    assert _read_at(first.id) is not None
    assert _read_at(second.id) is None
    html = web.get("/notifications").get_data(as_text=True)
    assert f'name="id" value="{first.id}"' not in html  # read: no button any more
    assert f'name="id" value="{second.id}"' in html


def test_mark_all_read_touches_only_mine(web_as: Any, make_user: Any) -> None:
    web = web_as("surveyor")
    mine = [_notification(web.user, n) for n in (1, 2)]
    theirs = _notification(make_user("surveyor"), 3)
    db.session.commit()
    assert web.post("/notifications/read", data={}).status_code == 302
    assert all(_read_at(n.id) is not None for n in mine)
    assert _read_at(theirs.id) is None
    # Naming someone else's notification changes nothing either.
    web.post("/notifications/read", data={"id": str(theirs.id)})
    assert _read_at(theirs.id) is None


@pytest.mark.parametrize("bad", ["abc", "-1", "0", "²", "99999999999999999999"])
def test_bad_id_marks_nothing(web_as: Any, bad: str) -> None:
    web = web_as("surveyor")
    notification = _notification(web.user, 1)
    db.session.commit()
    response = web.post("/notifications/read", data={"id": bad})
    assert response.status_code == 302
    assert _read_at(notification.id) is None
    html = web.get("/notifications").get_data(as_text=True)
    assert re.search(r'class="flash error"', html)


def test_inbox_needs_sign_in(client: Any) -> None:
    response = client.get("/notifications")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
    assert client.post("/notifications/read").status_code == 400  # no session, no CSRF token


def test_notifications_are_written_in_the_readers_language_when_read(
    web_as: Any, api_as: Any, make_observation: Any, client: Any
) -> None:
    """A record returned while its surveyor read Chinese reads in English once they switch, and back;
    a row stored before messages had keys keeps its stored text."""
    web = web_as("surveyor")
    surveyor_api = api_as(web.user)
    record = make_observation(surveyor_api)
    verifier = api_as("verifier")
    verifier.post(
        f"/api/v1/observations/{record['id']}/review", json={"decision": "returned", "comment": "请补拍卵块"}
    )
    _notification(web.user, 7, subject="旧的提醒", body="旧的正文")
    db.session.commit()

    zh = web.get("/notifications").get_data(as_text=True)
    assert "【退回修改】" in zh and "请补拍卵块" in zh and "旧的提醒" in zh
    web.post("/language", {"lang": "en"})
    en = web.get("/notifications").get_data(as_text=True)
    assert "[Returned] Your" in en and "needs changes" in en and "【退回修改】" not in en
    assert "请补拍卵块" in en and "旧的提醒" in en and "旧的正文" in en
    assert f'href="/observations/{record["id"]}"' in en
    # The API reads the same way, by the reader's language.
    api_items = surveyor_api.get("/api/v1/notifications").get_json()["items"]
    returned = next(i for i in api_items if i["kind"] == "observation_returned")
    assert returned["subject"].startswith("[Returned]")
    assert returned["links"][0][1].endswith(f"/observations/{record['id']}")


def test_an_unknown_message_key_falls_back_to_the_stored_text(web_as: Any) -> None:
    web = web_as("surveyor")
    _notification(web.user, 8, subject="存档的主题", message_key="no_longer_known", params={"x": 1})
    _notification(web.user, 9, subject="缺值的主题", message_key="follow_up_assigned", params={"site": "A"})
    db.session.commit()
    html = web.get("/notifications").get_data(as_text=True)
    assert "存档的主题" in html and "缺值的主题" in html


def test_unread_count_in_the_header_and_the_thumb_bar(web_as: Any, make_user: Any) -> None:
    web = web_as("surveyor")
    for n in (11, 12, 13):
        _notification(web.user, n)
    _notification(make_user("surveyor"), 14)  # someone else's does not count
    read = _notification(web.user, 15)
    read.read_at = datetime.now(UTC)
    db.session.commit()

    html = web.get("/").get_data(as_text=True)
    header = html[html.index('<header class="bar">') : html.index("</header>")]
    tabs = html[html.index('<nav class="tabs"') :]
    tabs = tabs[: tabs.index("</nav>")]
    assert re.search(r'data-unread-badge\s+aria-label="通知：3 条未读"', header)
    assert re.findall(r"data-unread-count>(\d+)<", header) == ["3"]
    assert re.findall(r"data-unread-count>(\d+)<", tabs) == ["3"]
    assert 'href="/notifications"' in tabs

    web.post("/notifications/read", {})
    after = web.get("/").get_data(as_text=True)
    assert "data-unread-count" not in after and 'aria-label="通知：0 条未读"' in after


def test_the_daily_digest_lists_each_item_in_the_readers_language(make_user: Any) -> None:
    """A notification written while Chinese was active reads in English in an English reader's digest
    and the other way round; a row stored before messages had keys keeps its stored subject."""
    from flask_babel import force_locale

    from app.notifications import digest, messages, services
    from app.notifications.models import Delivery

    params = {
        "name": "王",
        "by": "李",
        "species": "福寿螺",
        "site": "S-7",
        "place": "城关镇",
        "due": "2026-05-10",
        "follow_up_id": 7,
        "site_id": 3,
    }
    readers = {
        "en": make_user("surveyor", email="en@example.cn", locale="en", notify_digest=True),
        "zh": make_user("surveyor", email="zh@example.cn", locale="zh", notify_digest=True),
    }
    written_in = {"en": "zh", "zh": "en"}  # each reader's item was composed in the other language
    for lang, reader in readers.items():
        with force_locale(written_in[lang]):
            composed = messages.compose("follow_up_assigned", params)
        services.notify(
            reader,
            NotificationKind.FOLLOW_UP_ASSIGNED,
            f"assigned:{lang}",
            composed,
            message_key="follow_up_assigned",
            params=params,
        )
        _notification(reader, 20 if lang == "en" else 21, subject="旧的提醒主题")
    db.session.commit()

    assert digest.queue_digests() == 2
    db.session.commit()
    bodies = {
        d.user_id: d.message["body"]
        for d in db.session.scalars(sa.select(Delivery).where(Delivery.event_key.like("digest:%")))
    }
    en_body, zh_body = bodies[readers["en"].id], bodies[readers["zh"].id]
    assert en_body.splitlines() == [
        "- [Re-inspection assigned] 福寿螺 site S-7, due 2026-05-10",
        "- 旧的提醒主题",
    ]
    assert zh_body.splitlines() == ["- 【复查指派】福寿螺发生点 S-7，应于 2026-05-10 复查", "- 旧的提醒主题"]
