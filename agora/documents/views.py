"""Document pages: folders, upload, a document with its versions, downloads, ZIP, thumbnails, trash."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from flask import (
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from agora.core.forms import apply_service_error, save_form
from agora.core.pagination import page_number
from agora.core.services import ServiceError
from agora.core.templating import human_size
from agora.core.urls import to_id
from agora.documents import services, storage
from agora.documents.forms import MoveForm, NameForm, UploadForm, VersionForm
from agora.documents.models import Document, DocumentVersion, Folder
from agora.extensions import db
from agora.spaces.tenancy import require, space_blueprint

bp = space_blueprint("documents", __name__, "/documents")


def refuse_upload_that_cannot_fit():
    """Refuse an upload bigger than the room left before its body is read.

    It runs before every other check of the request (the CSRF check reads the whole body), and
    answers only the space's writers: anyone else goes on to the usual 404 or login page.
    """
    if request.endpoint != "documents.upload" or not request.content_length or not current_user.is_authenticated:
        return None
    from agora.spaces.services import get_space_by_slug

    space = get_space_by_slug(g.get("slug", ""))
    if space is None or not space.can_write(current_user) or not space.has_module("documents"):
        return None
    room = services.room_left(space)
    if request.content_length <= room + FORM_OVERHEAD:
        return None
    message = _(
        "Plus assez de place : l’envoi pèse %(size)s et il ne reste que %(left)s dans cet espace. "
        "Un administrateur de l’espace peut vider la corbeille ou demander plus de place à l’hébergeur.",
        size=human_size(request.content_length),
        left=human_size(room),
    )
    if _wants_json():
        return jsonify(errors=[message]), 413
    from agora.core.errors import render_error

    return render_error(413, message)


@bp.record_once
def _first_check(state):
    state.app.before_request_funcs.setdefault(None, []).insert(0, refuse_upload_that_cannot_fit)


SORTS = ("name", "date", "size")
#: Files shown per page of a folder; its subfolders are all shown on every page.
PER_PAGE = 100
#: File responses may show an image or a PDF, never run anything.
FILE_POLICY = (
    "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
)
PDF_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"
#: What a multipart body adds around the files themselves, for the early quota check.
FORM_OVERHEAD = 64 * 1024


def _tree() -> services.Tree:
    if "document_tree" not in g:
        g.document_tree = services.Tree.load(g.space)
    return g.document_tree


def _folder(folder_id: int | None) -> Folder | None:
    """The live folder of this space with that id (None for the top); 404 otherwise."""
    if folder_id is None:
        return None
    return services.get_folder(g.space, _tree(), folder_id) or abort(404)


def _document(document_id: int) -> Document:
    return services.get_document(g.space, _tree(), document_id) or abort(404)


def _move_choices(exclude: Folder | None = None) -> list[tuple[int, str]]:
    """(id, full path) of the places something can move to; 0 is the top. Paths, not indents:
    two "2025" folders in different places must not sound alike to a screen reader."""
    tree = _tree()
    banned = set(tree.subtree(exclude.id)) if exclude else set()
    choices = [(0, _("Documents (tout en haut)"))]
    choices += [
        (f.id, " › ".join(a.name for a in tree.ancestors(f))) for f, _depth in tree.live_folders() if f.id not in banned
    ]
    return choices


def _may_remove(folder: Folder) -> bool:
    """Trash or purge a folder: space admins, or its creator when everything inside is theirs too."""
    return g.space.can_manage(current_user) or (
        folder.can_change(current_user) and _tree().owned_only_by(folder, current_user.id)
    )


def _folder_page(folder: Folder | None, *, upload_form=None, folder_form=None, rename_form=None, move_form=None) -> str:
    sort = request.args.get("sort", "name")
    sort = sort if sort in SORTS else "name"
    subfolders, documents = services.contents_page(g.space, folder, _tree(), sort, page_number(), PER_PAGE)
    move_form = move_form or MoveForm(formdata=None, target=folder.parent_id or 0 if folder else 0)
    move_form.target.choices = _move_choices(folder)
    rename_form = rename_form or NameForm(formdata=None, name=folder.name if folder else "")
    return render_template(
        "documents/folder.html",
        space=g.space,
        folder=folder,
        breadcrumb=_tree().ancestors(folder),
        subfolders=subfolders,
        documents=documents,
        sort=sort,
        upload_form=upload_form or UploadForm(formdata=None),
        folder_form=folder_form or NameForm(formdata=None, prefix="new"),
        rename_form=rename_form,
        move_form=move_form,
        quota=services.quota_bytes(g.space),
        room=services.room_left(g.space),
        may_remove=folder is not None and _may_remove(folder),
        following=services.is_following(g.space, folder, current_user),
    )


@bp.post("/follow", defaults={"folder_id": None})
@bp.post("/folders/<int:folder_id>/follow")
def follow_folder(folder_id: int | None):
    """Hear (or stop hearing) of new files here and in the folders below."""
    folder = _folder(folder_id)
    on = request.form.get("on") == "1"
    services.follow_folder(g.space, folder, current_user, on)
    db.session.commit()
    flash(
        _("Vous serez prévenu des nouveaux fichiers de ce dossier.")
        if on
        else _("Vous ne serez plus prévenu des nouveaux fichiers de ce dossier."),
        "success",
    )
    return redirect(url_for("documents.show_folder", folder_id=folder_id))


@bp.get("/", defaults={"folder_id": None})
@bp.get("/folders/<int:folder_id>")
def show_folder(folder_id: int | None):
    """A folder: its subfolders and files, sortable; forms to upload, add a folder, manage it."""
    return _folder_page(_folder(folder_id))


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.post("/upload", defaults={"folder_id": None})
@bp.post("/folders/<int:folder_id>/upload")
def upload(folder_id: int | None):
    """Add files to a folder (members); one request keeps all of them or none."""
    require(g.space.can_write(current_user))
    folder = _folder(folder_id)
    form = UploadForm()
    status, error = 400, None
    if services.purge_expired(g.space, _tree()):
        g.pop("document_tree")  # the purge removed folders the loaded tree still holds
        folder = _folder(folder_id)
    if form.validate_on_submit():
        try:
            stored = [
                services.store_file(
                    g.space,
                    _tree(),
                    folder,
                    upload,
                    actor=current_user,
                    on_conflict=form.on_conflict.data,
                    note=form.note.data or "",
                )
                for upload in form.files.data
            ]
            db.session.commit()
        except ServiceError as exc:
            db.session.rollback()
            status, error = exc.status, str(exc.message)
        except OSError as exc:  # placing the file or syncing its folder found the disk full
            if not storage.is_disk_full(exc):
                raise
            db.session.rollback()
            refusal = storage.disk_full()
            status, error = refusal.status, str(refusal.message)
        else:
            new = sum(1 for _d, created in stored if created)
            if new:
                flash(ngettext("%(num)s fichier ajouté.", "%(num)s fichiers ajoutés.", new), "success")
            if len(stored) - new:
                flash(
                    ngettext(
                        "%(num)s nouvelle version enregistrée.",
                        "%(num)s nouvelles versions enregistrées.",
                        len(stored) - new,
                    ),
                    "success",
                )
            target = url_for("documents.show_folder", folder_id=folder.id if folder else None)
            return jsonify(redirect=target) if _wants_json() else redirect(target)
    if error:
        form.files.errors = [error]
    if _wants_json():
        errors = [str(e) for field in form for e in field.errors] or [_("L'envoi n'a pas abouti.")]
        return jsonify(errors=errors), status
    return _folder_page(folder, upload_form=form), status


@bp.post("/new-folder", defaults={"folder_id": None})
@bp.post("/folders/<int:folder_id>/new-folder")
def new_folder(folder_id: int | None):
    """Create a folder inside this one (members)."""
    require(g.space.can_write(current_user))
    parent = _folder(folder_id)
    form = NameForm(prefix="new")
    if form.validate_on_submit():
        try:
            created = services.create_folder(g.space, _tree(), parent, form.name.data, actor=current_user)
        except ServiceError as exc:
            db.session.rollback()
            apply_service_error(form, exc)
            return _folder_page(parent, folder_form=form), exc.status
        db.session.commit()
        flash(_("Le dossier « %(name)s » est créé.", name=created.name), "success")
        return redirect(url_for("documents.show_folder", folder_id=created.id))
    return _folder_page(parent, folder_form=form), 400


def _forms_kind(form) -> str:
    return "rename_form" if isinstance(form, NameForm) else "move_form"


def _folder_change(folder_id: int, form, action, message: str):
    """Rename or move a folder (its creator, space admins), through the shared form flow."""
    folder = _folder(folder_id)
    require(folder.can_change(current_user))
    return save_form(
        form,
        lambda: action(folder),
        message=message,
        done=lambda _r: url_for("documents.show_folder", folder_id=folder.id),
        render=lambda: _folder_page(_folder(folder_id), **{_forms_kind(form): form}),
    )


@bp.post("/folders/<int:folder_id>/rename")
def rename_folder(folder_id: int):
    form = NameForm()
    return _folder_change(
        folder_id,
        form,
        lambda f: services.rename_folder(g.space, _tree(), f, form.name.data),
        _("Le dossier est renommé."),
    )


@bp.post("/folders/<int:folder_id>/move")
def move_folder(folder_id: int):
    form = MoveForm()
    form.target.choices = _move_choices()
    return _folder_change(
        folder_id,
        form,
        lambda f: services.move_folder(g.space, _tree(), f, _target(form)),
        _("Le dossier est déplacé."),
    )


def _target(form: MoveForm) -> Folder | None:
    """The destination chosen in a move form: the top (0) or a live folder of this space."""
    return _folder(form.target.data) if form.target.data else None


@bp.post("/folders/<int:folder_id>/delete")
def delete_folder(folder_id: int):
    """Put a folder and what it holds in the trash (its creator, space admins)."""
    folder = _folder(folder_id)
    require(_may_remove(folder))
    services.trash(g.space, folder, actor=current_user)
    db.session.commit()
    flash(_("Le dossier « %(name)s » restera 30 jours dans la corbeille.", name=folder.name), "success")
    return redirect(url_for("documents.show_folder", folder_id=folder.parent_id))


# A document ---------------------------------------------------------------------------------


def _document_page(document: Document, *, version_form=None, rename_form=None, move_form=None) -> str:
    tree = _tree()
    move_form = move_form or MoveForm(formdata=None, target=document.folder_id or 0)
    move_form.target.choices = _move_choices()
    neighbours = (None, None)
    if document.is_image:
        images = services.ordered(g.space, document.folder_id, images=True)  # (id, name): all the links need
        index = [row.id for row in images].index(document.id)
        neighbours = (images[index - 1] if index > 0 else None, images[index + 1] if index + 1 < len(images) else None)
    return render_template(
        "documents/document.html",
        space=g.space,
        document=document,
        versions=services.versions(document),
        breadcrumb=tree.ancestors(tree.by_id.get(document.folder_id)),
        previous=neighbours[0],
        following=neighbours[1],
        version_form=version_form or VersionForm(formdata=None),
        rename_form=rename_form or NameForm(formdata=None, name=document.name),
        move_form=move_form,
    )


@bp.get("/<int:document_id>")
def show_document(document_id: int):
    """A document: preview, versions with who and when, new version, rename, move, delete."""
    return _document_page(_document(document_id))


@bp.post("/<int:document_id>/versions")
def add_version(document_id: int):
    """Upload a new version (members)."""
    document = _document(document_id)
    require(g.space.can_write(current_user))
    form = VersionForm()
    status = 400
    if form.validate_on_submit():
        try:
            services.add_version(g.space, document, form.file.data, actor=current_user, note=form.note.data or "")
            db.session.commit()
        except ServiceError as exc:
            db.session.rollback()
            form.file.errors = [str(exc.message)]
            status = exc.status
        else:
            flash(_("La nouvelle version est enregistrée."), "success")
            return redirect(url_for("documents.show_document", document_id=document.id))
    return _document_page(_document(document_id), version_form=form), status


@bp.post("/<int:document_id>/versions/<int:version_id>/restore")
def restore_version(document_id: int, version_id: int):
    """Make an older version the current one again (members)."""
    document = _document(document_id)
    require(g.space.can_write(current_user))
    version = services.get_version(g.space, document, version_id) or abort(404)
    services.restore_version(g.space, document, version, actor=current_user)
    db.session.commit()
    flash(_("La version %(n)s est de nouveau la version actuelle.", n=version.number), "success")
    return redirect(url_for("documents.show_document", document_id=document.id))


def _document_change(document_id: int, form, action, message: str):
    """Rename or move a file (its creator, space admins), through the shared form flow."""
    document = _document(document_id)
    require(document.can_change(current_user))
    return save_form(
        form,
        lambda: action(document),
        message=message,
        done=lambda _r: url_for("documents.show_document", document_id=document.id),
        render=lambda: _document_page(_document(document_id), **{_forms_kind(form): form}),
    )


@bp.post("/<int:document_id>/rename")
def rename_document(document_id: int):
    form = NameForm()
    return _document_change(
        document_id,
        form,
        lambda d: services.rename_document(g.space, _tree(), d, form.name.data),
        _("Le fichier est renommé."),
    )


@bp.post("/<int:document_id>/move")
def move_document(document_id: int):
    form = MoveForm()
    form.target.choices = _move_choices()
    return _document_change(
        document_id,
        form,
        lambda d: services.move_document(g.space, _tree(), d, _target(form)),
        _("Le fichier est déplacé."),
    )


@bp.post("/<int:document_id>/delete")
def delete_document(document_id: int):
    """Put a file in the trash (its creator, space admins)."""
    document = _document(document_id)
    require(document.can_change(current_user))
    services.trash(g.space, document, actor=current_user)
    db.session.commit()
    flash(_("« %(name)s » restera 30 jours dans la corbeille.", name=document.name), "success")
    return redirect(url_for("documents.show_folder", folder_id=document.folder_id))


# Files --------------------------------------------------------------------------------------


def content_disposition(name: str, inline: bool = False) -> str:
    """RFC 6266: an ASCII fallback name, and the real one in UTF-8 (RFC 5987)."""
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = "".join(c for c in fallback if c.isprintable() and c not in '"\\') or "fichier"
    return f"{'inline' if inline else 'attachment'}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _send_version(document: Document, version: DocumentVersion, *, inline: bool):
    path = storage.path_for(g.space.id, version.storage_name)
    if not path.is_file():
        abort(404)
    inline = inline and version.content_type in storage.INLINE_TYPES
    response = send_file(
        path,
        mimetype=storage.served_type(version.content_type),
        conditional=True,
        etag=version.sha256,
        last_modified=version.created_at,
        max_age=0,
    )
    response.headers["Content-Disposition"] = content_disposition(document.name, inline)
    response.headers["Content-Security-Policy"] = (
        PDF_POLICY if inline and version.content_type == "application/pdf" else FILE_POLICY
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.cache_control.private = True
    return response


@bp.get("/<int:document_id>/download")
def download(document_id: int):
    """The current version, as a download (resumable: Range requests are answered)."""
    document = _document(document_id)
    return _send_version(document, services.current_version(document), inline=False)


@bp.get("/<int:document_id>/view")
def view(document_id: int):
    """The current version shown in the browser: images and PDFs only, anything else is downloaded."""
    document = _document(document_id)
    return _send_version(document, services.current_version(document), inline=True)


@bp.get("/<int:document_id>/versions/<int:version_id>/download")
def download_version(document_id: int, version_id: int):
    document = _document(document_id)
    return _send_version(document, services.get_version(g.space, document, version_id) or abort(404), inline=False)


@bp.get("/<int:document_id>/thumbnail")
def thumbnail(document_id: int):
    """A small JPEG of an image, made once and kept."""
    from PIL import Image

    document = _document(document_id)
    if not document.is_image:
        abort(404)
    version = services.current_version(document)
    try:
        path = storage.thumbnail(g.space.id, version.storage_name)
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        abort(404)
    response = send_file(path, mimetype="image/jpeg", conditional=True, etag=f"t-{version.storage_name}", max_age=86400)
    response.cache_control.private = True
    response.cache_control.public = False
    return response


@bp.get("/zip", defaults={"folder_id": None})
@bp.get("/folders/<int:folder_id>/zip")
def download_zip(folder_id: int | None):
    """A folder, or the files and folders ticked in it, as a ZIP built while it is sent."""
    from zipstream import ZipStream

    folder = _folder(folder_id)
    tree = _tree()
    picked_docs = request.args.getlist("doc", type=to_id)
    picked_folders = request.args.getlist("folder", type=to_id)
    if len(picked_docs) != len(request.args.getlist("doc")) or len(picked_folders) != len(
        request.args.getlist("folder")
    ):
        abort(400)
    if picked_docs or picked_folders:
        roots = [_folder(i) for i in picked_folders]
        documents = [_document(i) for i in picked_docs]
    else:
        subfolders, documents = services.contents(g.space, folder, tree)
        roots = subfolders
    entries = [(d, d.name) for d in documents]
    for root in roots:
        entries += _zip_entries(root, tree)
    archive = ZipStream(sized=True)
    used = set()
    versions = {
        v.id: v
        for v in db.session.scalars(
            select(DocumentVersion).where(
                DocumentVersion.space_id == g.space.id,
                DocumentVersion.id.in_([d.current_version_id for d, _n in entries]),
            )
        )
    }
    for document, arcname in entries:
        version = versions.get(document.current_version_id)
        path = storage.path_for(g.space.id, version.storage_name) if version else None
        if path is None or not path.is_file():
            continue
        arcname = services.free_name(arcname, used)
        used.add(arcname.casefold())
        archive.add_path(str(path), arcname)
    name = f"{folder.name if folder else g.space.name}.zip"
    response = Response(archive, mimetype="application/zip")
    response.headers["Content-Length"] = str(len(archive))
    response.headers["Content-Disposition"] = content_disposition(name)
    response.headers["Content-Security-Policy"] = FILE_POLICY
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


def _zip_entries(root: Folder, tree: services.Tree) -> list[tuple[Document, str]]:
    """(document, path inside the ZIP) for every live file under `root`."""
    prefix_of = {}
    for folder_id in tree.subtree(root.id):
        folder = tree.by_id[folder_id]
        if folder.deleted_at is not None and folder_id != root.id:
            continue
        chain = tree.ancestors(folder)
        chain = chain[[f.id for f in chain].index(root.id) :]
        if any(f.deleted_at is not None for f in chain[1:]):
            continue
        prefix_of[folder_id] = "/".join(f.name for f in chain)
    documents = db.session.scalars(
        select(Document).where(
            Document.space_id == g.space.id, Document.deleted_at.is_(None), Document.folder_id.in_(list(prefix_of))
        )
    )
    return [(d, f"{prefix_of[d.folder_id]}/{d.name}") for d in documents]


# Trash --------------------------------------------------------------------------------------


@bp.get("/trash")
def show_trash():
    """What was deleted in the last 30 days; its owner or a space admin brings it back."""
    require(g.space.can_write(current_user))
    folders, documents = services.trashed(g.space, _tree())
    return render_template(
        "documents/trash.html", space=g.space, folders=folders, documents=documents, quota=services.quota_bytes(g.space)
    )


def _trashed(kind: str, item_id: int):
    require(g.space.can_write(current_user))
    item = services.get_trashed(g.space, _tree(), kind, item_id) or abort(404)
    require(item.can_change(current_user))
    return item


@bp.post("/trash/folders/<int:trashed_folder_id>/restore")
def restore_folder(trashed_folder_id: int):
    return _restore(_trashed("folder", trashed_folder_id))


@bp.post("/trash/<int:trashed_document_id>/restore")
def restore_document(trashed_document_id: int):
    return _restore(_trashed("document", trashed_document_id))


def _restore(item):
    name = services.restore(g.space, _tree(), item)
    db.session.commit()
    flash(_("« %(name)s » est revenu dans les documents.", name=name), "success")
    return redirect(url_for("documents.show_trash"))


@bp.post("/trash/folders/<int:trashed_folder_id>/purge")
def purge_folder(trashed_folder_id: int):
    folder = _trashed("folder", trashed_folder_id)
    require(_may_remove(folder))
    return _purge(folders=[folder])


@bp.post("/trash/<int:trashed_document_id>/purge")
def purge_document(trashed_document_id: int):
    return _purge(documents=[_trashed("document", trashed_document_id)])


def _purge(folders=(), documents=()):
    freed = services.purge(g.space, _tree(), list(folders), list(documents))
    db.session.commit()
    flash(_("Supprimé pour de bon : %(size)s libérés.", size=human_size(freed)), "success")
    return redirect(url_for("documents.show_trash"))


@bp.post("/trash/empty")
def empty_trash():
    """Remove everything in the trash for good (space admins): its bytes leave the quota."""
    require(g.space.can_manage(current_user))
    freed = services.empty_trash(g.space, _tree())
    db.session.commit()
    flash(_("La corbeille est vidée : %(size)s libérés.", size=human_size(freed)), "success")
    return redirect(url_for("documents.show_trash"))
