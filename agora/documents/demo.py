"""Demo content of the documents: folders, minutes, photos and versions of each demo space."""

from __future__ import annotations

from agora.auth.models import User

#: Per space: (folder or None, file name, author, content builder, version notes after the first).
DOCUMENTS = {
    "conseil-tilleuls": [
        (
            "Comptes rendus",
            "CR plénière du 15 septembre 2026.pdf",
            "nadia.benali",
            ("Compte rendu de la plénière", "15 septembre 2026 — 14 présents", "Jardin partagé : projet à préparer"),
            [],
        ),
        (
            "Comptes rendus",
            "Ordre du jour plénière 8 décembre.txt",
            "nadia.benali",
            "1. Bilan de la fête de quartier\n2. Jardin partagé\n",
            ["Ajout : horaires du city-stade"],
        ),
        ("Photos de la marche exploratoire", "Passage Jean-Moulin.jpg", "karim.haddad", "#34495e", []),
        ("Photos de la marche exploratoire", "Square Colette.jpg", "fatou.diallo", "#2e7d32", []),
        ("Photos de la marche exploratoire", "Bâtiment C.jpg", "karim.haddad", "#8d6e63", []),
        (
            None,
            "Charte du conseil citoyen.pdf",
            "nadia.benali",
            ("Charte du conseil citoyen des Tilleuls", "Adoptée le 2 février 2026", "Indépendance, pluralité, parité"),
            [],
        ),
    ],
    "gup-tilleuls": [
        (
            None,
            "Plan d'intervention GUP 2026.pdf",
            "sophie.martin",
            ("Plan d'intervention GUP 2026", "Éclairage, propreté, encombrants", "Points relevés en marchant"),
            [],
        ),
        (
            "Diagnostics en marchant",
            "Relevé du 4 novembre.txt",
            "ahmed.saidi",
            "Passage Jean-Moulin : 3 lampadaires en panne\nSquare Colette : 2 bancs cassés\n",
            [],
        ),
    ],
    "partenaires-tilleuls": [
        (
            None,
            "Permanences d'accès aux droits.csv",
            "lucie.moreau",
            "structure;jour;lieu\nCAF;mardi matin;centre social\nÉcrivain public;jeudi;régie\nAide numérique;mercredi;EPN\n",
            ["Ajout de la mission locale"],
        ),
        (
            "Fête de quartier",
            "Fiche d'inscription des stands.pdf",
            "nadia.benali",
            (
                "Fête de quartier — inscription des stands",
                "Structure : ..........",
                "Besoins (tables, électricité) : ........",
            ),
            [],
        ),
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


def seed_demo(space, people: dict[str, User], admin: User | None) -> None:
    """Folders, minutes, photos and a file with several versions; one draft waits in the trash."""
    import io

    from werkzeug.datastructures import FileStorage

    from agora.documents import services as documents

    if admin is not None:  # the demo admin's bell shows new files too
        documents.follow_folder(space, None, admin, True)
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
            documents.store_file(
                space, tree, folder, FileStorage(io.BytesIO(data), filename=name), actor=people[username], note=note
            )
    if space.slug == "conseil-tilleuls":
        draft, _new = documents.store_file(
            space,
            tree,
            None,
            FileStorage(io.BytesIO(b"Brouillon"), filename="Brouillon affiche.txt"),
            actor=people["nadia.benali"],
            record=False,
        )
        documents.trash(space, draft, actor=people["nadia.benali"])
