"""The module registry: one explicit entry per module, read by the factory, the space menu, the
settings form, the home page and its panels, the profile and member cards, search, notifications, reference cleanup and the test walks.

Adding a module is its folder, one entry below, its migration and its translations (see
CONTRIBUTING.md). The order of the list is the order of the space menu. Nothing is discovered:
what is not listed here does not exist for the rest of Agora.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from agora.admin import views as admin_views
from agora.agenda import demo as agenda_demo
from agora.agenda import panels as agenda_panels
from agora.agenda import scale as agenda_scale
from agora.agenda import search as agenda_search
from agora.agenda import views as agenda_views
from agora.agenda.models import Event
from agora.auth import views as auth_views
from agora.core import views as core_views
from agora.core.registry import Module, NavEntry, NotificationKind, Page, Panel, Reference, SearchKind
from agora.documents import demo as documents_demo
from agora.documents import scale as documents_scale
from agora.documents import search as documents_search
from agora.documents import views as documents_views
from agora.documents.models import Attachment, Document
from agora.forum import demo as forum_demo
from agora.forum import panels as forum_panels
from agora.forum import scale as forum_scale
from agora.forum import search as forum_search
from agora.forum import views as forum_views
from agora.forum.models import Post, Topic
from agora.members import demo as members_demo
from agora.members import search as members_search
from agora.members import views as members_views
from agora.notifications import views as notifications_views
from agora.notifications.models import Notification
from agora.polls import demo as polls_demo
from agora.polls import panels as polls_panels
from agora.polls import scale as polls_scale
from agora.polls import search as polls_search
from agora.polls import views as polls_views
from agora.polls.models import Poll, PollOption
from agora.search import views as search_views
from agora.spaces import scale as spaces_scale
from agora.spaces import views as spaces_views
from agora.spaces.models import Membership
from agora.tasks import demo as tasks_demo
from agora.tasks import panels as tasks_panels
from agora.tasks import scale as tasks_scale
from agora.tasks import search as tasks_search
from agora.tasks import views as tasks_views
from agora.tasks.models import Task, TaskComment


def _attachments(kind: str, target) -> Reference:
    """Documents attached to items of `kind` (Attachment rows), gone with their item."""
    return Reference(Attachment, "target_id", target, kind=kind, kind_column="kind")


MODULES: tuple[Module, ...] = (
    Module(
        "site",
        _l("Accueil"),
        "house",
        switchable=False,
        blueprints=(core_views.bp, auth_views.bp),
        pages=(Page("/", in_space=False), Page("/profile", in_space=False)),
    ),
    Module(
        "spaces",
        _l("Accueil"),
        "house",
        switchable=False,
        scale=spaces_scale.seed_scale,
        blueprints=(spaces_views.home_bp, spaces_views.join_bp, spaces_views.bp),
        # "joined" is a sentence of its own on the home page: "Nadia a rejoint l'espace".
        activity={"joined": None, "news": _l("Actualité :")},
        notifications={"news": _l("%(actor)s a publié l'annonce « %(title)s »")},
        # Polls are told as news: "news" is the space speaking to everyone.
        notification_kinds=(
            NotificationKind(
                "news",
                _l("L'espace publie une annonce ou lance un sondage"),
                "now",
                _l("%(count)s annonces et sondages"),
            ),
        ),
        pages=(
            Page("/"),
            Page("/news/new"),
            Page("/news/{news_id}/edit"),
            Page("/settings/"),
            Page("/members/manage/"),
        ),
    ),
    Module(
        "forum",
        _l("Forum"),
        "forum",
        demo=forum_demo.seed_demo,
        scale=forum_scale.seed_scale,
        blueprints=(forum_views.bp,),
        nav=(NavEntry(_l("Forum"), "forum.list_topics", "forum"),),
        search=(
            SearchKind("forum.topic", forum_search.topic_entry, Topic, forum_search.topic_url),
            SearchKind(
                "forum.post",
                forum_search.post_entry,
                Post,
                forum_search.post_url,
                where=forum_search.replies_only,
                preload=forum_search.post_preload,
                related=forum_search.post_related,
            ),
        ),
        activity={"forum.topic": _l("Nouveau sujet :"), "forum.reply": _l("Réponse dans :")},
        notifications={
            "forum.topic": _l("%(actor)s a ouvert la discussion « %(title)s »"),
            "forum.reply": _l("%(actor)s a répondu dans « %(title)s »"),
            "forum.mention": _l("%(actor)s vous a mentionné dans « %(title)s »"),
        },
        notification_kinds=(
            NotificationKind(
                "topic",
                _l("Une nouvelle discussion est ouverte dans le forum"),
                "daily",
                _l("%(count)s nouvelles discussions dans le forum"),
            ),
            NotificationKind(
                "reply",
                _l("Quelqu'un répond dans une discussion que je suis"),
                "now",
                _l("%(count)s nouveaux messages dans « %(title)s »"),
            ),
            NotificationKind(
                "mention",
                _l("Quelqu'un me cite avec @ dans un message"),
                "now",
                _l("%(count)s nouveaux messages dans « %(title)s »"),
            ),
        ),
        references=(_attachments("forum.post", Post),),
        member_panels=(Panel("forum/_member_panel.html", forum_panels.member_panel),),
        pages=(
            Page("/forum/"),
            Page("/forum/?unread=1"),
            Page("/forum/new"),
            Page("/forum/categories/"),
            Page("/forum/categories/{category_id}/edit"),
            Page("/forum/{topic_id}/"),
            Page("/forum/posts/{post_id}/edit"),
        ),
    ),
    Module(
        "agenda",
        _l("Agenda"),
        "calendar",
        demo=agenda_demo.seed_demo,
        scale=agenda_scale.seed_scale,
        blueprints=(agenda_views.bp, agenda_views.mine_bp, agenda_views.feeds_bp),
        nav=(NavEntry(_l("Agenda"), "agenda.show_agenda", "agenda"),),
        search=(SearchKind("agenda.event", agenda_search.event_entry, Event, agenda_search.event_url),),
        # An import's title says it all: "12 événements importés".
        activity={"agenda.event": _l("Dans l'agenda :"), "agenda.import": None},
        notifications={
            "agenda.event": _l("%(actor)s a ajouté l'événement « %(title)s »"),
            "agenda.changed": _l("%(actor)s a modifié l'événement « %(title)s »"),
            "agenda.cancelled": _l("%(actor)s a supprimé l'événement « %(title)s »"),
        },
        notification_kinds=(
            NotificationKind(
                "event",
                _l("Un événement est ajouté, modifié ou supprimé dans l'agenda"),
                "now",
                _l("%(count)s changements dans l'agenda"),
            ),
        ),
        references=(_attachments("agenda.event", Event), Reference(Notification, "event_id", Event, nullify=True)),
        home_panels=(Panel("agenda/_home_panel.html", agenda_panels.home_panel),),
        profile_panels=(Panel("agenda/_profile_panel.html", agenda_panels.profile_panel),),
        pages=(
            Page("/agenda/"),
            Page("/agenda/?view=month"),
            Page("/agenda/?view=week"),
            Page("/agenda/resources/"),
            Page("/agenda/import"),
            Page("/agenda/new"),
            Page("/agenda/categories/"),
            Page("/agenda/subscribe"),
            Page("/agenda/{event_id}/"),
            Page("/agenda/{event_id}/edit"),
            Page("/agenda/", in_space=False),
        ),
    ),
    Module(
        "documents",
        _l("Documents"),
        "folder",
        demo=documents_demo.seed_demo,
        scale=documents_scale.seed_scale,
        blueprints=(documents_views.bp,),
        nav=(NavEntry(_l("Documents"), "documents.show_folder", "documents"),),
        search=(
            SearchKind(
                "documents.document",
                documents_search.document_entry,
                Document,
                documents_search.document_url,
                where=documents_search.live_documents,
            ),
        ),
        activity={"documents.document": _l("Nouveau document :"), "documents.version": _l("Nouvelle version :")},
        notifications={
            "documents.document": _l("%(actor)s a déposé « %(title)s »"),
            "documents.version": _l("%(actor)s a déposé une nouvelle version de « %(title)s »"),
        },
        notification_kinds=(
            NotificationKind(
                "document",
                _l("Un document est déposé dans un dossier que je suis"),
                "daily",
                _l("%(count)s documents déposés"),
            ),
        ),
        pages=(
            Page("/documents/"),
            Page("/documents/trash"),
            Page("/documents/folders/{folder_id}"),
            Page("/documents/{document_id}"),
        ),
    ),
    Module(
        "tasks",
        _l("Tâches"),
        "tasks",
        demo=tasks_demo.seed_demo,
        scale=tasks_scale.seed_scale,
        blueprints=(tasks_views.bp, tasks_views.mine_bp),
        nav=(NavEntry(_l("Tâches"), "tasks.list_tasks", "tasks"),),
        search=(
            SearchKind("tasks.task", tasks_search.task_entry, Task, tasks_search.task_url),
            SearchKind("tasks.comment", tasks_search.comment_entry, TaskComment, tasks_search.comment_url),
        ),
        activity={"tasks.task": _l("Nouvelle tâche :")},
        notifications={
            "tasks.assigned": _l("%(actor)s vous a confié la tâche « %(title)s »"),
            "tasks.due": _l("%(actor)s a changé l'échéance de la tâche « %(title)s »"),
            "tasks.comment": _l("%(actor)s a commenté la tâche « %(title)s »"),
        },
        notification_kinds=(
            NotificationKind(
                "task",
                _l("On me confie une tâche, ou on commente une de mes tâches"),
                "now",
                _l("%(count)s nouvelles sur vos tâches"),
            ),
        ),
        references=(_attachments("tasks.task", Task), _attachments("tasks.comment", TaskComment)),
        home_panels=(Panel("tasks/_home_panel.html", tasks_panels.home_panel),),
        member_panels=(Panel("tasks/_member_panel.html", tasks_panels.member_panel),),
        pages=(
            Page("/tasks/"),
            Page("/tasks/board"),
            Page("/tasks/timeline"),
            Page("/tasks/new"),
            Page("/tasks/lists/"),
            Page("/tasks/statuses/"),
            Page("/tasks/{task_id}"),
            Page("/tasks/{task_id}/edit"),
            Page("/tasks/", in_space=False),
        ),
    ),
    Module(
        "polls",
        _l("Sondages"),
        "polls",
        demo=polls_demo.seed_demo,
        scale=polls_scale.seed_scale,
        blueprints=(polls_views.bp,),
        nav=(NavEntry(_l("Sondages"), "polls.list_polls", "polls"),),
        search=(SearchKind("polls.poll", polls_search.poll_entry, Poll, polls_search.poll_url),),
        activity={"polls.poll": _l("Nouveau sondage :"), "polls.closed": _l("Résultats du sondage :")},
        notifications={"polls.poll": _l("%(actor)s a lancé le sondage « %(title)s »")},
        references=(_attachments("polls.option", PollOption),),
        home_panels=(Panel("polls/_home_panel.html", polls_panels.home_panel),),
        pages=(
            Page("/polls/"),
            Page("/polls/new"),
            Page("/polls/new-date"),
            Page("/polls/{poll_id}"),
            Page("/polls/{poll_id}/edit"),
        ),
    ),
    Module(
        "members",
        _l("Annuaire des membres"),
        "users",
        demo=members_demo.seed_demo,
        blueprints=(members_views.bp,),
        nav=(NavEntry(_l("Annuaire"), "members.directory", "members"),),
        search=(
            SearchKind(
                "members.member", members_search.member_entry, Membership, members_search.member_url, preload=None
            ),
        ),
        pages=(
            Page("/members/"),
            Page("/members/organisations/"),
            Page("/members/organisations/{organisation_id}/edit"),
            Page("/members/me"),
            Page("/members/import"),
            Page("/members/{user_id}"),
        ),
    ),
    Module(
        "search",
        _l("Recherche"),
        "search",
        switchable=False,
        blueprints=(search_views.bp,),
        pages=(Page("/search", in_space=False), Page("/search?q=jardin", in_space=False)),
    ),
    Module(
        "notifications",
        _l("Notifications"),
        "bell",
        switchable=False,
        blueprints=(notifications_views.bp, notifications_views.space_bp),
        pages=(
            Page("/notifications", in_space=False),
            Page("/notifications/preferences", in_space=False),
            Page("/notifications/"),
        ),
    ),
    Module(
        "admin",
        _l("Administration"),
        "settings",
        switchable=False,
        blueprints=(admin_views.bp,),
        pages=(
            Page("/admin/", in_space=False),
            Page("/admin/spaces/new", in_space=False),
            Page("/admin/users/", in_space=False),
            Page("/admin/audit/", in_space=False),
        ),
    ),
)


def switchable() -> list[Module]:
    """The modules a space admin may switch on and off, in menu order."""
    return [m for m in MODULES if m.switchable]
