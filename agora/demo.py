"""Demo content: a neighbourhood's council, its GUP group and its partners, in French.

Each feature adds its own content here, so a newcomer sees a living server.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import delete, func, select, update

from agora.auth import services as auth_services
from agora.auth.models import User
from agora.core.mail import OutboxMessage
from agora.core.time import utcnow
from agora.extensions import db
from agora.agenda import services as agenda
from agora.forum import services as forum
from agora.forum.models import Post
from agora.members import services as members
from agora.notifications.models import Notification
from agora.spaces import services
from agora.spaces.tenancy import membership_in

#: Who works where, and as what: (organisation, function) per username.
WORKPLACES = {
    "nadia.benali": ("Centre social des Tilleuls", "Animatrice du conseil citoyen"),
    "marc.durand": ("Régie de quartier", "Encadrant technique"),
    "sophie.martin": ("Ville – Politique de la ville", "Cheffe de projet"),
    "ahmed.saidi": ("Habitat Tilleuls (bailleur)", "Gardien, bâtiment C"),
    "lucie.moreau": ("EPN des Tilleuls", "Médiatrice numérique"),
    "karim.haddad": ("Habitants", "Membre du conseil citoyen"),
    "fatou.diallo": ("Habitants", "Membre du conseil citoyen"),
    "bernard.roux": ("Habitants", "Président de l'amicale des locataires"),
}
#: Phone, presentation and privacy for a few people, so the directory shows both choices.
DETAILS = {
    "nadia.benali": ("04 78 00 12 34", "Je coordonne le conseil citoyen. Permanence le mardi matin au centre social.",
                     {"phone": "members", "email": "members"}),
    "marc.durand": ("06 11 22 33 44", "Chantiers d'insertion, espaces verts et propreté.", {}),
    "lucie.moreau": ("04 78 00 56 78", "Ateliers numériques et aide aux démarches en ligne.", {"phone": "members"}),
    "bernard.roux": ("", "Locataire depuis 1987, je connais tout le monde !", {"presentation": "members"}),
}

#: (username, display name, e-mail or None). Habitants often have no e-mail.
PEOPLE = [
    ("nadia.benali", "Nadia Benali", "n.benali@centre-social-tilleuls.example"),
    ("marc.durand", "Marc Durand", "m.durand@regie-tilleuls.example"),
    ("sophie.martin", "Sophie Martin", "sophie.martin@ville-exemple.example"),
    ("karim.haddad", "Karim Haddad", None),
    ("fatou.diallo", "Fatou Diallo", None),
    ("jeanne.petit", "Jeanne Petit", None),
    ("ahmed.saidi", "Ahmed Saïdi", "ahmed.saidi@bailleur-habitat.example"),
    ("lucie.moreau", "Lucie Moreau", "l.moreau@epn-tilleuls.example"),
    ("bernard.roux", "Bernard Roux", None),
    ("aicha.traore", "Aïcha Traoré", None),
]

SPACES = [
    {
        "slug": "conseil-tilleuls",
        "name": "Conseil citoyen des Tilleuls",
        "description": "Les habitantes et habitants du quartier qui participent au contrat de ville.",
        "colour": "#0b5cad",
        "members": {"nadia.benali": "admin", "karim.haddad": "member", "fatou.diallo": "member",
                    "jeanne.petit": "reader", "bernard.roux": "member", "aicha.traore": "reader"},
        "news": [
            ("Prochaine plénière le mardi 8 décembre à 18 h", "Salle polyvalente du centre social, 12 rue des Tilleuls.\n\n"
             "À l'ordre du jour : le bilan de la fête de quartier et le projet de jardin partagé. Garde d'enfants possible sur place.", True),
            ("Compte rendu de la marche exploratoire", "Merci aux douze habitantes qui ont participé. Les points relevés "
             "(éclairage du passage Jean-Moulin, bancs cassés square Colette) sont transmis à la GUP.", False),
        ],
        "themes": [("Cadre de vie", "#1e6b33"), ("Jeunesse", "#b35c00"), ("Fête de quartier", "#7a3e9d")],
        "topics": [
            ("Cadre de vie", "karim.haddad", "Un jardin partagé derrière le bâtiment C ?",
             "Bonjour à tous,\n\nLe terrain vague derrière le **bâtiment C** pourrait devenir un jardin partagé. "
             "Le bailleur serait d'accord si nous présentons un projet.\n\nQui serait partant pour s'en occuper ?",
             [("fatou.diallo", "Moi ! J'ai déjà des semis de tomates sur mon balcon."),
              ("bernard.roux", "Bonne idée. Il faudra un point d'eau : on peut demander à la régie."),
              ("nadia.benali", "Je mets le sujet à l'ordre du jour de la plénière du 8 décembre. @karim.haddad, "
                               "pouvez-vous préparer un petit plan ?")]),
            ("Jeunesse", "fatou.diallo", "Horaires du city-stade",
             "Les jeunes demandent que le city-stade reste ouvert jusqu'à 21 h l'été. Qu'en pensez-vous ?",
             [("bernard.roux", "D'accord, si l'éclairage est réparé avant.")]),
            ("Fête de quartier", "nadia.benali", "Fête de quartier : le bilan",
             "Merci à toutes et tous ! Environ **400 personnes** sont passées. Vos idées pour l'an prochain ?",
             []),
        ],
    },
    {
        "slug": "gup-tilleuls",
        "name": "GUP des Tilleuls",
        "description": "Gestion urbaine de proximité : bailleurs, ville, régie de quartier et habitants.",
        "colour": "#1e6b33",
        "members": {"sophie.martin": "admin", "marc.durand": "member", "ahmed.saidi": "member",
                    "nadia.benali": "member", "karim.haddad": "reader"},
        "news": [
            ("Diagnostic en marchant : jeudi 14 h", "Départ devant la loge du gardien, bâtiment C. "
             "Prévoir des chaussures confortables.", True),
            ("Encombrants : nouveau calendrier", "La régie de quartier passe désormais le premier lundi du mois.", False),
        ],
        "themes": [("Propreté", "#1e6b33"), ("Éclairage et voirie", "#b35c00")],
        "topics": [
            ("Éclairage et voirie", "ahmed.saidi", "Passage Jean-Moulin : éclairage en panne",
             "Trois lampadaires ne fonctionnent plus depuis deux semaines. Signalé au service voirie le 4 novembre.",
             [("sophie.martin", "Intervention prévue la semaine prochaine, je confirme dès que j'ai la date."),
              ("marc.durand", "La régie peut baliser le passage en attendant.")]),
        ],
    },
    {
        "slug": "partenaires-tilleuls",
        "name": "Partenaires du quartier des Tilleuls",
        "description": "Centre social, régie de quartier, équipe de la ville, associations et EPN.",
        "colour": "#7a3e9d",
        "members": {"nadia.benali": "admin", "marc.durand": "member", "sophie.martin": "member",
                    "ahmed.saidi": "member", "lucie.moreau": "member"},
        "news": [
            ("Fête de quartier : réunion de préparation", "Rendez-vous vendredi à 10 h à la régie. "
             "Chaque structure apporte la liste de ses animations.", False),
            ("Ateliers numériques à l'EPN", "Aide aux démarches en ligne tous les mercredis après-midi, sans rendez-vous.", False),
        ],
        "themes": [("Coordination", "#0b5cad")],
        "topics": [
            ("Coordination", "lucie.moreau", "Permanences d'accès aux droits : qui fait quoi ?",
             "Pour éviter les doublons, voici les permanences connues :\n\n- CAF : mardi matin au centre social\n"
             "- Écrivain public : jeudi à la régie\n- Aide numérique : mercredi à l'EPN\n\nManque-t-il quelque chose ?",
             [("marc.durand", "La mission locale tient aussi une permanence le vendredi."),
              ("nadia.benali", "Merci Lucie, je l'affiche à l'accueil.")]),
        ],
    },
]


def create_demo(admin_name: str = "admin") -> list[str]:
    """Create the demo spaces that do not exist yet; return their slugs. The caller commits.

    The account admin_name, when it exists, is made admin of each demo space so it can show them.
    """
    admin = auth_services.get_user_by_username(admin_name)
    people: dict[str, User] = {}
    for username, display_name, email in PEOPLE:
        person = auth_services.get_user_by_username(username)
        if person is None:
            person = auth_services.create_user(username, None, display_name=display_name, email=email)
            if username in DETAILS:
                phone, presentation, privacy = DETAILS[username]
                members.update_profile_details(person, phone=phone, presentation=presentation, privacy=privacy)
        people[username] = person

    created = []
    now = utcnow()
    mail_before = db.session.scalar(select(func.coalesce(func.max(OutboxMessage.id), 0)))
    notices_before = db.session.scalar(select(func.coalesce(func.max(Notification.id), 0)))
    for spec in SPACES:
        if services.get_space_by_slug(spec["slug"]) is not None:
            continue
        space = services.create_space(spec["slug"], spec["name"], actor=admin, description=spec["description"])
        space.colour = spec["colour"]
        if admin is not None:
            services.add_member(space, admin, "admin", actor=admin)
        for username, role in spec["members"].items():
            services.add_member(space, people[username], role, actor=admin)
        author = next(people[u] for u, r in spec["members"].items() if r == "admin")
        for age, (title, body, pinned) in enumerate(spec["news"]):
            news = services.save_news(space, None, title=title, body=body, is_pinned=pinned, author=author)
            news.created_at = now - timedelta(days=2 * age + 1)
        db.session.flush()
        _demo_directory(space, spec, people)
        _demo_agenda(space, spec, people)
        _demo_tasks(space, spec, people)
        if admin is not None:  # the demo admin's bell shows new files too
            from agora.documents.services import follow_folder

            follow_folder(space, None, admin, True)
        _demo_documents(space, spec, people)
        _demo_polls(space, spec, people)
        _demo_forum(space, spec, people)
        created.append(space.slug)
    # Demo conversations mention and notify demo people: the bells show it, but none of it is real mail.
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.id > mail_before))
    db.session.execute(update(Notification).where(Notification.id > notices_before).values(mail_due_at=None))
    return created


def _demo_forum(space, spec: dict, people: dict[str, User]) -> None:
    """Themes and conversations, aged over the past days so the lists look lived in."""
    themes = {}
    for position, (name, colour) in enumerate(spec.get("themes", [])):
        themes[name] = forum.save_category(space, None, name=name, colour=colour, position=position)
    start = utcnow() - timedelta(days=6)
    for index, (theme, author, title, body, replies) in enumerate(spec.get("topics", [])):
        topic = forum.create_topic(space, people[author], title=title, body=body, category_id=themes[theme].id)
        posts = [db.session.get(Post, topic.last_post_id)]
        for reply_author, text in replies:
            posts.append(forum.add_reply(space, topic, people[reply_author], text))
        for hours, post in enumerate(posts):
            post.created_at = start + timedelta(days=index, hours=2 * hours)
        topic.created_at, topic.last_post_at = posts[0].created_at, posts[-1].created_at


def _demo_directory(space, spec: dict, people: dict[str, User]) -> None:
    """The partners of the space, and who belongs to which."""
    for username in spec["members"]:
        if username not in WORKPLACES:
            continue
        organisation_name, function = WORKPLACES[username]
        organisation = members.find_organisation(space, organisation_name) or members.save_organisation(
            space, None, name=organisation_name, description="")
        membership = membership_in(people[username], space)
        members.set_membership_details(space, membership, organisation_id=organisation.id, function=function)


#: (title, author, weekday offset from next Monday, start, end, repeat, count, location, category)
AGENDA = {
    "conseil-tilleuls": [
        ("Plénière du conseil citoyen", "nadia.benali", 8, "18:00", "20:00", "monthly_weekday", 6,
         "Salle polyvalente, 12 rue des Tilleuls", "Réunion"),
        ("Permanence du conseil", "karim.haddad", 2, "10:00", "12:00", "weekly", 20, "Centre social des Tilleuls", "Permanence"),
        ("Fête de quartier : préparation", "nadia.benali", 18, "14:00", "16:00", "none", None, "Régie de quartier", "Réunion"),
    ],
    "gup-tilleuls": [
        ("Diagnostic en marchant", "sophie.martin", 3, "14:00", "16:00", "monthly_weekday", 6,
         "Départ devant la loge du gardien, bâtiment C", "Sortie"),
        ("Passage des encombrants", "marc.durand", 0, None, None, "monthly_date", 12, "Tout le quartier", "Propreté"),
    ],
    "partenaires-tilleuls": [
        ("Ateliers numériques", "lucie.moreau", 2, "14:00", "17:00", "weekly", 30, "EPN des Tilleuls", "Atelier"),
        ("Comité de pilotage du contrat de ville", "sophie.martin", 24, "09:30", "12:00", "none", None,
         "Mairie annexe", "Réunion"),
    ],
}


def _demo_agenda(space, spec: dict, people: dict[str, User]) -> None:
    """Meetings, walks and workshops over the coming weeks, some of them repeating."""
    from datetime import date, time

    today = utcnow().date()
    next_monday = today + timedelta(days=7 - today.weekday())
    categories = {}
    for title, author, offset, start, end, repeat, count, location, category in AGENDA.get(space.slug, []):
        if category not in categories:
            categories[category] = agenda.save_category(space, name=category, colour="#0b5cad")
        day: date = next_monday + timedelta(days=offset)
        agenda.create_event(space, people[author], agenda.EventData(
            title=title, start_date=day, end_date=day, all_day=start is None,
            start_time=time.fromisoformat(start) if start else None, end_time=time.fromisoformat(end) if end else None,
            location=location, category_id=categories[category].id, repeat=repeat, count=count,
        ))


#: (list, title, assignee, days from today to the due date, status index)
TASKS = {
    "conseil-tilleuls": [
        ("Projet de jardin partagé", "Faire un plan du terrain", "karim.haddad", 10, 1),
        ("Projet de jardin partagé", "Demander l'accord du bailleur", "nadia.benali", -3, 0),
        ("Projet de jardin partagé", "Trouver des bénévoles", "fatou.diallo", 20, 0),
    ],
    "partenaires-tilleuls": [
        ("Fête de quartier", "Réserver la sono", "marc.durand", 14, 0),
        ("Fête de quartier", "Imprimer les affiches", "lucie.moreau", 5, 1),
        ("Fête de quartier", "Demander l'autorisation de la mairie", "sophie.martin", -10, 2),
    ],
}


def _demo_tasks(space, spec: dict, people: dict[str, User]) -> None:
    """An action plan per space, one task late, so "my tasks" and the board have something to show."""
    from agora.tasks import services as tasks

    today = utcnow().date()
    made_lists = {}
    all_statuses = tasks.statuses(space)
    for list_name, title, username, due_in, status_index in TASKS.get(space.slug, []):
        if list_name not in made_lists:
            made_lists[list_name] = tasks.save_list(space, name=list_name, description="")
        tasks.save_task(space, None, tasks.TaskData(
            title=title, list_id=made_lists[list_name].id, status_id=all_statuses[status_index].id,
            start_on=today + timedelta(days=due_in - 10), due_on=today + timedelta(days=due_in),
            assignee_ids=(people[username].id,)), actor=people[username])


#: Per space: (folder or None, file name, author, content builder, version notes after the first).
DOCUMENTS = {
    "conseil-tilleuls": [
        ("Comptes rendus", "CR plénière du 15 septembre 2026.pdf", "nadia.benali",
         ("Compte rendu de la plénière", "15 septembre 2026 — 14 présents", "Jardin partagé : projet à préparer"), []),
        ("Comptes rendus", "Ordre du jour plénière 8 décembre.txt", "nadia.benali",
         "1. Bilan de la fête de quartier\n2. Jardin partagé\n", ["Ajout : horaires du city-stade"]),
        ("Photos de la marche exploratoire", "Passage Jean-Moulin.jpg", "karim.haddad", "#34495e", []),
        ("Photos de la marche exploratoire", "Square Colette.jpg", "fatou.diallo", "#2e7d32", []),
        ("Photos de la marche exploratoire", "Bâtiment C.jpg", "karim.haddad", "#8d6e63", []),
        (None, "Charte du conseil citoyen.pdf", "nadia.benali",
         ("Charte du conseil citoyen des Tilleuls", "Adoptée le 2 février 2026", "Indépendance, pluralité, parité"), []),
    ],
    "gup-tilleuls": [
        (None, "Plan d'intervention GUP 2026.pdf", "sophie.martin",
         ("Plan d'intervention GUP 2026", "Éclairage, propreté, encombrants", "Points relevés en marchant"), []),
        ("Diagnostics en marchant", "Relevé du 4 novembre.txt", "ahmed.saidi",
         "Passage Jean-Moulin : 3 lampadaires en panne\nSquare Colette : 2 bancs cassés\n", []),
    ],
    "partenaires-tilleuls": [
        (None, "Permanences d'accès aux droits.csv", "lucie.moreau",
         "structure;jour;lieu\nCAF;mardi matin;centre social\nÉcrivain public;jeudi;régie\nAide numérique;mercredi;EPN\n",
         ["Ajout de la mission locale"]),
        ("Fête de quartier", "Fiche d'inscription des stands.pdf", "nadia.benali",
         ("Fête de quartier — inscription des stands", "Structure : ..........", "Besoins (tables, électricité) : ........"), []),
    ],
}


def _demo_file(name: str, content) -> bytes:
    """Small real files: text as is, a colour as a JPEG photo, lines of text as a one-page PDF."""
    import io

    from PIL import Image, ImageDraw

    if isinstance(content, str) and content.startswith("#"):
        image = Image.new("RGB", (960, 640), content)
        ImageDraw.Draw(image).text((40, 580), name.rsplit(".", 1)[0], fill="white")
        out = io.BytesIO()
        image.save(out, "JPEG", quality=80)
        return out.getvalue()
    if isinstance(content, tuple):
        page = Image.new("RGB", (595, 842), "white")
        draw = ImageDraw.Draw(page)
        for n, line in enumerate(content):
            draw.text((60, 80 + 40 * n), line, fill="black")
        out = io.BytesIO()
        page.save(out, "PDF", resolution=72)
        return out.getvalue()
    return content.encode("utf-8")


def _demo_documents(space, spec: dict, people: dict[str, User]) -> None:
    """Folders, minutes, photos and a file with several versions; one draft waits in the trash."""
    import io

    from werkzeug.datastructures import FileStorage

    from agora.documents import services as documents

    tree = documents.Tree.load(space)
    folders = {}
    for folder_name, name, username, content, notes in DOCUMENTS.get(space.slug, []):
        folder = None
        if folder_name:
            if folder_name not in folders:
                folders[folder_name] = documents.create_folder(space, tree, None, folder_name, actor=people[username])
            folder = folders[folder_name]
        data = _demo_file(name, content)
        documents.store_file(space, tree, folder, FileStorage(io.BytesIO(data), filename=name), actor=people[username])
        for note in notes:
            data += f"\n{note}\n".encode()
            documents.store_file(space, tree, folder, FileStorage(io.BytesIO(data), filename=name),
                                 actor=people[username], note=note)
    if space.slug == "conseil-tilleuls":
        draft, _new = documents.store_file(space, tree, None, FileStorage(io.BytesIO(b"Brouillon"), filename="Brouillon affiche.txt"),
                                           actor=people["nadia.benali"], record=False)
        documents.trash(space, draft, actor=people["nadia.benali"])


#: Per space: (author, question, kind, options or days ahead at 18:00, settings, ballots {username: choices}).
POLLS = {
    "conseil-tilleuls": [
        ("nadia.benali", "Quel nom pour le jardin partagé ?", "single",
         ["Le Jardin des Tilleuls", "La Main verte", "Le Potager du bâtiment C"],
         {"is_anonymous": True, "readers_vote": True},
         {"karim.haddad": [0], "fatou.diallo": [2], "bernard.roux": [0]}),
        ("nadia.benali", "Quelle soirée pour la prochaine plénière ?", "dates", [12, 14, 19],
         {"readers_vote": True},
         {"karim.haddad": ["yes", "maybe", "no"], "fatou.diallo": ["no", "yes", "yes"], "jeanne.petit": ["yes", "yes", "maybe"]}),
    ],
    "gup-tilleuls": [
        ("sophie.martin", "Priorités du prochain diagnostic en marchant", "multiple",
         ["Éclairage du passage Jean-Moulin", "Propreté du square Colette", "Stationnement rue des Lilas", "Bancs et jeux"],
         {"max_choices": 2}, {"marc.durand": [0, 1], "ahmed.saidi": [0, 3]}),
    ],
}


def _demo_polls(space, spec: dict, people: dict[str, User]) -> None:
    """An anonymous vote on a name, a date poll for the next plenary, a multiple choice with a maximum."""
    from zoneinfo import ZoneInfo

    from agora.polls import services as polls

    today = utcnow().astimezone(ZoneInfo("Europe/Paris")).date()
    for username, question, kind, choices, settings, ballots in POLLS.get(space.slug, []):
        closes = datetime.combine(today + timedelta(days=21), time(20, 0), tzinfo=ZoneInfo("Europe/Paris"))
        data = polls.PollData(question=question, kind=kind, closes_at=closes, **settings)
        if kind == "dates":
            data.slots = [datetime.combine(today + timedelta(days=n), time(18, 0), tzinfo=ZoneInfo("Europe/Paris"))
                          for n in choices]
        else:
            data.options = choices
        poll = polls.create_poll(space, people[username], data)
        option_ids = [o.id for o in polls.options(poll)]
        for voter, picks in ballots.items():
            if kind == "dates":
                answers = dict(zip(option_ids, picks, strict=True))
            else:
                answers = {option_ids[n]: "yes" for n in picks}
            polls.cast_ballot(space, poll, people[voter], answers)
