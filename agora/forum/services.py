"""Forum services: categories, topics, replies, edits, reactions, follows, read positions.

Each takes the space first, looks objects up inside it only, flushes and never commits.
"""

from __future__ import annotations

import re
from contextlib import nullcontext

from flask import current_app, has_request_context, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from agora.auth.models import User
from agora.core import markers
from agora.core.events import after_commit
from agora.core.richtext import RENDERER_VERSION, render_markdown
from agora.core.services import ServiceError, one_line
from agora.core.time import utcnow
from agora.extensions import db
from agora.forum.models import BODY_MAX, TITLE_MAX, ForumCategory, Post, Reaction, Topic, TopicFollow, TopicRead
from agora.notifications import services as notifications
from agora.spaces.models import Membership, Space
from agora.spaces.services import COLOUR_RE, record_activity

MENTION_RE = re.compile(r"(?<![\w@])@([\w.\-]{3,40})")


# Categories -------------------------------------------------------------------------------


def list_categories(space: Space) -> list[ForumCategory]:
    return list(
        db.session.scalars(
            select(ForumCategory)
            .where(ForumCategory.space_id == space.id)
            .order_by(ForumCategory.position, ForumCategory.name)
        )
    )


def get_category(space: Space, category_id: int | None) -> ForumCategory | None:
    """Return the category with that id in this space only."""
    if not category_id:
        return None
    return db.session.scalar(
        select(ForumCategory).where(ForumCategory.id == category_id, ForumCategory.space_id == space.id)
    )


def save_category(
    space: Space, category: ForumCategory | None, *, name: str, colour: str, position: int
) -> ForumCategory:
    """Create (category None) or change a category. Raises ServiceError for a bad or taken name."""
    name = one_line(name)
    if not name:
        raise ServiceError(_l("Donnez un nom au thème."), field="name")
    if not COLOUR_RE.match(colour):
        raise ServiceError(_l("La couleur doit être au format #RRVVBB."), field="colour")
    taken = db.session.scalar(
        select(ForumCategory.id).where(
            ForumCategory.space_id == space.id, func.lower(ForumCategory.name) == name.lower()
        )
    )
    if taken and (category is None or taken != category.id):
        raise ServiceError(_l("Un thème porte déjà ce nom."), field="name", status=409)
    if category is None:
        category = ForumCategory(space_id=space.id)
        db.session.add(category)
    category.name, category.colour, category.position = name[:80], colour.lower(), position
    db.session.flush()
    return category


# Topics and posts -------------------------------------------------------------------------


def delete_category(space: Space, category: ForumCategory) -> None:
    """Delete a theme of the space; its topics stay, without a theme."""
    if category.space_id != space.id:
        raise ServiceError(_l("Ce thème n'existe pas dans cet espace."), status=404)
    db.session.delete(category)
    db.session.flush()


def check_title(title: str) -> str:
    title = one_line(title)
    if not title:
        raise ServiceError(_l("Donnez un titre au sujet."), field="title")
    if len(title) > TITLE_MAX:
        raise ServiceError(_l("Le titre ne doit pas dépasser %(n)s caractères.", n=TITLE_MAX), field="title")
    return title


def check_body(body: str, *, may_be_empty: bool = False) -> str:
    """The body, stripped. Raises ServiceError when it is too long, or empty unless `may_be_empty`
    (a message that a voice message carries)."""
    body = (body or "").strip()
    if not body and not may_be_empty:
        raise ServiceError(_l("Le message est vide : écrivez quelque chose."), field="body")
    if len(body) > BODY_MAX:
        raise ServiceError(_l("Le message ne doit pas dépasser %(n)s caractères.", n=BODY_MAX), field="body")
    return body


def get_topic(space: Space, topic_id: int) -> Topic | None:
    """Return the topic with that id in this space only."""
    return db.session.scalar(select(Topic).where(Topic.id == topic_id, Topic.space_id == space.id))


def get_post(space: Space, post_id: int) -> Post | None:
    """Return the post with that id in this space only."""
    return db.session.scalar(select(Post).where(Post.id == post_id, Post.space_id == space.id))


def _topic_url(space: Space, topic: Topic, post: Post | None = None) -> str:
    url = url_for("forum.show_topic", slug=space.slug, topic_id=topic.id)
    return f"{url}#post-{post.id}" if post else url


def render_body(space: Space, body: str) -> str:
    """A post's HTML, made once per change: @mentions of the space's members link to their page."""
    people = {u.username_key: u.id for u in mentioned_members(space, body)}
    if not people:
        return str(render_markdown(body))

    def link(name: str) -> str | None:
        user_id = people.get(name.lower())
        return url_for("members.profile", slug=space.slug, user_id=user_id) if user_id else None

    return str(render_markdown(body, names=(MENTION_RE, link)))


def create_topic(space: Space, author: User, *, title: str, body: str, category_id: int | None) -> Topic:
    """Open a topic with its first post; the author follows it. Raises ServiceError on bad input."""
    title, body = check_title(title), check_body(body)
    category = None
    if category_id:
        category = get_category(space, category_id)
        if category is None:
            raise ServiceError(_l("Ce thème n'existe pas dans cet espace."), field="category", status=400)
    now = utcnow()
    topic = Topic(
        space_id=space.id,
        category_id=category.id if category else None,
        author_id=author.id,
        title=title,
        created_at=now,
        last_post_at=now,
        last_poster_id=author.id,
    )
    db.session.add(topic)
    db.session.flush()
    post = Post(
        space_id=space.id,
        topic_id=topic.id,
        author_id=author.id,
        body=body,
        body_html=render_body(space, body),
        is_first=True,
        created_at=now,
    )
    db.session.add(post)
    db.session.flush()
    topic.last_post_id = post.id
    follow(space, topic, author, True)
    mark_read(space, topic, author, post.id)
    record_activity(space, author, "forum.topic", title, _topic_url(space, topic))
    after_commit("forum.topic", topic.id, space.id, "created")
    after_commit("forum.post", post.id, space.id, "created")
    named = {u.id for u in mentioned_members(space, body)}
    _notify_mentions(space, topic, post, author, already=set())
    notifications.notify(
        space,
        "topic",
        "forum.topic",
        [u for u in notifications.space_members(space, except_user=author) if u.id not in named],
        actor=author,
        title=title,
        url=_topic_url(space, topic),
        group_key=f"topics:{space.id}",
        excerpt=body,
    )
    return topic


def add_reply(space: Space, topic: Topic, author: User, body: str, *, spoken: bool = False) -> Post:
    """Reply in a topic; the replier follows it and followers are told. Raises ServiceError (409 if locked).

    A `spoken` reply (a voice message is attached to it) may have no text."""
    if topic.space_id != space.id:
        raise ServiceError(_l("Ce sujet n'existe pas."), status=404)
    if topic.is_locked:
        raise ServiceError(_l("Ce sujet est fermé : on ne peut plus y répondre."), status=409)
    body = check_body(body, may_be_empty=spoken)
    now = utcnow()
    post = Post(
        space_id=space.id,
        topic_id=topic.id,
        author_id=author.id,
        body=body,
        body_html=render_body(space, body),
        created_at=now,
    )
    db.session.add(post)
    db.session.flush()
    topic.reply_count += 1
    topic.last_post_id, topic.last_post_at, topic.last_poster_id = post.id, now, author.id
    follow(space, topic, author, True)
    mark_read(space, topic, author, post.id)
    record_activity(space, author, "forum.reply", topic.title, _topic_url(space, topic, post))
    after_commit("forum.post", post.id, space.id, "created")
    told = _notify_followers(space, topic, post, author)
    _notify_mentions(space, topic, post, author, already=told)
    return post


def edit_post(space: Space, post: Post, *, body: str, title: str | None = None, spoken: bool = False) -> None:
    """Change a post (and the topic's title when it is the first post). Raises ServiceError.

    A `spoken` post (a voice message is attached to it) may lose all its text."""
    body = check_body(body, may_be_empty=spoken)
    if post.is_first and title is not None:
        post.topic.title = check_title(title)
        after_commit("forum.topic", post.topic_id, space.id, "updated")
    post.body, post.body_html, post.edited_at = body, render_body(space, body), utcnow()
    post.body_html_version = RENDERER_VERSION
    after_commit("forum.post", post.id, space.id, "updated")


def delete_post(space: Space, post: Post) -> bool:
    """Delete a reply, or the whole topic when post is its first. Returns True when the topic went.

    The links to their attached files go with them (agora.core.references)."""
    topic = post.topic
    after_commit("forum.post", post.id, space.id, "deleted")
    gone = list(db.session.scalars(select(Post.id).where(Post.topic_id == topic.id))) if post.is_first else [post.id]
    for post_id in gone:
        after_commit("forum.post", post_id, space.id, "deleted")
    if post.is_first:
        after_commit("forum.topic", topic.id, space.id, "deleted")
        db.session.delete(topic)
        db.session.flush()
        return True
    db.session.delete(post)
    db.session.flush()
    last = db.session.scalars(select(Post).where(Post.topic_id == topic.id).order_by(Post.id.desc()).limit(1)).first()
    topic.reply_count = max(0, topic.reply_count - 1)
    topic.last_post_id, topic.last_post_at, topic.last_poster_id = last.id, last.created_at, last.author_id
    return False


def moderate(space: Space, topic: Topic, *, is_pinned: bool, is_locked: bool, category_id: int | None) -> None:
    """Pin, lock or move a topic (space admins). Raises ServiceError for a category of another space."""
    category = get_category(space, category_id) if category_id else None
    if category_id and category is None:
        raise ServiceError(_l("Ce thème n'existe pas dans cet espace."), field="category")
    topic.is_pinned, topic.is_locked = is_pinned, is_locked
    topic.category_id = category.id if category else None


# Reactions, follows, read positions -------------------------------------------------------


def toggle_reaction(space: Space, post: Post, user: User) -> bool:
    """Add the person's "I agree" to a post, or take it back. Returns whether it is now there."""
    existing = db.session.scalar(select(Reaction).where(Reaction.post_id == post.id, Reaction.user_id == user.id))
    if existing is not None:
        db.session.delete(existing)
        return False
    db.session.add(Reaction(space_id=space.id, post_id=post.id, user_id=user.id))
    return True


def follow(space: Space, topic: Topic, user: User, on: bool) -> None:
    """Start or stop following a topic."""
    existing = db.session.scalar(
        select(TopicFollow).where(TopicFollow.topic_id == topic.id, TopicFollow.user_id == user.id)
    )
    if on and existing is None:
        db.session.add(TopicFollow(space_id=space.id, topic_id=topic.id, user_id=user.id))
    elif not on and existing is not None:
        db.session.delete(existing)
    db.session.flush()


def is_following(topic: Topic, user: User) -> bool:
    return (
        db.session.scalar(
            select(TopicFollow.id).where(TopicFollow.topic_id == topic.id, TopicFollow.user_id == user.id)
        )
        is not None
    )


def last_read(topic: Topic, user: User) -> int:
    """Return the id of the last post this person was shown in the topic (0 for none), counting
    what this process noted and has not written yet (see `note_read`)."""
    written = (
        db.session.scalar(
            select(TopicRead.last_read_post_id).where(
                TopicRead.space_id == topic.space_id, TopicRead.topic_id == topic.id, TopicRead.user_id == user.id
            )
        )
        or 0
    )
    return max(written, markers.noted("topic_read", (topic.space_id, topic.id, user.id)) or 0)


def note_read(topic: Topic, user: User, post_id: int) -> None:
    """The person was shown the topic up to post_id: their read position moves there shortly after,
    written with others (agora.core.markers), not by the page that showed it."""
    markers.note("topic_read", (topic.space_id, topic.id, user.id), post_id)


def mark_read(space: Space, topic: Topic, user: User, post_id: int) -> None:
    """Move the person's read position forward to post_id (never backwards), in this transaction."""
    _move_read(space.id, topic.id, user.id, post_id)


@markers.writer("topic_read")
def _write_reads(positions: dict[tuple[int, int, int], int]) -> None:
    for (space_id, topic_id, user_id), post_id in positions.items():
        _move_read(space_id, topic_id, user_id, post_id)


def _move_read(space_id: int, topic_id: int, user_id: int, post_id: int) -> None:
    position = select(TopicRead).where(
        TopicRead.space_id == space_id, TopicRead.topic_id == topic_id, TopicRead.user_id == user_id
    )
    row = db.session.scalar(position)
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(
                    TopicRead(space_id=space_id, topic_id=topic_id, user_id=user_id, last_read_post_id=post_id)
                )
        except IntegrityError:  # another request of the same person got there first
            row = db.session.scalar(position)
    if row is not None and row.last_read_post_id < post_id:
        row.last_read_post_id = post_id


def rerender_stale_posts(limit: int = 500) -> int:
    """Render again, from their Markdown, up to `limit` posts stored by an older renderer; flush and
    return how many (the background process calls it until it returns 0)."""
    stale = db.session.scalars(select(Post).where(Post.body_html_version < RENDERER_VERSION).limit(limit)).all()
    spaces = {s.id: s for s in db.session.scalars(select(Space).where(Space.id.in_({p.space_id for p in stale})))}
    # Mentions link to members' pages: outside a request (the background process) URLs are built
    # as for the site's root.
    with nullcontext() if has_request_context() else current_app.test_request_context("/"):
        for post in stale:
            post.body_html, post.body_html_version = render_body(spaces[post.space_id], post.body), RENDERER_VERSION
    db.session.flush()
    return len(stale)


def position_of_first_unread(topic: Topic, user: User) -> tuple[int | None, int]:
    """Return (post id, 1-based position) of the first post the person has not seen, or (None, 0)."""
    seen = last_read(topic, user)
    first = db.session.scalar(select(func.min(Post.id)).where(Post.topic_id == topic.id, Post.id > seen))
    if first is None:
        return None, 0
    position = db.session.scalar(
        select(func.count()).select_from(Post).where(Post.topic_id == topic.id, Post.id <= first)
    )
    return first, position


# Notifications ------------------------------------------------------------------------------


def _notify_followers(space: Space, topic: Topic, post: Post, author: User) -> set[int]:
    """Tell each follower still in the space of a reply; return who was told."""
    followers = db.session.scalars(
        select(User)
        .join(TopicFollow, TopicFollow.user_id == User.id)
        .where(TopicFollow.topic_id == topic.id, User.id != author.id)
    ).all()
    made = notifications.notify(
        space,
        "reply",
        "forum.reply",
        followers,
        actor=author,
        title=topic.title,
        url=_topic_url(space, topic, post),
        group_key=f"topic:{topic.id}",
        excerpt=post.body,
    )
    return {n.user_id for n in made}


def mentioned_members(space: Space, body: str) -> list[User]:
    """Return the space's members named as @username in body."""
    names = {m.lower() for m in MENTION_RE.findall(body)}
    if not names:
        return []
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.space_id == space.id, User.username_key.in_(names), User.is_disabled.is_(False))
        )
    )


def _notify_mentions(space: Space, topic: Topic, post: Post, author: User, already: set[int]) -> None:
    named = [u for u in mentioned_members(space, post.body) if u.id not in already]
    notifications.notify(
        space,
        "mention",
        "forum.mention",
        named,
        actor=author,
        title=topic.title,
        url=_topic_url(space, topic, post),
        group_key=f"topic:{topic.id}",
        excerpt=post.body,
    )
