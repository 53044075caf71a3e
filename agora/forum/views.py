"""Forum pages: topic list, a topic with its replies, writing, editing, moderation, themes."""

from __future__ import annotations

from collections import defaultdict

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from agora.auth.models import User
from agora.core.forms import apply_service_error, save_form
from agora.core.pagination import Page, page_number, paginate
from agora.core.richtext import quote_markdown
from agora.core.security import recorder_page
from agora.core.services import ServiceError
from agora.core.urls import int_arg
from agora.documents import services as documents
from agora.extensions import db
from agora.forum import services
from agora.forum.forms import (
    EMPTY_REPLY,
    CategoryForm,
    EditPostForm,
    ModerateForm,
    ReplyForm,
    TopicForm,
)
from agora.forum.models import Post, Reaction, Topic, TopicRead
from agora.spaces.tenancy import require, space_blueprint

bp = space_blueprint("forum", __name__, "/forum")

TOPICS_PER_PAGE = 25
POSTS_PER_PAGE = 30


def _category_choices(categories):
    from wtforms import SelectChoice

    return [SelectChoice(0, _("Sans thème"))] + [SelectChoice(c.id, c.name) for c in categories]


@bp.get("/")
def list_topics():
    """Topics by last activity (pinned first), filtered by theme or unread only."""
    space = g.space
    categories = services.list_categories(space)
    category_id = int_arg("category")
    category = services.get_category(space, category_id) if category_id else None
    if "category" in request.args and category is None:
        abort(404)
    unread_only = request.args.get("unread") == "1"
    read = TopicRead.__table__
    stmt = (
        select(Topic, read.c.last_read_post_id)
        .outerjoin(read, and_(read.c.topic_id == Topic.id, read.c.user_id == current_user.id))
        .where(Topic.space_id == space.id)
        .options(selectinload(Topic.author), selectinload(Topic.last_poster), selectinload(Topic.category))
        .order_by(Topic.is_pinned.desc(), Topic.last_post_at.desc(), Topic.id.desc())
    )
    if category is not None:
        stmt = stmt.where(Topic.category_id == category.id)
    if unread_only:
        stmt = stmt.where(or_(read.c.last_read_post_id.is_(None), Topic.last_post_id > read.c.last_read_post_id))
    page = paginate(stmt, TOPICS_PER_PAGE, scalars=False)
    return render_template(
        "forum/list.html", space=space, page=page, categories=categories, category=category, unread_only=unread_only
    )


@bp.route("/new", methods=["GET", "POST"])
def new_topic():
    """Open a topic (members and admins)."""
    space = g.space
    require(space.can_write(current_user))
    form = TopicForm()
    form.category.choices = _category_choices(services.list_categories(space))
    if request.method == "GET" and int_arg("category"):
        form.category.data = int_arg("category")
    preview = None
    if form.validate_on_submit():
        if "preview" in request.form:
            preview = Markup(services.render_body(g.space, form.body.data))
        else:
            try:
                topic = services.create_topic(
                    space,
                    current_user,
                    title=form.title.data,
                    body=form.body.data,
                    category_id=form.category.data or None,
                )
                first = db.session.scalar(select(Post.id).where(Post.topic_id == topic.id, Post.is_first.is_(True)))
                documents.attach_form_files(
                    space, "forum.post", first, form.attachments.data, field="attachments", actor=current_user
                )
            except ServiceError as exc:
                db.session.rollback()
                apply_service_error(form, exc)
                return render_template("forum/new.html", space=space, form=form, preview=None), exc.status
            db.session.commit()
            return redirect(url_for("forum.show_topic", topic_id=topic.id))
    status = 400 if request.method == "POST" and preview is None else 200
    return render_template("forum/new.html", space=space, form=form, preview=preview), status


def _topic_page(topic: Topic, number: int) -> Page:
    return paginate(
        select(Post).where(Post.topic_id == topic.id).order_by(Post.id).options(selectinload(Post.author)),
        POSTS_PER_PAGE,
        number,
    )


def _reactions(post_ids: list[int]) -> dict[int, list[User]]:
    found: dict[int, list[User]] = defaultdict(list)
    if post_ids:
        rows = db.session.execute(
            select(Reaction.post_id, User)
            .join(User, User.id == Reaction.user_id)
            .where(Reaction.post_id.in_(post_ids))
            .order_by(Reaction.id)
        ).all()
        for post_id, user in rows:
            found[post_id].append(user)
    return found


def _render_topic(topic: Topic, form: ReplyForm, preview=None, status: int = 200):
    space = g.space
    seen = services.last_read(topic, current_user)
    page = _topic_page(topic, page_number())
    if request.method == "GET" and int_arg("quote"):
        quoted = services.get_post(space, int_arg("quote"))
        if quoted is not None and quoted.topic_id == topic.id:
            form.body.data = quote_markdown(quoted.author.display_name if quoted.author else "?", quoted.body)
    moderate_form = None
    if topic.can_moderate(current_user):
        moderate_form = ModerateForm(prefix="mod", obj=topic, formdata=None)
        moderate_form.category.choices = _category_choices(services.list_categories(space))
        moderate_form.category.data = topic.category_id or 0
    # Asked before the commit below expires the topic; the recorder comes with the documents module.
    can_reply = topic.can_reply(current_user)
    may_record = can_reply and space.has_module("documents")
    html = render_template(
        "forum/topic.html",
        space=space,
        topic=topic,
        page=page,
        form=form,
        preview=preview,
        reactions=_reactions([p.id for p in page.items]),
        seen=seen,
        attachments=documents.attachments_for(space, "forum.post", [p.id for p in page.items]),
        following=services.is_following(topic, current_user),
        moderate_form=moderate_form,
        can_reply=can_reply,
    )
    if page.items and status == 200:
        # Noted, written shortly after by this process (agora.core.markers); after rendering, since
        # the tests' commit (MARKER_DELAY_MS = 0) expires every loaded object.
        services.note_read(topic, current_user, page.items[-1].id)
        db.session.commit()
    return recorder_page(html, status, may_record=may_record)  # the reply form's « Parler »


@bp.get("/<int:topic_id>/")
def show_topic(topic_id: int):
    """A topic's posts, 30 a page; reading a page moves the read position forward."""
    topic = services.get_topic(g.space, topic_id) or abort(404)
    return _render_topic(topic, ReplyForm())


@bp.get("/posts/<int:post_id>")
def show_post(post_id: int):
    """A post's lasting address: its topic, at the page that holds it."""
    post = services.get_post(g.space, post_id) or abort(404)
    position = db.session.scalar(
        select(func.count()).select_from(Post).where(Post.topic_id == post.topic_id, Post.id <= post.id)
    )
    number = (position - 1) // POSTS_PER_PAGE + 1
    return redirect(url_for("forum.show_topic", topic_id=post.topic_id, page=number, _anchor=f"post-{post.id}"))


@bp.get("/<int:topic_id>/unread")
def first_unread(topic_id: int):
    """Jump to the first reply the person has not seen yet."""
    topic = services.get_topic(g.space, topic_id) or abort(404)
    post_id, position = services.position_of_first_unread(topic, current_user)
    if post_id is None:
        last_page = max(1, -(-(topic.reply_count + 1) // POSTS_PER_PAGE))
        return redirect(url_for("forum.show_topic", topic_id=topic.id, page=last_page))
    number = (position - 1) // POSTS_PER_PAGE + 1
    return redirect(url_for("forum.show_topic", topic_id=topic.id, page=number, _anchor=f"post-{post_id}"))


@bp.post("/<int:topic_id>/reply")
def reply(topic_id: int):
    """Post a reply (or show its preview)."""
    topic = services.get_topic(g.space, topic_id) or abort(404)
    require(g.space.can_write(current_user))
    form = ReplyForm()
    if not form.validate_on_submit():
        return _render_topic(topic, form, status=400)
    if "preview" in request.form:
        return _render_topic(topic, form, preview=Markup(services.render_body(g.space, form.body.data)), status=200)
    try:
        post = services.add_reply(
            g.space, topic, current_user, form.body.data, spoken=not (form.body.data or "").strip()
        )
        documents.attach_message_files(  # its voice message, photos and other files
            g.space, "forum.post", post.id, form, has_text=bool(post.body), empty=EMPTY_REPLY, actor=current_user
        )
    except ServiceError as exc:
        db.session.rollback()
        apply_service_error(form, exc)
        return _render_topic(topic, form, status=exc.status)
    db.session.commit()
    # The new post is number reply_count + 1 in the topic.
    number = topic.reply_count // POSTS_PER_PAGE + 1
    return redirect(url_for("forum.show_topic", topic_id=topic.id, page=number, _anchor=f"post-{post.id}"))


def _is_spoken(post: Post) -> bool:
    """Whether a voice message is attached to the post."""
    return any(d.is_audio for d in documents.attachments_for(g.space, "forum.post", [post.id]).get(post.id, []))


@bp.route("/posts/<int:post_id>/edit", methods=["GET", "POST"])
def edit_post(post_id: int):
    """Edit one's post (space admins: any post); the first post also carries the title."""
    post = services.get_post(g.space, post_id) or abort(404)
    require(post.can_edit(current_user))
    form = EditPostForm(obj=post)
    if request.method == "GET" and post.is_first:
        form.title.data = post.topic.title
    return save_form(
        form,
        lambda: services.edit_post(
            g.space,
            post,
            body=form.body.data,
            title=form.title.data if post.is_first else None,
            spoken=_is_spoken(post),
        ),
        message=_("Le message est modifié."),
        done=lambda _none: url_for("forum.show_topic", topic_id=post.topic_id, _anchor=f"post-{post.id}"),
        render=lambda: render_template("forum/edit.html", space=g.space, post=post, form=form),
    )


@bp.route("/posts/<int:post_id>/delete", methods=["GET", "POST"])
def delete_post(post_id: int):
    """Delete a post; for a topic's first post, confirm first: the whole topic goes."""
    post = services.get_post(g.space, post_id) or abort(404)
    require(post.can_delete(current_user))
    if request.method == "GET":
        return render_template("forum/delete.html", space=g.space, post=post)
    topic_id = post.topic_id
    topic_gone = services.delete_post(g.space, post)
    db.session.commit()
    if topic_gone:
        flash(_("Le sujet est supprimé."), "success")
        return redirect(url_for("forum.list_topics"))
    flash(_("Le message est supprimé."), "success")
    return redirect(url_for("forum.show_topic", topic_id=topic_id))


def page_from_form() -> int | None:
    raw = request.form.get("page", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 1 < int(raw) < 100_000 else None


@bp.post("/posts/<int:post_id>/react")
def react(post_id: int):
    """Add or take back one's "I agree" on a post (members and admins; readers only read)."""
    post = services.get_post(g.space, post_id) or abort(404)
    require(g.space.can_write(current_user))
    services.toggle_reaction(g.space, post, current_user)
    db.session.commit()
    return redirect(
        url_for("forum.show_topic", topic_id=post.topic_id, page=page_from_form(), _anchor=f"post-{post.id}")
    )


@bp.post("/<int:topic_id>/follow")
def follow(topic_id: int):
    """Follow or stop following a topic."""
    topic = services.get_topic(g.space, topic_id) or abort(404)
    on = request.form.get("follow") == "1"
    services.follow(g.space, topic, current_user, on)
    db.session.commit()
    flash(_("Vous suivez ce sujet.") if on else _("Vous ne suivez plus ce sujet."), "success")
    return redirect(url_for("forum.show_topic", topic_id=topic.id))


@bp.post("/<int:topic_id>/moderate")
def moderate(topic_id: int):
    """Pin, lock or move a topic (space admins)."""
    topic = services.get_topic(g.space, topic_id) or abort(404)
    require(topic.can_moderate(current_user))
    form = ModerateForm(prefix="mod")
    form.category.choices = _category_choices(services.list_categories(g.space))
    if not form.validate_on_submit():
        abort(400)
    try:
        services.moderate(
            g.space,
            topic,
            is_pinned=form.is_pinned.data,
            is_locked=form.is_locked.data,
            category_id=form.category.data or None,
        )
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return _render_topic(topic, ReplyForm(formdata=None), status=exc.status)
    db.session.commit()
    flash(_("Le sujet est mis à jour."), "success")
    return redirect(url_for("forum.show_topic", topic_id=topic.id))


def _category_page(category, template: str, message: str):
    form = CategoryForm(obj=category)
    return save_form(
        form,
        lambda: services.save_category(
            g.space, category, name=form.name.data, colour=form.colour.data, position=form.position.data or 0
        ),
        message=message,
        done=lambda _saved: url_for("forum.categories"),
        render=lambda: render_template(
            template, space=g.space, form=form, category=category, categories=services.list_categories(g.space)
        ),
    )


@bp.route("/categories/", methods=["GET", "POST"])
def categories():
    """The forum's themes: list and create (space admins)."""
    require(g.space.can_manage(current_user))
    return _category_page(None, "forum/categories.html", _("Le thème est créé."))


@bp.route("/categories/<int:category_id>/edit", methods=["GET", "POST"])
def edit_category(category_id: int):
    """Rename, recolour or reorder a theme (space admins)."""
    require(g.space.can_manage(current_user))
    category = services.get_category(g.space, category_id) or abort(404)
    return _category_page(category, "forum/category_edit.html", _("Le thème est enregistré."))


@bp.post("/categories/<int:category_id>/delete")
def delete_category(category_id: int):
    """Delete a theme; its topics stay, without a theme (space admins)."""
    require(g.space.can_manage(current_user))
    category = services.get_category(g.space, category_id) or abort(404)
    services.delete_category(g.space, category)
    db.session.commit()
    flash(_("Le thème est supprimé ; ses sujets restent, sans thème."), "success")
    return redirect(url_for("forum.categories"))
