"""Polls: kinds, settings, ballots, anonymity, concurrency, roles, results, date poll to event."""

from __future__ import annotations

import os
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, inspect, select, text

from agora.core.time import utcnow
from agora.extensions import db as _db
from agora.polls import services
from agora.polls.models import Participation, Poll, PollOption, Vote
from tests.conftest import login, post


def choice_form(question="Quel nom pour le jardin ?", options=("Les Tilleuls", "Le Potager", "La Main verte"), **extra):
    data = {"question": question, "kind": "single", "description": "", "results_live": "y", "allow_change": "y"}
    for n, label in enumerate(options):
        data[f"options-{n}-text"] = label
    data.update(extra)
    return data


def new_poll(client, slug, **kwargs):
    response = post(client, f"/s/{slug}/polls/new", choice_form(**kwargs))
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    return int(re.search(r"/polls/(\d+)", response.location).group(1))


def option_ids(db, poll_id) -> list[int]:
    return list(
        db.session.scalars(select(PollOption.id).where(PollOption.poll_id == poll_id).order_by(PollOption.position))
    )


def vote(client, slug, poll_id, choices=(), **answers):
    data = {"choice": [str(c) for c in choices]}
    data.update({f"answer-{k.removeprefix('o')}": v for k, v in answers.items()})
    return post(client, f"/s/{slug}/polls/{poll_id}/vote", data)


@pytest.fixture
def council(app, member_client):
    """A council space with an admin, a member and a reader, each logged in."""
    admin, space, _a = member_client("admin")
    member, _s, member_user = member_client("member", space=space)
    reader, _s, reader_user = member_client("reader", space=space)
    return space, {"admin": admin, "member": member, "reader": reader}, {"member": member_user, "reader": reader_user}


def test_single_choice_poll_records_a_ballot_and_says_what_was_recorded(app, db, council):
    space, clients, users = council
    poll_id = new_poll(clients["member"], space.slug)
    first, second, _third = option_ids(db, poll_id)
    response = vote(clients["member"], space.slug, poll_id, [second])
    assert response.status_code == 302
    page = clients["member"].get(response.location).get_data(as_text=True)
    assert "Votre vote est enregistré : « Le Potager »." in page and "Vous avez voté." in page
    assert "1 personne a voté." in page
    assert db.session.scalar(select(Vote.option_id).where(Vote.user_id == users["member"].id)) == second
    assert vote(clients["admin"], space.slug, poll_id, [first, second]).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Participation)) == 1


def test_named_ballot_can_be_changed_until_closing_when_allowed(app, db, council):
    space, clients, users = council
    poll_id = new_poll(clients["member"], space.slug)
    first, second, _third = option_ids(db, poll_id)
    vote(clients["member"], space.slug, poll_id, [first])
    assert vote(clients["member"], space.slug, poll_id, [second]).status_code == 302
    assert list(db.session.scalars(select(Vote.option_id))) == [second]
    locked = new_poll(clients["member"], space.slug, question="Sans changement", allow_change="")
    ids = option_ids(db, locked)
    vote(clients["member"], space.slug, locked, [ids[0]])
    refused = vote(clients["member"], space.slug, locked, [ids[1]])
    assert refused.status_code == 409 and "ne permet pas de le changer" in refused.get_data(as_text=True)
    assert list(db.session.scalars(select(Vote.option_id).where(Vote.poll_id == locked))) == [ids[0]]


def test_multiple_choice_respects_its_maximum(app, db, council):
    space, clients, _users = council
    poll_id = new_poll(
        clients["member"], space.slug, kind="multiple", max_choices="2", options=("Lundi", "Mardi", "Jeudi", "Samedi")
    )
    ids = option_ids(db, poll_id)
    too_many = vote(clients["member"], space.slug, poll_id, ids[:3])
    assert too_many.status_code == 400 and "Pas plus de 2 choix" in too_many.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Participation)) == 0
    assert vote(clients["member"], space.slug, poll_id, ids[:2]).status_code == 302
    results, voters = _results(app, poll_id)
    assert voters == 1 and [r.yes for r in results] == [1, 1, 0, 0] and [r.percent for r in results] == [100, 100, 0, 0]


def _results(app, poll_id):
    with app.app_context():
        poll = _db.session.get(Poll, poll_id)
        results, voters = services.results(poll)
        return [
            (
                type(
                    "R",
                    (),
                    {
                        "yes": r.yes,
                        "maybe": r.maybe,
                        "no": r.no,
                        "percent": r.percent,
                        "is_winner": r.is_winner,
                        "voters": [(u.display_name if u else None, a) for u, a in r.voters],
                    },
                )()
            )
            for r in results
        ], voters


def test_anonymous_poll_keeps_no_link_between_a_person_and_a_choice(app, db, council):
    space, clients, users = council
    poll_id = new_poll(clients["admin"], space.slug, question="Budget participatif", is_anonymous="y", readers_vote="y")
    ids = option_ids(db, poll_id)
    vote(clients["member"], space.slug, poll_id, [ids[2]])
    vote(clients["reader"], space.slug, poll_id, [ids[0]])
    # Inspect every table and column: the choices exist only as counters; the people only as "has voted".
    assert db.session.scalar(select(func.count()).select_from(Vote)) == 0
    counts = db.session.execute(select(PollOption.id, PollOption.yes_count).where(PollOption.poll_id == poll_id)).all()
    assert sorted(counts) == sorted([(ids[0], 1), (ids[1], 0), (ids[2], 1)])
    participants = (
        db.session.execute(select(Participation.user_id).where(Participation.poll_id == poll_id)).scalars().all()
    )
    assert sorted(participants) == sorted([users["member"].id, users["reader"].id])
    with app.app_context():
        columns = {c["name"] for c in inspect(_db.engine).get_columns("poll_participations")}
    assert columns == {"id", "space_id", "poll_id", "user_id"}  # nothing that says what was chosen, nor when
    for table in ("poll_votes", "activities"):
        rows = db.session.execute(text(f"SELECT * FROM {table}")).all()
        assert all(str(ids[0]) not in map(str, row[1:]) or table == "activities" for row in rows)
    page = clients["member"].get(f"/s/{space.slug}/polls/{poll_id}").get_data(as_text=True)
    assert "Qui ?" not in page and "2 personnes ont voté." in page
    refused = vote(clients["member"], space.slug, poll_id, [ids[1]])
    assert refused.status_code == 409
    csv_text = clients["admin"].get(f"/s/{space.slug}/polls/{poll_id}/results.csv").get_data(as_text=True)
    assert "Votants" not in csv_text and "Participation;2" in csv_text.replace("\r", "")


def test_named_poll_lists_voters_and_exports_them(app, db, council):
    space, clients, users = council
    poll_id = new_poll(clients["admin"], space.slug, options=("=HYPERLINK(1)", "Oui"))
    ids = option_ids(db, poll_id)
    vote(clients["member"], space.slug, poll_id, [ids[1]])
    page = clients["admin"].get(f"/s/{space.slug}/polls/{poll_id}").get_data(as_text=True)
    assert "Qui ?" in page and users["member"].display_name in page
    csv_text = clients["admin"].get(f"/s/{space.slug}/polls/{poll_id}/results.csv").get_data(as_text=True)
    assert users["member"].display_name in csv_text and "'=HYPERLINK(1)" in csv_text


def test_who_may_vote_and_who_may_manage(app, db, council):
    space, clients, _users = council
    members_only = new_poll(clients["member"], space.slug)
    ids = option_ids(db, members_only)
    refused = vote(clients["reader"], space.slug, members_only, [ids[0]])
    assert refused.status_code == 403
    assert post(clients["reader"], f"/s/{space.slug}/polls/new", choice_form()).status_code == 403
    page = clients["reader"].get(f"/s/{space.slug}/polls/{members_only}").get_data(as_text=True)
    assert "réservé aux membres" in page and 'action="/s/' + space.slug + f'/polls/{members_only}/vote"' not in page
    everyone = new_poll(clients["member"], space.slug, question="Pour tous", readers_vote="y")
    assert vote(clients["reader"], space.slug, everyone, [option_ids(db, everyone)[0]]).status_code == 302
    assert post(clients["reader"], f"/s/{space.slug}/polls/{everyone}/close").status_code == 403
    assert post(clients["admin"], f"/s/{space.slug}/polls/{everyone}/close").status_code == 302
    assert db.session.get(Poll, everyone).closed_at is not None


def test_closed_poll_takes_no_ballot_and_keeps_its_results(app, db, council, monkeypatch):
    space, clients, _users = council
    closes = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%d")
    poll_id = new_poll(clients["member"], space.slug, closes_on=closes, closes_time="20:00", results_live="")
    ids = option_ids(db, poll_id)
    vote(clients["member"], space.slug, poll_id, [ids[0]])
    page = clients["admin"].get(f"/s/{space.slug}/polls/{poll_id}").get_data(as_text=True)
    assert "visibles à la clôture" in page and "Qui ?" not in page
    assert clients["admin"].get(f"/s/{space.slug}/polls/{poll_id}/results.csv").status_code == 403
    later = utcnow() + timedelta(days=3)
    for module in ("models", "services", "views"):
        monkeypatch.setattr(f"agora.polls.{module}.utcnow", lambda: later)
    after = vote(clients["admin"], space.slug, poll_id, [ids[1]])
    assert after.status_code == 409 and "pas ouvert" in after.get_data(as_text=True)
    page = clients["admin"].get(f"/s/{space.slug}/polls/{poll_id}").get_data(as_text=True)
    assert "1 personne a voté." in page and "en tête" in page
    assert db.session.scalar(select(func.count()).select_from(Participation)) == 1


def test_bad_polls_are_refused_and_nothing_is_written(app, db, council):
    space, clients, _users = council
    base = f"/s/{space.slug}/polls/new"
    one = post(clients["member"], base, choice_form(options=("Seul",)))
    assert one.status_code == 400 and "au moins deux choix" in one.get_data(as_text=True)
    twice = post(clients["member"], base, choice_form(options=("Oui", "oui ")))
    assert twice.status_code == 409 and "identiques" in twice.get_data(as_text=True)
    backwards = post(clients["member"], base, choice_form(opens_on="2031-05-10", closes_on="2031-05-01"))
    assert backwards.status_code == 400 and "La clôture doit venir après" in backwards.get_data(as_text=True)
    too_many = post(clients["member"], base, choice_form(kind="multiple", max_choices="5"))
    assert too_many.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Poll)) == 0


def test_a_ballot_naming_an_option_of_another_poll_is_refused(app, db, council):
    space, clients, _users = council
    first = new_poll(clients["member"], space.slug)
    second = new_poll(clients["member"], space.slug, question="Autre")
    foreign = option_ids(db, second)[0]
    assert vote(clients["member"], space.slug, first, [foreign]).status_code == 400
    assert vote(clients["member"], space.slug, first, ["abc"]).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Participation)) == 0


def test_options_cannot_change_after_the_first_vote_but_the_question_can(app, db, council):
    space, clients, _users = council
    poll_id = new_poll(clients["member"], space.slug)
    ids = option_ids(db, poll_id)
    url = f"/s/{space.slug}/polls/{poll_id}/edit"
    assert post(clients["member"], url, choice_form(options=("A", "B"))).status_code == 302
    ids = option_ids(db, poll_id)
    vote(clients["admin"], space.slug, poll_id, [ids[0]])
    refused = post(clients["member"], url, choice_form(options=("A", "B", "C")))
    assert refused.status_code == 409 and "ont déjà voté" in refused.get_data(as_text=True)
    assert (
        post(clients["member"], url, choice_form(question="Nouvelle question ?", options=("A", "B"))).status_code == 302
    )
    db.session.expire_all()
    assert db.session.get(Poll, poll_id).question == "Nouvelle question ?" and option_ids(db, poll_id) == ids
    assert post(clients["member"], f"/s/{space.slug}/polls/{poll_id}/delete").status_code == 409


def test_a_poll_without_votes_can_be_deleted_by_its_author(app, db, council):
    space, clients, _users = council
    poll_id = new_poll(clients["member"], space.slug)
    assert post(clients["reader"], f"/s/{space.slug}/polls/{poll_id}/delete").status_code == 403
    assert post(clients["member"], f"/s/{space.slug}/polls/{poll_id}/delete").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Poll)) == 0


def test_two_ballots_of_one_person_at_the_same_moment_count_once(app, db, council, make_user, make_member):
    space, clients, _users = council
    poll_id = new_poll(clients["admin"], space.slug, allow_change="")
    ids = option_ids(db, poll_id)
    voter = make_user("double.vote")
    make_member(space, voter, "member")
    browsers = []
    for _ in range(2):
        client = app.test_client()
        login(client, voter.username)
        browsers.append(client)
    barrier = threading.Barrier(2)
    statuses = []

    def cast(client, option):
        barrier.wait()
        statuses.append(vote(client, space.slug, poll_id, [option]).status_code)

    threads = [threading.Thread(target=cast, args=(browsers[n], ids[n])) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302, 409]
    assert db.session.scalar(select(func.count()).select_from(Participation)) == 1
    assert db.session.scalar(select(func.count()).select_from(Vote)) == 1


def test_date_poll_answers_yes_maybe_no_and_the_winner_becomes_an_event(app, db, council):
    space, clients, users = council
    response = post(
        clients["admin"],
        f"/s/{space.slug}/polls/new-date",
        {
            "question": "Quelle soirée pour la plénière ?",
            "slot_minutes": "90",
            "results_live": "y",
            "allow_change": "y",
            "readers_vote": "y",
            "slots-0-day": "2031-03-03",
            "slots-0-time": "18:00",
            "slots-1-day": "2031-03-05",
            "slots-1-time": "18:30",
        },
    )
    assert response.status_code == 302
    poll_id = int(re.search(r"/polls/(\d+)", response.location).group(1))
    tuesday, thursday = option_ids(db, poll_id)
    assert (
        vote(clients["member"], space.slug, poll_id, **{f"o{tuesday}": "no", f"o{thursday}": "yes"}).status_code == 302
    )
    assert (
        vote(clients["reader"], space.slug, poll_id, **{f"o{tuesday}": "maybe", f"o{thursday}": "yes"}).status_code
        == 302
    )
    assert vote(clients["reader"], space.slug, poll_id, **{f"o{tuesday}": "perhaps"}).status_code == 400
    results, voters = _results(app, poll_id)
    assert voters == 2 and [(r.yes, r.maybe, r.no) for r in results] == [(0, 1, 1), (2, 0, 0)]
    assert [r.is_winner for r in results] == [False, True]
    page = clients["admin"].get(f"/s/{space.slug}/polls/{poll_id}").get_data(as_text=True)
    assert "Retenir cette date" in page
    made = post(clients["admin"], f"/s/{space.slug}/polls/{poll_id}/options/{thursday}/event")
    assert made.status_code == 302 and "/agenda/" in made.location
    from agora.agenda.models import Event

    event = db.session.scalar(select(Event))
    assert event.title == "Quelle soirée pour la plénière ?"
    assert event.starts_at == event.starts_at.replace(year=2031, month=3, day=5) and (
        event.ends_at - event.starts_at
    ) == timedelta(minutes=90)
    poll = db.session.get(Poll, poll_id)
    assert poll.event_id == event.id and poll.closed_at is not None
    assert post(clients["admin"], f"/s/{space.slug}/polls/{poll_id}/options/{tuesday}/event").status_code == 409


def test_open_polls_show_on_the_space_home_and_in_the_feed(app, db, council):
    space, clients, _users = council
    new_poll(clients["member"], space.slug, question="Horaires du city-stade ?")
    home = clients["reader"].get(f"/s/{space.slug}/").get_data(as_text=True)
    assert "Sondages ouverts" in home and "Nouveau sondage :" in home and "Horaires du city-stade ?" in home


def test_a_poll_opening_later_takes_no_ballot_before_its_time(app, db, council):
    space, clients, _users = council
    later = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%d")
    poll_id = new_poll(clients["member"], space.slug, opens_on=later, opens_time="09:00")
    page = clients["admin"].get(f"/s/{space.slug}/polls/{poll_id}").get_data(as_text=True)
    assert "Le vote ouvrira le" in page and "form.ballot" not in page and 'class="ballot' not in page
    assert "Horaires" not in clients["admin"].get(f"/s/{space.slug}/").get_data(as_text=True)
    refused = vote(clients["admin"], space.slug, poll_id, [option_ids(db, poll_id)[0]])
    assert refused.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Participation)) == 0


def test_an_option_can_carry_an_image_kept_in_the_documents(app, db, council):
    from agora.documents.models import Attachment, Document
    from tests.test_documents import jpeg, post_multipart

    space, clients, _users = council
    data = choice_form(options=("Banc en bois", "Banc en pierre"))
    response = post_multipart(
        clients["member"], f"/s/{space.slug}/polls/new", data, [("options-0-image", "bois.jpg", jpeg(40, 30))]
    )
    assert response.status_code == 302
    first = option_ids(db, int(re.search(r"/polls/(\d+)", response.location).group(1)))[0]
    image = db.session.scalar(
        select(Document)
        .join(Attachment, Attachment.document_id == Document.id)
        .where(Attachment.kind == "polls.option", Attachment.target_id == first)
    )
    assert image.name == "bois.jpg"
    page = clients["reader"].get(response.location).get_data(as_text=True)
    assert f"/documents/{image.id}/thumbnail" in page


def test_the_error_summary_names_the_choices_in_french(app, db, council):
    space, clients, _users = council
    page = post(clients["member"], f"/s/{space.slug}/polls/new", choice_form(options=("Seul",))).get_data(as_text=True)
    assert "Choix : Proposez au moins deux choix." in page and "Options :" not in page


def test_a_deleted_polls_option_images_never_show_on_a_new_poll(app, db, council):
    """The links of a deleted poll's option images go with it: a new option (whatever its id) shows no
    image it was not given."""
    from agora.documents.models import Attachment
    from tests.test_documents import jpeg, post_multipart

    space, clients, _users = council
    response = post_multipart(
        clients["member"],
        f"/s/{space.slug}/polls/new",
        choice_form(options=("Banc", "Chaise")),
        [("options-0-image", "banc.jpg", jpeg(40, 30)), ("options-1-image", "chaise.jpg", jpeg(40, 30))],
    )
    gone = int(re.search(r"/polls/(\d+)", response.location).group(1))
    gone_options = option_ids(db, gone)
    assert post(clients["member"], f"/s/{space.slug}/polls/{gone}/delete", {}).status_code == 302
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Attachment)
            .where(Attachment.kind == "polls.option", Attachment.target_id.in_(gone_options))
        )
        == 0
    )
    fresh = new_poll(clients["member"], space.slug, options=("Table", "Tabouret"))
    page = clients["member"].get(f"/s/{space.slug}/polls/{fresh}").get_data(as_text=True)
    assert "Table" in page and "/thumbnail" not in page


def test_an_anonymous_ballot_leaves_no_trace_pairing_the_voter_with_the_choice(app, db, council, member_client):
    """Neither the SQLite files nor PostgreSQL's system columns pair a "has voted" row with a choice.

    SQLite: after each ballot the write-ahead log holds no frame (each commit's pages there would
    show which counter moved with which "has voted" row) and deleted content is zeroed.
    PostgreSQL: a row's xmin is the transaction that wrote it; every option of the poll is
    rewritten by each ballot, so the counters' xmin names no choice.
    """
    space, clients, _users = council
    poll_id = new_poll(
        clients["admin"],
        space.slug,
        question="Budget participatif",
        is_anonymous="y",
        options=("Jardin", "Bancs", "Fresque", "Boîte à livres"),
    )
    ids = option_ids(db, poll_id)
    voters = [clients["member"], clients["admin"]] + [member_client("member", space=space)[0] for _ in range(2)]
    dialect = db.engine.dialect.name
    wal = db.engine.url.database + "-wal" if dialect == "sqlite" else None
    for voter, choice in zip(voters, [ids[2], ids[0], ids[3], ids[2]], strict=True):
        db.session.remove()
        assert vote(voter, space.slug, poll_id, [choice]).status_code == 302
        if dialect == "sqlite":
            assert not os.path.exists(wal) or os.path.getsize(wal) == 0
            assert db.session.execute(text("PRAGMA secure_delete")).scalar() == 1
        else:
            stamps = set(
                db.session.scalars(text("SELECT xmin::text FROM poll_options WHERE poll_id = :p"), {"p": poll_id})
            )
            voted = set(
                db.session.scalars(
                    text("SELECT xmin::text FROM poll_participations WHERE poll_id = :p"), {"p": poll_id}
                )
            )
            assert len(stamps) == 1 and not stamps & voted
    counts = dict(
        db.session.execute(select(PollOption.id, PollOption.yes_count).where(PollOption.poll_id == poll_id)).all()
    )
    assert counts == {ids[0]: 1, ids[1]: 0, ids[2]: 2, ids[3]: 1}
    page = clients["member"].get(f"/s/{space.slug}/polls/{poll_id}").get_data(as_text=True)
    assert "4 personnes ont voté." in page and "2 voix" in page


def test_an_anonymous_poll_with_live_results_says_what_watching_them_reveals(app, db, council):
    space, clients, _users = council
    live = new_poll(clients["admin"], space.slug, question="En direct", is_anonymous="y")
    later = new_poll(clients["admin"], space.slug, question="À la clôture", is_anonymous="y", results_live="")
    warning = "Les résultats changent à chaque vote : qui les regarde juste avant et juste après un vote peut deviner ce choix-là."
    assert warning in clients["member"].get(f"/s/{space.slug}/polls/{live}").get_data(as_text=True)
    page = clients["member"].get(f"/s/{space.slug}/polls/{later}").get_data(as_text=True)
    assert warning not in page and "Les résultats seront visibles à la clôture du sondage." in page


def test_anonymous_ballots_at_the_same_moment_all_count_and_leave_an_empty_log(app, db, council, member_client):
    space, clients, _users = council
    poll_id = new_poll(clients["admin"], space.slug, is_anonymous="y")
    ids = option_ids(db, poll_id)
    voters = [member_client("member", space=space)[0] for _ in range(4)]
    barrier = threading.Barrier(len(voters))
    statuses = []

    def cast(client, option):
        barrier.wait()
        statuses.append(vote(client, space.slug, poll_id, [option]).status_code)

    threads = [threading.Thread(target=cast, args=(client, ids[n % 2])) for n, client in enumerate(voters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302] * 4
    counts = db.session.execute(
        select(PollOption.yes_count).where(PollOption.poll_id == poll_id).order_by(PollOption.position)
    )
    assert counts.scalars().all() == [2, 2, 0]
    if db.engine.dialect.name == "sqlite":
        wal = db.engine.url.database + "-wal"
        assert not os.path.exists(wal) or os.path.getsize(wal) == 0
