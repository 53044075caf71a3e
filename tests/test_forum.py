"""Forum: topics, replies, roles, bad input, sanitising, unread tracking, reactions, follows."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, insert, select

from agora.auth.models import User
from agora.core.mail import OutboxMessage
from agora.forum import services
from agora.forum.models import BODY_MAX, ForumCategory, Post, Reaction, Topic, TopicFollow
from agora.notifications.models import Notification
from agora.spaces.models import Activity, Space
from tests.conftest import deliver_notifications, login, post
from tests.test_queries import count_queries


def new_topic(client, space, title="Jardin partagé", body="Qui veut participer ?", **extra):
    return post(client, f"/s/{space.slug}/forum/new", {"title": title, "body": body, "category": "0", **extra})


def topic_id_of(response) -> int:
    return int(re.search(r"/forum/(\d+)/", response.location).group(1))


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def forum(app, member_client, make_user, make_member):
    """A space with an admin, a member and a reader, each with a logged-in client."""
    admin_client, space, admin = member_client("admin")
    clients = {"admin": (admin_client, admin)}
    for role in ("member", "reader"):
        user = make_user(f"{role}.forum", email=f"{role}@example.org", display_name=role.title())
        make_member(space, user, role)
        client = app.test_client()
        login(client, user.username)
        clients[role] = (client, user)
    return space, clients


def test_member_opens_a_topic_and_it_shows_everywhere(forum, db):
    space, clients = forum
    client, user = clients["member"]
    response = new_topic(client, space)
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "Jardin partagé" in page and "Qui veut participer ?" in page
    listing = clients["admin"][0].get(f"/s/{space.slug}/forum/").get_data(as_text=True)
    assert "Jardin partagé" in listing and "Non lu" in listing
    assert db.session.scalar(select(Activity.verb).order_by(Activity.id.desc())) == "forum.topic"
    assert count(db, TopicFollow) == 1  # the author follows


# role × forum action → allowed
def _make_post(db, space, author_id, reply=False):
    with db.session.no_autoflush:
        space_obj = db.session.get(Space, space.id)
        author = db.session.get(User, author_id)
    from flask import current_app

    with current_app.test_request_context():
        topic = services.create_topic(space_obj, author, title="Sujet", body="Premier message", category_id=None)
        target = services.add_reply(space_obj, topic, author, "Une réponse") if reply else None
        db.session.commit()
        return topic.id, (target.id if target else None)


FORUM_ACTIONS = ["new topic", "reply", "react", "edit own", "edit other's", "delete other's", "moderate", "themes"]
FORUM_ALLOWED = {
    "admin": set(FORUM_ACTIONS),
    "member": {"new topic", "reply", "react", "edit own"},
    "reader": set(),
}


@pytest.mark.parametrize("role", ["admin", "member", "reader"])
@pytest.mark.parametrize("action", FORUM_ACTIONS)
def test_forum_role_matrix(app, forum, db, role, action):
    space, clients = forum
    client, user = clients[role]
    other = clients["member"][1] if role != "member" else clients["admin"][1]
    with app.app_context():
        own_topic, own_reply = _make_post(db, space, user.id, reply=True)
        other_topic, other_reply = _make_post(db, space, other.id, reply=True)
    base = f"/s/{space.slug}/forum"
    requests = {
        "new topic": (f"{base}/new", {"title": "Nouveau", "body": "Texte", "category": "0"}),
        "reply": (f"{base}/{other_topic}/reply", {"body": "Je réponds"}),
        "react": (f"{base}/posts/{other_reply}/react", {}),
        "edit own": (f"{base}/posts/{own_reply}/edit", {"body": "Corrigé"}),
        "edit other's": (f"{base}/posts/{other_reply}/edit", {"body": "Corrigé par un autre"}),
        "delete other's": (f"{base}/posts/{other_reply}/delete", {}),
        "moderate": (f"{base}/{other_topic}/moderate", {"mod-is_pinned": "y", "mod-category": "0"}),
        "themes": (f"{base}/categories/", {"name": "Cadre de vie", "colour": "#123456", "position": "1"}),
    }
    url, data = requests[action]
    before = (count(db, Topic), count(db, Post), count(db, Reaction), count(db, ForumCategory))
    response = post(client, url, data)
    if action in FORUM_ALLOWED[role]:
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
    else:
        assert response.status_code == 403
        assert (count(db, Topic), count(db, Post), count(db, Reaction), count(db, ForumCategory)) == before
        assert "Corrigé" not in " ".join(db.session.scalars(select(Post.body)))
        assert not db.session.get(Topic, other_topic).is_pinned


@pytest.mark.parametrize(
    "title, body, message",
    [
        ("", "Texte", "Donnez un titre"),
        ("   ", "Texte", "Donnez un titre"),
        ("x" * 201, "Texte", "200"),
        ("Titre", "   \n  ", "Le message est vide"),
        ("Titre", "x" * (BODY_MAX + 1), "50000"),
    ],
)
def test_bad_topics_are_refused_and_nothing_is_written(forum, db, title, body, message):
    space, clients = forum
    response = new_topic(clients["member"][0], space, title=title, body=body)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(db, Topic) == 0 and count(db, Post) == 0


def test_category_of_another_space_is_refused(forum, make_space, app, db):
    space, clients = forum
    other = make_space()
    with app.test_request_context():
        foreign = services.save_category(
            db.session.get(Space, other.id), None, name="Ailleurs", colour="#000000", position=0
        )
        db.session.commit()
        foreign_id = foreign.id
    response = new_topic(clients["member"][0], space, category=str(foreign_id))
    assert response.status_code == 400 and "existe pas dans cet espace" in response.get_data(as_text=True)
    assert count(db, Topic) == 0
    assert clients["member"][0].get(f"/s/{space.slug}/forum/?category={foreign_id}").status_code == 404


def test_reply_to_a_locked_topic_is_refused(forum, db):
    space, clients = forum
    topic_id = topic_id_of(new_topic(clients["member"][0], space))
    post(clients["admin"][0], f"/s/{space.slug}/forum/{topic_id}/moderate", {"mod-is_locked": "y", "mod-category": "0"})
    assert db.session.get(Topic, topic_id).is_locked
    response = post(clients["member"][0], f"/s/{space.slug}/forum/{topic_id}/reply", {"body": "Encore moi"})
    assert response.status_code == 409 and "fermé" in response.get_data(as_text=True)
    assert count(db, Post) == 1


XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[clic](javascript:alert(1))",
    "[clic](JaVaScRiPt:alert(1))",
    "[clic](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    '[x](https://ok.example "title" onmouseover=alert(1))',
    '<div style="background:url(javascript:alert(1))">x</div>',
    "`<script>` est du code, <b onclick=alert(1)>gras</b>",
]


class ElementAudit(HTMLParser):
    """Collects what a browser would act on: tags, event attributes, link targets."""

    def __init__(self):
        super().__init__()
        self.tags, self.attributes, self.urls = set(), set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            self.attributes.add(name)
            if name in ("href", "src", "action", "formaction"):
                self.urls.append((value or "").strip().lower())


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_script_in_a_post_never_runs(forum, db, payload):
    space, clients = forum
    response = new_topic(clients["member"][0], space, body=payload)
    assert response.status_code == 302
    html = db.session.scalar(select(Post.body_html))
    audit = ElementAudit()
    audit.feed(html)
    assert audit.tags <= {"p", "a", "code", "strong", "em", "br"}, html
    assert not {a for a in audit.attributes if a.startswith("on") or a == "style"}, html
    assert all(url.startswith(("https://", "http://", "mailto:")) for url in audit.urls), html
    page = clients["member"][0].get(response.location).get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page


def test_links_get_rel_and_autolinks_work(forum, db):
    space, clients = forum
    new_topic(
        clients["member"][0], space, body="Voir https://www.service-public.fr et [la mairie](https://mairie.example)"
    )
    html = db.session.scalar(select(Post.body_html))
    assert html.count('rel="nofollow noopener ugc"') == 2
    assert 'href="https://www.service-public.fr"' in html


def test_preview_shows_the_rendering_and_saves_nothing(forum, db):
    space, clients = forum
    response = post(
        clients["member"][0],
        f"/s/{space.slug}/forum/new",
        {"title": "Essai", "body": "**important**", "category": "0", "preview": "1"},
    )
    assert response.status_code == 200
    assert "<strong>important</strong>" in response.get_data(as_text=True)
    assert count(db, Topic) == 0


def test_unread_tracking_across_two_users(forum, db):
    space, clients = forum
    member, admin = clients["member"][0], clients["admin"][0]
    topic_id = topic_id_of(new_topic(member, space))
    listing = f"/s/{space.slug}/forum/?unread=1"
    assert "Jardin partagé" not in member.get(listing).get_data(as_text=True)  # the author has read it
    assert "Jardin partagé" in admin.get(listing).get_data(as_text=True)
    admin.get(f"/s/{space.slug}/forum/{topic_id}/")
    assert "Jardin partagé" not in admin.get(listing).get_data(as_text=True)
    reply = post(admin, f"/s/{space.slug}/forum/{topic_id}/reply", {"body": "Moi !"})
    assert reply.status_code == 302
    assert "Jardin partagé" in member.get(listing).get_data(as_text=True)
    assert "Jardin partagé" not in admin.get(listing).get_data(as_text=True)
    jump = member.get(f"/s/{space.slug}/forum/{topic_id}/unread")
    first_reply = db.session.scalar(select(Post.id).where(Post.is_first.is_(False)))
    assert jump.location.endswith(f"page=1#post-{first_reply}")


def add_replies(app, db, space_id, topic_id, author_id, n, start=0):
    with app.test_request_context():
        space = db.session.get(Space, space_id)
        topic = db.session.get(Topic, topic_id)
        author = db.session.get(User, author_id)
        for k in range(n):
            services.add_reply(space, topic, author, f"Réponse numéro {start + k + 1}")
        db.session.commit()


def test_pagination_boundaries_and_jump_to_first_unread(app, forum, db):
    space, clients = forum
    member, member_user = clients["member"]
    admin, admin_user = clients["admin"]
    topic_id = topic_id_of(new_topic(member, space))
    add_replies(app, db, space.id, topic_id, member_user.id, 29)  # 30 posts: exactly one page
    url = f"/s/{space.slug}/forum/{topic_id}/"
    page = admin.get(url).get_data(as_text=True)
    assert "Réponse numéro 29" in page and "Page suivante" not in page
    add_replies(app, db, space.id, topic_id, member_user.id, 1, start=29)  # the 31st post opens page 2
    jump = admin.get(f"/s/{space.slug}/forum/{topic_id}/unread")
    last = db.session.scalar(select(func.max(Post.id)))
    assert jump.location.endswith(f"page=2#post-{last}")
    page2 = admin.get(f"{url}?page=2").get_data(as_text=True)
    assert "Réponse numéro 30" in page2 and "Réponse numéro 29" not in page2 and "Page précédente" in page2
    assert admin.get(f"{url}?page=3").status_code == 200


def test_quote_inserts_the_quoted_text_in_the_reply_form(forum, db):
    space, clients = forum
    topic_id = topic_id_of(new_topic(clients["member"][0], space, body="Rendez-vous samedi"))
    first = db.session.scalar(select(Post.id))
    page = clients["admin"][0].get(f"/s/{space.slug}/forum/{topic_id}/?quote={first}").get_data(as_text=True)
    assert "&gt; **Member** :\n&gt; Rendez-vous samedi" in page


def test_author_edits_with_a_marker_and_cannot_edit_others(forum, db):
    space, clients = forum
    topic_id = topic_id_of(new_topic(clients["member"][0], space))
    first = db.session.scalar(select(Post.id))
    response = post(
        clients["member"][0],
        f"/s/{space.slug}/forum/posts/{first}/edit",
        {"title": "Jardin des Tilleuls", "body": "Corrigé"},
    )
    assert response.status_code == 302
    page = clients["member"][0].get(f"/s/{space.slug}/forum/{topic_id}/").get_data(as_text=True)
    assert "Jardin des Tilleuls" in page and "modifié le" in page
    reply = post(clients["admin"][0], f"/s/{space.slug}/forum/{topic_id}/reply", {"body": "Réponse de l'admin"})
    assert reply.status_code == 302
    admin_post = db.session.scalar(select(Post.id).where(Post.is_first.is_(False)))
    assert (
        post(clients["member"][0], f"/s/{space.slug}/forum/posts/{admin_post}/edit", {"body": "piraté"}).status_code
        == 403
    )
    assert db.session.get(Post, admin_post).body == "Réponse de l'admin"


def test_deleting_the_first_post_asks_then_deletes_the_topic(forum, db):
    space, clients = forum
    member = clients["member"][0]
    topic_id = topic_id_of(new_topic(member, space))
    post(clients["admin"][0], f"/s/{space.slug}/forum/{topic_id}/reply", {"body": "Une réponse"})
    first = db.session.scalar(select(Post.id).where(Post.is_first.is_(True)))
    confirm = member.get(f"/s/{space.slug}/forum/posts/{first}/delete").get_data(as_text=True)
    assert "Supprimer le sujet" in confirm and "1 réponse" not in confirm or "sa réponse" in confirm
    assert count(db, Topic) == 1
    assert post(member, f"/s/{space.slug}/forum/posts/{first}/delete").status_code == 302
    assert count(db, Topic) == 0 and count(db, Post) == 0


def test_deleting_a_reply_updates_the_topic(forum, db):
    space, clients = forum
    topic_id = topic_id_of(new_topic(clients["member"][0], space))
    post(clients["admin"][0], f"/s/{space.slug}/forum/{topic_id}/reply", {"body": "Réponse à effacer"})
    reply_id = db.session.scalar(select(Post.id).where(Post.is_first.is_(False)))
    assert post(clients["admin"][0], f"/s/{space.slug}/forum/posts/{reply_id}/delete").status_code == 302
    topic = db.session.get(Topic, topic_id)
    assert topic.reply_count == 0 and topic.last_post_id == db.session.scalar(select(Post.id))


def test_one_agreement_per_person_with_who_agreed(forum, db):
    space, clients = forum
    topic_id = topic_id_of(new_topic(clients["member"][0], space))
    first = db.session.scalar(select(Post.id))
    url = f"/s/{space.slug}/forum/posts/{first}/react"
    post(clients["admin"][0], url)
    assert count(db, Reaction) == 1
    page = clients["member"][0].get(f"/s/{space.slug}/forum/{topic_id}/").get_data(as_text=True)
    assert "D'accord :" in page and clients["admin"][1].display_name in page
    post(clients["admin"][0], url)  # taken back
    assert count(db, Reaction) == 0


def test_followers_mentions_and_members_are_notified_and_mailed(forum, db):
    space, clients = forum
    member, member_user = clients["member"]
    admin_user, reader_user = clients["admin"][1], clients["reader"][1]
    topic_id = topic_id_of(new_topic(member, space, body="Avis à @Reader.Forum"))
    told = {(n.user_id, n.verb) for n in db.session.scalars(select(Notification))}
    assert told == {(reader_user.id, "forum.mention"), (admin_user.id, "forum.topic")}  # never the author
    post(clients["admin"][0], f"/s/{space.slug}/forum/{topic_id}/reply", {"body": "Je viendrai"})
    reply = db.session.scalar(select(Notification).where(Notification.verb == "forum.reply"))
    assert reply.user_id == member_user.id and reply.excerpt == "Je viendrai"
    deliver_notifications()
    mails = {m.recipient: m for m in db.session.scalars(select(OutboxMessage))}
    assert "Je viendrai" in mails["member@example.org"].body
    assert "vous a mentionné" in mails["reader@example.org"].subject
    post(member, f"/s/{space.slug}/forum/{topic_id}/follow", {"follow": "0"})
    before = count(db, Notification)
    post(clients["admin"][0], f"/s/{space.slug}/forum/{topic_id}/reply", {"body": "Encore"})
    assert count(db, Notification) == before  # the member unfollowed; the admin is the author


def test_admin_manages_themes_and_moves_a_topic(forum, db):
    space, clients = forum
    admin = clients["admin"][0]
    assert (
        post(
            admin, f"/s/{space.slug}/forum/categories/", {"name": "Cadre de vie", "colour": "#2255aa", "position": "1"}
        ).status_code
        == 302
    )
    assert (
        post(
            admin, f"/s/{space.slug}/forum/categories/", {"name": "cadre de vie", "colour": "#2255aa", "position": "2"}
        ).status_code
        == 409
    )
    category_id = db.session.scalar(select(ForumCategory.id))
    topic_id = topic_id_of(new_topic(clients["member"][0], space))
    post(admin, f"/s/{space.slug}/forum/{topic_id}/moderate", {"mod-is_pinned": "y", "mod-category": str(category_id)})
    topic = db.session.get(Topic, topic_id)
    assert topic.is_pinned and topic.category_id == category_id
    listing = admin.get(f"/s/{space.slug}/forum/?category={category_id}").get_data(as_text=True)
    assert "Jardin partagé" in listing and "Épinglé" in listing
    post(admin, f"/s/{space.slug}/forum/categories/{category_id}/delete")
    assert db.session.get(Topic, topic_id).category_id is None


def test_switched_off_forum_is_not_found(forum, db):
    space, clients = forum
    db.session.get(Space, space.id).modules = ["agenda"]
    db.session.commit()
    assert clients["member"][0].get(f"/s/{space.slug}/forum/").status_code == 404


def seed_topics(app, db, space_id, author_id, n):
    """Insert n topics with two posts each, in bulk (fast), as the services would leave them."""
    from agora.core.time import utcnow

    now = utcnow()
    with app.app_context():
        from agora.extensions import db as flask_db

        start = flask_db.session.scalar(select(func.coalesce(func.max(Topic.id), 0)))
        flask_db.session.execute(
            insert(Topic),
            [
                {
                    "id": start + k + 1,
                    "space_id": space_id,
                    "author_id": author_id,
                    "title": f"Sujet {k}",
                    "created_at": now,
                    "last_post_at": now,
                    "last_poster_id": author_id,
                    "reply_count": 1,
                    "is_pinned": False,
                    "is_locked": False,
                }
                for k in range(n)
            ],
        )
        flask_db.session.execute(
            insert(Post),
            [
                {
                    "space_id": space_id,
                    "topic_id": start + k + 1,
                    "author_id": author_id,
                    "body": "x",
                    "body_html": "<p>x</p>",
                    "is_first": first,
                    "created_at": now,
                }
                for k in range(n)
                for first in (True, False)
            ],
        )
        flask_db.session.commit()


def test_topic_list_and_topic_page_query_counts_do_not_grow(app, forum, db):
    space, clients = forum
    admin, admin_user = clients["admin"]
    topic_id = topic_id_of(new_topic(admin, space))
    add_replies(app, db, space.id, topic_id, admin_user.id, 5)

    def queries(url):
        with count_queries(db.engine) as statements:
            assert admin.get(url).status_code == 200
        return len(statements)

    seed_topics(app, db, space.id, admin_user.id, 10)
    small = (queries(f"/s/{space.slug}/forum/"), queries(f"/s/{space.slug}/forum/{topic_id}/"))
    seed_topics(app, db, space.id, admin_user.id, 990)
    add_replies(app, db, space.id, topic_id, admin_user.id, 60)
    big = (queries(f"/s/{space.slug}/forum/"), queries(f"/s/{space.slug}/forum/{topic_id}/"))
    assert big == small
    assert big[0] <= 10 and big[1] <= 13, big  # one more for the bell


def test_changes_are_announced_after_commit_only(app, forum, db):
    """The search index hears of a topic once it is committed, and never of a rolled-back one."""
    from agora.core.events import content_changed

    heard = []

    def listener(sender, change):
        heard.append((change.kind, change.action))

    content_changed.connect(listener)
    try:
        space, clients = forum
        response = new_topic(clients["member"][0], space)
        assert heard == [("forum.topic", "created"), ("forum.post", "created")]
        heard.clear()
        new_topic(clients["member"][0], space, title="")  # refused: rolled back
        with app.test_request_context():
            author = db.session.get(User, clients["member"][1].id)
            services.create_topic(db.session.get(Space, space.id), author, title="Jamais", body="x", category_id=None)
            db.session.rollback()
        assert heard == []
        first = db.session.scalar(select(Post.id))
        post(clients["member"][0], f"/s/{space.slug}/forum/posts/{first}/delete")
        assert ("forum.topic", "deleted") in heard and topic_id_of(response)
    finally:
        content_changed.disconnect(listener)


def test_stored_html_is_rendered_again_when_the_renderer_changes(forum, db, app, monkeypatch):
    from agora.cli import _rerender_stale_html
    from agora.core import richtext

    space, clients = forum
    client, _user = clients["member"]
    location = new_topic(client, space, body="Un **jardin** partagé").location
    stored = db.session.scalar(select(Post).order_by(Post.id.desc()))
    assert stored.body_html == "<p>Un <strong>jardin</strong> partagé</p>\n"
    assert stored.body_html_version == richtext.RENDERER_VERSION
    with app.app_context():
        assert _rerender_stale_html() == 0  # up to date: nothing to do

    # What the next renderer would write, and posts from before versions were kept (version 0).
    monkeypatch.setattr(services, "RENDERER_VERSION", richtext.RENDERER_VERSION + 1)
    monkeypatch.setattr(services, "render_markdown", lambda source: f"<p>v2: {source}</p>")
    db.session.execute(
        insert(Post),
        [
            {
                "space_id": space.id,
                "topic_id": stored.topic_id,
                "author_id": stored.author_id,
                "body": "ancien",
                "body_html": "<p>périmé</p>",
                "body_html_version": 0,
            }
        ],
    )
    db.session.commit()
    with app.app_context():
        assert _rerender_stale_html() == 2
        assert _rerender_stale_html() == 0
    db.session.expire_all()
    rows = db.session.execute(select(Post.body_html, Post.body_html_version).order_by(Post.id)).all()
    assert rows == [
        ("<p>v2: Un **jardin** partagé</p>", richtext.RENDERER_VERSION + 1),
        ("<p>v2: ancien</p>", richtext.RENDERER_VERSION + 1),
    ]
    page = client.get(location).get_data(as_text=True)
    assert "v2: ancien" in page and "périmé" not in page


def test_a_mention_links_to_the_persons_page_and_a_stranger_stays_text(forum, make_user, db):
    space, clients = forum
    reader_user = clients["reader"][1]
    make_user("hors.espace", display_name="Hors Espace")
    topic_id = topic_id_of(
        new_topic(
            clients["member"][0],
            space,
            body="Avis à @Reader.Forum et @hors.espace, voir `@reader.forum` ou [@reader.forum](https://exemple.fr)",
        )
    )
    page = clients["admin"][0].get(f"/s/{space.slug}/forum/{topic_id}/").get_data(as_text=True)
    profile = f"/s/{space.slug}/members/{reader_user.id}"
    assert f'<a href="{profile}" rel="nofollow noopener ugc">@Reader.Forum</a>' in page
    assert page.count(f'href="{profile}"') == 1  # not inside code, not inside another link
    assert "et @hors.espace, voir <code>@reader.forum</code>" in page
    assert clients["admin"][0].get(profile).status_code == 200


def test_a_topic_without_replies_says_0_reponse_in_french_and_0_replies_in_english(forum, db):
    space, clients = forum
    client, user = clients["member"]
    new_topic(client, space)
    listing = client.get(f"/s/{space.slug}/forum/").get_data(as_text=True)
    assert "0 réponse" in listing and "0 réponses" not in listing
    db.session.get(User, user.id).language = "en"
    db.session.commit()
    assert "0 replies" in client.get(f"/s/{space.slug}/forum/").get_data(as_text=True)
