"""Demo content of the forum: themes and conversations of each demo space, in French."""

from __future__ import annotations

from datetime import timedelta

from agora.auth.models import User
from agora.core.time import utcnow
from agora.extensions import db
from agora.forum import services as forum
from agora.forum.models import Post

#: Per demo space: themes (name, colour) and topics (theme, author, title, body, replies).
FORUM = {
    "conseil-tilleuls": {
        "themes": [("Cadre de vie", "#1e6b33"), ("Jeunesse", "#b35c00"), ("Fête de quartier", "#7a3e9d")],
        "topics": [
            (
                "Cadre de vie",
                "karim.haddad",
                "Un jardin partagé derrière le bâtiment C ?",
                "Bonjour à tous,\n\nLe terrain vague derrière le **bâtiment C** pourrait devenir un jardin partagé. "
                "Le bailleur serait d'accord si nous présentons un projet.\n\nQui serait partant pour s'en occuper ?",
                [
                    ("fatou.diallo", "Moi ! J'ai déjà des semis de tomates sur mon balcon."),
                    ("bernard.roux", "Bonne idée. Il faudra un point d'eau : on peut demander à la régie."),
                    (
                        "nadia.benali",
                        "Je mets le sujet à l'ordre du jour de la plénière du 8 décembre. @karim.haddad, "
                        "pouvez-vous préparer un petit plan ?",
                    ),
                ],
            ),
            (
                "Jeunesse",
                "fatou.diallo",
                "Horaires du city-stade",
                "Les jeunes demandent que le city-stade reste ouvert jusqu'à 21 h l'été. Qu'en pensez-vous ?",
                [("bernard.roux", "D'accord, si l'éclairage est réparé avant.")],
            ),
            (
                "Fête de quartier",
                "nadia.benali",
                "Fête de quartier : le bilan",
                "Merci à toutes et tous ! Environ **400 personnes** sont passées. Vos idées pour l'an prochain ?",
                [],
            ),
        ],
    },
    "gup-tilleuls": {
        "themes": [("Propreté", "#1e6b33"), ("Éclairage et voirie", "#b35c00")],
        "topics": [
            (
                "Éclairage et voirie",
                "ahmed.saidi",
                "Passage Jean-Moulin : éclairage en panne",
                "Trois lampadaires ne fonctionnent plus depuis deux semaines. Signalé au service voirie le 4 novembre.",
                [
                    ("sophie.martin", "Intervention prévue la semaine prochaine, je confirme dès que j'ai la date."),
                    ("marc.durand", "La régie peut baliser le passage en attendant."),
                ],
            ),
        ],
    },
    "partenaires-tilleuls": {
        "themes": [("Coordination", "#0b5cad")],
        "topics": [
            (
                "Coordination",
                "lucie.moreau",
                "Permanences d'accès aux droits : qui fait quoi ?",
                "Pour éviter les doublons, voici les permanences connues :\n\n- CAF : mardi matin au centre social\n"
                "- Écrivain public : jeudi à la régie\n- Aide numérique : mercredi à l'EPN\n\nManque-t-il quelque chose ?",
                [
                    ("marc.durand", "La mission locale tient aussi une permanence le vendredi."),
                    ("nadia.benali", "Merci Lucie, je l'affiche à l'accueil."),
                ],
            ),
        ],
    },
}


def seed_demo(space, people: dict[str, User], admin: User | None) -> None:
    """Themes and conversations, aged over the past days so the lists look lived in."""
    spec = FORUM.get(space.slug, {})
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
