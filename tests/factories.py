"""Shared factories: one object of a space per kind, made through the services, for the walks.

Every `make_*(db, space, user)` returns the id of a new (or the newest) object of `space`, made
by `user`. FILLERS fills a URL parameter of that name; the tenancy walk, the XSS, accessibility
and query-budget walks and the reference tests all take their objects from here, so a new
module adds its makers here and every walk covers it.
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import select

from agora.spaces import services
from agora.spaces.models import Membership, NewsItem
from agora.spaces.tenancy import membership_in


def make_news(db, space, user):
    news = NewsItem(space_id=space.id, author_id=user.id, title="Annonce privée", body="Secret de l'espace B")
    db.session.add(news)
    db.session.flush()
    return news.id


def make_membership(db, space, user):
    return db.session.scalar(
        select(Membership.id).where(Membership.space_id == space.id, Membership.user_id == user.id)
    )


def make_unset_membership(db, space, user):
    """A member of B whose account was never set up (the setup-link pages need one)."""
    from agora.auth.services import create_user, get_user_by_username

    newcomer = get_user_by_username("pas.active") or create_user("pas.active", None)
    return (membership_in(newcomer, space) or services.add_member(space, newcomer, "member", actor=None)).id


def make_invitation(db, space, user):
    invitation, _raw = services.create_invitation(space, role="member", max_uses=5, days=3, label="B", actor=user)
    return invitation.id


def make_topic(db, space, user):
    from agora.forum import services as forum

    return forum.create_topic(space, user, title="Sujet privé de B", body="Secret de l'espace B", category_id=None).id


def make_post(db, space, user):
    from agora.forum import services as forum
    from agora.forum.models import Topic

    topic = db.session.get(Topic, make_topic(db, space, user))
    return forum.add_reply(space, topic, user, "Réponse secrète de B").id


def make_category(db, space, user):
    from agora.forum import services as forum

    return forum.save_category(
        space, None, name=f"Thème B {len(forum.list_categories(space))}", colour="#112233", position=0
    ).id


def make_person(db, space, user):
    return user.id


def make_organisation(db, space, user):
    from agora.members import services as members

    return members.save_organisation(
        space, None, name=f"Structure B {len(members.list_organisations(space))}", description=""
    ).id


def make_event(db, space, user):
    from datetime import date, time

    from agora.agenda import services as agenda

    data = agenda.EventData(
        title="Réunion secrète de B",
        start_date=date(2030, 3, 5),
        end_date=date(2030, 3, 5),
        start_time=time(18),
        end_time=time(20),
        repeat="weekly",
        count=5,
        description="Secret de l'espace B",
    )
    return agenda.create_event(space, user, data).id


def make_task(db, space, user):
    from agora.tasks import services as tasks

    task_list = tasks.lists(space)[0] if tasks.lists(space) else tasks.save_list(space, name="Liste B", description="")
    task = tasks.save_task(
        space,
        None,
        tasks.TaskData(title="Tâche secrète de B", list_id=task_list.id, description="Secret de l'espace B"),
        actor=user,
    )
    return task.id


def make_task_comment(db, space, user):
    from agora.tasks import services as tasks
    from agora.tasks.models import Task

    return tasks.add_comment(
        space, db.session.get(Task, make_task(db, space, user)), user, "Commentaire secret de B"
    ).id


def make_checklist_item(db, space, user):
    from agora.tasks import services as tasks
    from agora.tasks.models import Task

    return tasks.add_checklist_item(space, db.session.get(Task, make_task(db, space, user)), "Élément B").id


def make_status(db, space, user):
    from agora.tasks import services as tasks

    return tasks.statuses(space)[1].id


def make_folder(db, space, user):
    from agora.documents import services as documents

    tree = documents.Tree.load(space)
    return documents.create_folder(space, tree, None, f"Dossier B {len(tree.by_id)}", actor=user).id


def make_document(db, space, user):
    """A small image of B, so its thumbnail and inline view exist too."""
    import io

    from PIL import Image
    from werkzeug.datastructures import FileStorage

    from agora.documents import services as documents

    picture = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(picture, "PNG")
    picture.seek(0)
    document, _new = documents.store_file(
        space,
        documents.Tree.load(space),
        None,
        FileStorage(picture, filename="Secret de l'espace B.png"),
        actor=user,
        on_conflict="rename",
    )
    db.session.commit()
    return document.id


def make_latest_document(db, space, user):
    """The newest document of B (made when there is none): with make_version, one pair, in either order."""
    from sqlalchemy import func

    from agora.documents.models import Document

    latest = db.session.scalar(
        select(func.max(Document.id)).where(Document.space_id == space.id, Document.deleted_at.is_(None))
    )
    return latest or make_document(db, space, user)


def make_version(db, space, user):
    from agora.documents.models import Document

    return db.session.get(Document, make_latest_document(db, space, user)).current_version_id


def make_trashed_folder(db, space, user):
    from agora.documents.models import Folder

    folder = db.session.get(Folder, make_folder(db, space, user))
    folder.deleted_at = folder.created_at
    return folder.id


def make_trashed_document(db, space, user):
    from agora.documents.models import Document

    document = db.session.get(Document, make_document(db, space, user))
    document.deleted_at = document.created_at
    return document.id


def make_poll(db, space, user):
    from agora.polls import services as polls

    return polls.create_poll(space, user, polls.PollData(question="Sondage secret de B", options=["Oui", "Non"])).id


def make_date_poll(db, space, user):
    """The newest date poll of B (made when there is none), so poll and option ids pair up."""
    from datetime import datetime

    from sqlalchemy import func

    from agora.polls import services as polls
    from agora.polls.models import Poll

    latest = db.session.scalar(select(func.max(Poll.id)).where(Poll.space_id == space.id, Poll.kind == "dates"))
    if latest:
        return latest
    slots = [datetime(2031, 3, day, 18, tzinfo=UTC) for day in (3, 5)]
    return polls.create_poll(space, user, polls.PollData(question="Date secrète de B", kind="dates", slots=slots)).id


def make_date_option(db, space, user):
    from agora.polls.models import PollOption

    return db.session.scalar(select(PollOption.id).where(PollOption.poll_id == make_date_poll(db, space, user)))


#: URL parameter -> function(db, space B, an admin of B) returning an id that belongs to space B.
FILLERS = {
    "news_id": make_news,
    "invitation_id": make_invitation,
    "topic_id": make_topic,
    "post_id": make_post,
    "category_id": make_category,
    "user_id": make_person,
    "organisation_id": make_organisation,
    "event_id": make_event,
    "task_id": make_task,
    "item_id": make_checklist_item,
    "status_id": make_status,
    "folder_id": make_folder,
    "document_id": make_document,
    "version_id": make_version,
    "trashed_folder_id": make_trashed_folder,
    "trashed_document_id": make_trashed_document,
    "poll_id": make_poll,
}
#: Per-endpoint overrides, where the same parameter name needs a particular kind of object.
ENDPOINT_FILLERS = {
    "spaces.new_setup_link": {"membership_id": make_unset_membership},
    "spaces.show_setup_link": {"membership_id": make_unset_membership},
    "documents.download_version": {"document_id": make_latest_document},
    "documents.restore_version": {"document_id": make_latest_document},
    "polls.make_event": {"poll_id": make_date_poll, "option_id": make_date_option},
}
DEFAULT_MEMBERSHIP = make_membership


# Pages of the registry, filled with a space's objects -----------------------------------------


def page_models() -> dict:
    """A field of a registry page ("/forum/{topic_id}/") -> the model whose row of the space fills it."""
    from agora.agenda.models import Event
    from agora.documents.models import Document, Folder
    from agora.forum.models import ForumCategory, Post, Topic
    from agora.members.models import Organisation
    from agora.polls.models import Poll
    from agora.tasks.models import Task

    return {
        "topic_id": Topic,
        "post_id": Post,
        "category_id": ForumCategory,
        "event_id": Event,
        "folder_id": Folder,
        "document_id": Document,
        "task_id": Task,
        "poll_id": Poll,
        "news_id": NewsItem,
        "organisation_id": Organisation,
    }


def page_fields(page) -> set[str]:
    import string

    return {name for _text, name, _spec, _conv in string.Formatter().parse(page.path) if name}


def registry_pages(*, site_admin: bool = False):
    """(module, page) of every page the registry lists; the /admin/ pages only for a site admin."""
    from agora.modules import MODULES

    return [(m, p) for m in MODULES for p in m.pages if site_admin or not p.path.startswith("/admin/")]


def page_urls(db, slug: str, *, user_id: int, site_admin: bool = False, values: dict | None = None) -> list[str]:
    """Every registry page as a path, its fields filled with the oldest object of that kind in the
    space (`values` overrides some), and {user_id} with the given person."""
    return list(
        dict.fromkeys(named_page_urls(db, slug, user_id=user_id, site_admin=site_admin, values=values).values())
    )


def named_page_urls(
    db, slug: str, *, user_id: int, site_admin: bool = False, values: dict | None = None
) -> dict[str, str]:
    """page_urls, each under its name in the registry ("/s/<slug>/forum/{topic_id}/").

    A kind the space has none of is made by its maker in FILLERS, by that person."""
    from flask import current_app

    from agora.auth.models import User
    from agora.spaces.models import Space

    space = db.session.scalar(select(Space).where(Space.slug == slug))
    filled = {"user_id": user_id, **(values or {})}
    for name, model in page_models().items():
        if name not in filled:
            filled[name] = db.session.scalar(select(model.id).where(model.space_id == space.id).order_by(model.id))
        if filled[name] is None:
            with current_app.test_request_context():
                filled[name] = FILLERS[name](db, space, db.session.get(User, user_id))
                db.session.commit()
    urls = {}
    for _module, page in registry_pages(site_admin=site_admin):
        missing = page_fields(page) - filled.keys()
        assert not missing, f"{page.path}: no way to fill {missing}; add it to page_models in tests/factories.py"
        path = page.path.format(**filled)
        urls[f"/s/<slug>{page.path}" if page.in_space else page.path] = f"/s/{slug}{path}" if page.in_space else path
    return urls


# Targets and holders of the registry's references -------------------------------------------


def make_option(db, space, user):
    from agora.polls.models import PollOption

    return db.session.scalar(select(PollOption.id).where(PollOption.poll_id == make_poll(db, space, user)))


def _delete_post(db, space, post_id):
    from agora.forum import services as forum
    from agora.forum.models import Post

    forum.delete_post(space, db.session.get(Post, post_id))


def _delete_event(db, space, event_id):
    from agora.agenda import services as agenda
    from agora.agenda.models import Event

    agenda.delete_event(space, db.session.get(Event, event_id))


def _delete_task(db, space, task_id):
    """As the task page's delete button does."""
    from agora.tasks.models import Task

    db.session.delete(db.session.get(Task, task_id))
    db.session.flush()


def _delete_task_comment(db, space, comment_id):
    """A task's comments go with their task (the database's cascade)."""
    from agora.tasks import services as tasks
    from agora.tasks.models import Task, TaskComment

    tasks.delete_task(space, db.session.get(Task, db.session.get(TaskComment, comment_id).task_id))


def _delete_option(db, space, option_id):
    """A poll's options go with their poll."""
    from agora.polls import services as polls
    from agora.polls.models import Poll, PollOption

    polls.delete_poll(space, db.session.get(Poll, db.session.get(PollOption, option_id).poll_id))


def targets() -> dict:
    """Model of a reference target -> (make(db, space, user) -> id, delete(db, space, id) through its service)."""
    from agora.agenda.models import Event
    from agora.forum.models import Post
    from agora.polls.models import PollOption
    from agora.tasks.models import Task, TaskComment

    return {
        Post: (make_post, _delete_post),
        Event: (make_event, _delete_event),
        Task: (make_task, _delete_task),
        TaskComment: (make_task_comment, _delete_task_comment),
        PollOption: (make_option, _delete_option),
    }


def make_holder(db, ref, space, user, target_id: int) -> int:
    """A row holding the reference `ref` to target_id in space; returns its id."""
    from agora.documents.models import Attachment
    from agora.notifications.models import Notification

    if ref.holder is Attachment:
        row = Attachment(
            space_id=space.id, document_id=make_document(db, space, user), kind=ref.kind, target_id=target_id
        )
    elif ref.holder is Notification:
        row = Notification(
            space_id=space.id,
            user_id=user.id,
            kind="event",
            verb="agenda.event",
            title="Réunion",
            url=f"/s/{space.slug}/",
            group_key="agenda",
            delivery="none",
            **{ref.id_column: target_id},
        )
    else:
        raise AssertionError(f"{ref.holder.__name__}: add how to make one to make_holder in tests/factories.py")
    db.session.add(row)
    db.session.flush()
    return row.id
