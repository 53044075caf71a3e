"""Tasks: roles, bad input, filters, board moves, late tasks on a frozen clock, timeline, my tasks, feed."""

from __future__ import annotations

import re
from datetime import date

import icalendar
import pytest
from sqlalchemy import func, select

from agora.auth.models import User
from agora.core.mail import OutboxMessage
from agora.notifications.models import Notification
from agora.tasks import services
from agora.tasks.models import ChecklistItem, Task, TaskComment, TaskList, TaskStatus
from tests.conftest import deliver_notifications, login, post
from tests.test_queries import count_queries

TODAY = date(2027, 3, 17)


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    monkeypatch.setattr(services, "today", lambda zone=None: TODAY)


@pytest.fixture
def team(app, member_client, make_user, make_member, db):
    """A space with a list, an admin, a member (with e-mail) and a reader, each logged in."""
    admin_client, space, admin = member_client("admin")
    clients = {"admin": (admin_client, admin)}
    for role in ("member", "reader"):
        user = make_user(f"{role}.t", email=f"{role}@example.org", display_name=role.title())
        make_member(space, user, role)
        client = app.test_client()
        login(client, user.username)
        clients[role] = (client, user)
    assert post(admin_client, f"/s/{space.slug}/tasks/lists/", {"name": "Fête de quartier"}).status_code == 302
    list_id = db.session.scalar(select(TaskList.id))
    return space, clients, list_id


def task_form(list_id, **overrides):
    data = {
        "title": "Réserver la sono",
        "task_list": str(list_id),
        "status": "0",
        "priority": "normal",
        "progress": "0",
        "start_on": "2027-03-10",
        "due_on": "2027-03-20",
    }
    data.update(overrides)
    return data


def new_task(client, space, list_id, **overrides):
    return post(client, f"/s/{space.slug}/tasks/new", task_form(list_id, **overrides))


def task_id_of(response) -> int:
    return int(re.search(r"/tasks/(\d+)", response.location).group(1))


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_default_statuses_and_a_new_task_assigned_with_notice(team, db):
    space, clients, list_id = team
    admin, _ = clients["admin"]
    member_user = clients["member"][1]
    response = new_task(admin, space, list_id, assignees=[str(member_user.id)])
    assert response.status_code == 302
    names = db.session.scalars(select(TaskStatus.name).order_by(TaskStatus.position)).all()
    assert names == ["À faire", "En cours", "Fait"]
    task = db.session.scalar(select(Task))
    assert task.status.name == "À faire" and task.assignee_ids == {member_user.id}
    notice = db.session.scalar(select(Notification))
    assert (notice.user_id, notice.verb, notice.title) == (member_user.id, "tasks.assigned", "Réserver la sono")
    deliver_notifications()
    mail = db.session.scalar(select(OutboxMessage))
    assert mail.recipient == "member@example.org" and "Réserver la sono" in mail.subject


ACTIONS = ["create", "edit own", "edit assigned", "edit other", "move other", "comment", "lists", "statuses"]
ALLOWED = {"admin": set(ACTIONS), "member": {"create", "edit own", "edit assigned", "comment"}, "reader": set()}


@pytest.mark.parametrize("role", ["admin", "member", "reader"])
@pytest.mark.parametrize("action", ACTIONS)
def test_task_role_matrix(app, team, db, role, action):
    space, clients, list_id = team
    client, user = clients[role]
    other_client, other = clients["admin"] if role != "admin" else clients["member"]
    with app.test_request_context():
        from agora.spaces.models import Space

        s = db.session.get(Space, space.id)
        own = services.save_task(
            s, None, services.TaskData(title="À moi", list_id=list_id), actor=db.session.get(User, user.id)
        )
        assigned = services.save_task(
            s,
            None,
            services.TaskData(title="Confiée", list_id=list_id, assignee_ids=(user.id,)),
            actor=db.session.get(User, other.id),
        )
        foreign = services.save_task(
            s, None, services.TaskData(title="Autre", list_id=list_id), actor=db.session.get(User, other.id)
        )
        done = services.statuses(s)[-1].id
        db.session.commit()
        ids = own.id, assigned.id, foreign.id
    base = f"/s/{space.slug}/tasks"
    requests = {
        "create": (f"{base}/new", task_form(list_id)),
        "edit own": (f"{base}/{ids[0]}/edit", task_form(list_id, title="Modifiée")),
        "edit assigned": (f"{base}/{ids[1]}/edit", task_form(list_id, title="Modifiée", assignees=[str(user.id)])),
        "edit other": (f"{base}/{ids[2]}/edit", task_form(list_id, title="Modifiée")),
        "move other": (f"{base}/{ids[2]}/move", {"status": str(done)}),
        "comment": (f"{base}/{ids[2]}/comments", {"body": "Je m'en charge"}),
        "lists": (f"{base}/lists/", {"name": "Autre liste"}),
        "statuses": (f"{base}/statuses/", {"name": "En attente"}),
    }
    url, data = requests[action]
    before = (count(db, Task), count(db, TaskComment), count(db, TaskList), count(db, TaskStatus))
    response = post(client, url, data)
    if action in ALLOWED[role]:
        assert response.status_code == 302, response.get_data(as_text=True)[:400]
    else:
        assert response.status_code == 403
        assert (count(db, Task), count(db, TaskComment), count(db, TaskList), count(db, TaskStatus)) == before
        assert "Modifiée" not in db.session.scalars(select(Task.title)).all()
        assert db.session.get(Task, ids[2]).status_id != done


@pytest.mark.parametrize(
    "overrides, status, message",
    [
        ({"due_on": "2027-03-01"}, 400, "après le début"),
        ({"progress": "150"}, 400, "de 0 à 100"),
        ({"title": "  "}, 400, "Donnez un titre"),
        ({"priority": "urgente"}, 400, "valide"),
    ],
)
def test_bad_tasks_are_refused(team, db, overrides, status, message):
    space, clients, list_id = team
    response = new_task(clients["member"][0], space, list_id, **overrides)
    assert response.status_code == status and message in response.get_data(as_text=True)
    assert count(db, Task) == 0


def test_assignees_lists_and_statuses_must_belong_to_the_space(app, team, make_space, make_user, make_member, db):
    space, clients, list_id = team
    other = make_space()
    stranger = make_user("voisin.ailleurs")
    make_member(other, stranger, "admin")
    with app.test_request_context():
        from agora.spaces.models import Space

        o = db.session.get(Space, other.id)
        foreign_list = services.save_list(o, name="Ailleurs", description="")
        foreign_status = services.statuses(o)[0]
        db.session.commit()
        foreign_list_id, foreign_status_id = foreign_list.id, foreign_status.id
    client = clients["member"][0]
    assert new_task(client, space, list_id, assignees=[str(stranger.id)]).status_code == 400
    assert new_task(client, space, foreign_list_id).status_code == 400
    assert new_task(client, space, list_id, status=str(foreign_status_id)).status_code == 400
    assert count(db, Task) == 0


def make_tasks(client, space, list_id, user_ids):
    """Three tasks: late (due 15 March), due 20 March assigned to the member, and one with no due date."""
    late = task_id_of(new_task(client, space, list_id, title="Affiches", start_on="2027-03-01", due_on="2027-03-15"))
    soon = task_id_of(new_task(client, space, list_id, title="Sono", assignees=[str(user_ids[0])], priority="high"))
    later = task_id_of(new_task(client, space, list_id, title="Buvette", start_on="", due_on=""))
    return late, soon, later


def titles(page: str) -> list[str]:
    return re.findall(r'<a href="/s/[\w-]+/tasks/\d+">([^<]+)</a>', page)


def test_filters_and_sorts(team, db):
    space, clients, list_id = team
    admin, _ = clients["admin"]
    member_client, member_user = clients["member"]
    make_tasks(admin, space, list_id, [member_user.id])
    base = f"/s/{space.slug}/tasks/"
    assert titles(admin.get(base).get_data(as_text=True)) == ["Affiches", "Sono", "Buvette"]
    assert titles(admin.get(base + "?late=1").get_data(as_text=True)) == ["Affiches"]
    assert titles(member_client.get(base + "?mine=1").get_data(as_text=True)) == ["Sono"]
    assert titles(admin.get(base + f"?assignee={member_user.id}").get_data(as_text=True)) == ["Sono"]
    assert titles(admin.get(base + "?due_before=2027-03-16").get_data(as_text=True)) == ["Affiches"]
    assert titles(admin.get(base + "?sort=priority").get_data(as_text=True))[0] == "Sono"
    assert titles(admin.get(base + "?sort=title").get_data(as_text=True)) == ["Affiches", "Buvette", "Sono"]
    done = db.session.scalar(select(TaskStatus.id).order_by(TaskStatus.position.desc()))
    assert titles(admin.get(base + f"?status={done}").get_data(as_text=True)) == []
    assert admin.get(base + "?status=999999").status_code == 404
    assert admin.get(base + "?due_before=demain").status_code == 400


def test_late_tasks_are_marked_and_stop_being_late_when_done(team, db):
    space, clients, list_id = team
    admin, _ = clients["admin"]
    late, _soon, _later = make_tasks(admin, space, list_id, [clients["member"][1].id])
    assert "En retard" in admin.get(f"/s/{space.slug}/tasks/{late}").get_data(as_text=True)
    done = db.session.scalar(select(TaskStatus.id).order_by(TaskStatus.position.desc()))
    assert post(admin, f"/s/{space.slug}/tasks/{late}/move", {"status": str(done), "back": "task"}).status_code == 302
    page = admin.get(f"/s/{space.slug}/tasks/{late}").get_data(as_text=True)
    assert "En retard" not in page and db.session.get(Task, late).progress == 100


def test_board_moves_a_task_with_a_plain_form(team, db):
    space, clients, list_id = team
    admin, _ = clients["admin"]
    _late, soon, _later = make_tasks(admin, space, list_id, [clients["member"][1].id])
    board = admin.get(f"/s/{space.slug}/tasks/board").get_data(as_text=True)
    assert board.count('class="board-column"') == 3 and 'draggable="true"' in board
    in_progress = db.session.scalar(select(TaskStatus.id).where(TaskStatus.position == 1))
    response = post(admin, f"/s/{space.slug}/tasks/{soon}/move", {"status": str(in_progress)})
    assert response.status_code == 302 and response.location.endswith(f"#task-{soon}")
    assert db.session.get(Task, soon).status_id == in_progress
    refused = post(admin, f"/s/{space.slug}/tasks/{soon}/move", {"status": "999999"})
    assert refused.status_code == 400 and "Ce statut n&#39;existe pas dans cet espace." in refused.get_data(
        as_text=True
    )
    db.session.expire_all()
    assert db.session.get(Task, soon).status_id == in_progress


def test_timeline_shows_bars_today_and_late_tasks(team, db):
    space, clients, list_id = team
    admin, _ = clients["admin"]
    make_tasks(admin, space, list_id, [clients["member"][1].id])
    page = admin.get(f"/s/{space.slug}/tasks/timeline?from=2027-03-01").get_data(as_text=True)
    assert "Affiches" in page and "Sono" in page and "Buvette" not in page  # no due date, no bar
    assert page.count('class="is-late"') == 1
    # 42 days from 1 March: today (17 March) is day 16 → x = 16 * 100 / 42
    assert '<rect x="38.10" y="0" width="0.4"' in page
    # "Sono" runs 10–20 March: starts at day 9, 11 days long
    assert '<rect x="21.43" y="1" width="26.19"' in page


def test_checklist_and_comments(team, db):
    space, clients, list_id = team
    admin, _ = clients["admin"]
    member_client, member_user = clients["member"]
    task = task_id_of(new_task(admin, space, list_id, assignees=[str(member_user.id)]))
    assert (
        post(member_client, f"/s/{space.slug}/tasks/{task}/checklist", {"text": "Appeler la mairie"}).status_code == 302
    )
    item = db.session.scalar(select(ChecklistItem))
    post(member_client, f"/s/{space.slug}/tasks/{task}/checklist/{item.id}/toggle")
    assert db.session.get(ChecklistItem, item.id).is_done
    before = count(db, Notification)
    assert post(admin, f"/s/{space.slug}/tasks/{task}/comments", {"body": "Merci !"}).status_code == 302
    assert count(db, Notification) == before + 1  # the assignee hears of it
    assert post(clients["reader"][0], f"/s/{space.slug}/tasks/{task}/comments", {"body": "x"}).status_code == 403


def test_my_tasks_across_spaces_and_on_the_home(app, team, make_space, make_member, db):
    space, clients, list_id = team
    admin, _ = clients["admin"]
    member_client, member_user = clients["member"]
    make_tasks(admin, space, list_id, [member_user.id])
    page = member_client.get("/tasks/").get_data(as_text=True)
    assert "Sono" in page and space.name in page and "Affiches" not in page
    home = member_client.get(f"/s/{space.slug}/").get_data(as_text=True)
    assert "Mes tâches ici" in home and "Sono" in home


def test_due_dates_in_my_feed_when_i_ask_for_it(app, team, db):
    space, clients, list_id = team
    admin, _ = clients["admin"]
    member_client, member_user = clients["member"]
    make_tasks(admin, space, list_id, [member_user.id])
    post(member_client, "/agenda/subscribe")
    address = re.search(
        r"http://localhost(/ical/[\w-]+\.ics)", member_client.get("/agenda/").get_data(as_text=True)
    ).group(1)
    phone = app.test_client()
    assert b"Sono" not in phone.get(address).data
    db.session.get(User, member_user.id).tasks_in_feed = True
    db.session.commit()
    calendar = icalendar.Calendar.from_ical(phone.get(address).data)
    events = [e for e in calendar.walk("VEVENT") if str(e["UID"]).startswith("task-")]
    assert [(str(e["SUMMARY"]), e["DTSTART"].dt) for e in events] == [("Sono", date(2027, 3, 20))]


def test_list_and_board_query_counts_do_not_grow(app, team, db):
    space, clients, list_id = team
    admin, _ = clients["admin"]
    member_user = clients["member"][1]

    def queries():
        with count_queries(db.engine) as statements:
            assert admin.get(f"/s/{space.slug}/tasks/").status_code == 200
            assert admin.get(f"/s/{space.slug}/tasks/board").status_code == 200
        return len(statements)

    make_tasks(admin, space, list_id, [member_user.id])
    small = queries()
    for n in range(20):
        new_task(
            admin, space, list_id, title=f"Tâche {n}", assignees=[str(member_user.id), str(clients["reader"][1].id)]
        )
    assert queries() == small


def test_admins_rename_add_and_remove_statuses(team, db):
    space, clients, list_id = team
    admin, _ = clients["admin"]
    base = f"/s/{space.slug}/tasks/statuses"
    assert post(admin, base + "/", {"name": "En attente"}).status_code == 302
    names = db.session.scalars(select(TaskStatus.name).order_by(TaskStatus.position)).all()
    assert names == ["À faire", "En cours", "En attente", "Fait"]  # the last stays "done"
    first, waiting, done = (
        db.session.scalar(select(TaskStatus.id).where(TaskStatus.name == n)) for n in ("À faire", "En attente", "Fait")
    )
    assert post(admin, f"{base}/{done}/rename", {"name": "Terminé"}).status_code == 302
    assert post(admin, f"{base}/{done}/rename", {"name": "à faire"}).status_code == 409
    task = task_id_of(new_task(admin, space, list_id))
    post(admin, f"/s/{space.slug}/tasks/{task}/move", {"status": str(waiting)})
    assert post(admin, f"{base}/{waiting}/delete").status_code == 409  # still used
    assert post(admin, f"{base}/{first}/delete").status_code == 409  # the first stays
    post(admin, f"/s/{space.slug}/tasks/{task}/move", {"status": str(first)})
    assert post(admin, f"{base}/{waiting}/delete").status_code == 302
    assert db.session.scalars(select(TaskStatus.name).order_by(TaskStatus.position)).all() == [
        "À faire",
        "En cours",
        "Terminé",
    ]
    assert post(clients["member"][0], f"{base}/{done}/rename", {"name": "x"}).status_code == 403


def test_deleting_a_space_takes_its_tasks_lists_and_statuses(app, team, db):
    from agora.spaces.models import Space
    from agora.spaces.services import delete_space

    space, clients, list_id = team
    admin, _ = clients["admin"]
    task = task_id_of(new_task(admin, space, list_id, assignees=[str(clients["member"][1].id)]))
    post(admin, f"/s/{space.slug}/tasks/{task}/checklist", {"text": "Un élément"})
    post(admin, f"/s/{space.slug}/tasks/{task}/comments", {"body": "Un commentaire"})
    with app.test_request_context():
        delete_space(db.session.get(Space, space.id), space.slug, actor=None)
        db.session.commit()
    for model in (Task, TaskList, TaskStatus, ChecklistItem, TaskComment):
        assert count(db, model) == 0


def test_a_members_profile_lists_their_tasks_here(team, db):
    space, clients, list_id = team
    admin, _ = clients["admin"]
    member_user = clients["member"][1]
    new_task(admin, space, list_id, title="Tenir le stand", assignees=[str(member_user.id)])
    page = clients["reader"][0].get(f"/s/{space.slug}/members/{member_user.id}").get_data(as_text=True)
    assert "Ses tâches dans cet espace" in page and "Tenir le stand" in page


def test_a_full_board_column_shows_its_first_tasks_and_links_to_the_rest(team, db, monkeypatch):
    from agora.tasks import views

    monkeypatch.setattr(views, "BOARD_COLUMN", 2)
    space, clients, list_id = team
    admin, _ = clients["admin"]
    for n, due in enumerate(("2026-12-03", "2026-12-01", "2026-12-02", "")):
        assert new_task(admin, space, list_id, title=f"Tâche {n}", start_on="", due_on=due).status_code == 302
    page = admin.get(f"/s/{space.slug}/tasks/board").get_data(as_text=True)
    shown = re.findall(r">Tâche (\d)</a>", page)
    assert shown == ["1", "2"]  # soonest due first, two per column
    todo = db.session.scalar(select(TaskStatus.id).order_by(TaskStatus.position))
    assert "(4)" in page and f"status={todo}" in page and "Voir les 2 autres tâches « À faire »" in page


@pytest.mark.parametrize("role", ["member", "admin"])
def test_a_space_without_a_list_still_offers_new_task_and_opens_its_first_list(member_client, db, role):
    client, space, user = member_client(role)
    page = client.get(f"/s/{space.slug}/tasks/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "la tâche ouvrira la liste « Tâches »" in html and 'name="task_list"' not in html
    response = post(
        client, f"/s/{space.slug}/tasks/new", {"title": "Sortir les bacs", "priority": "normal", "progress": "0"}
    )
    assert response.status_code == 302
    task = db.session.scalar(select(Task).where(Task.space_id == space.id))
    assert task.title == "Sortir les bacs"
    assert [(tl.id, tl.name) for tl in db.session.scalars(select(TaskList).where(TaskList.space_id == space.id))] == [
        (task.list_id, "Tâches")
    ]
    # A refused task opens no list either: the request changed nothing.
    assert post(client, f"/s/{space.slug}/tasks/new", {"title": ""}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(TaskList).where(TaskList.space_id == space.id)) == 1
