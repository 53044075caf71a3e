"""Write static/icons.svg (one <symbol> per icon Agora uses) from the lucide-static npm package.

    npm ci --prefix scripts/icons && python3 scripts/icons/build.py

Only the icons named in ICONS ship; add a name here, rerun, and commit static/icons.svg.
The package's licence (ISC, with MIT for the icons derived from Feather) is copied beside it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "node_modules" / "lucide-static"
STATIC = HERE.parent.parent / "static"

#: Agora's icon name -> Lucide's file name.
ICONS = {
    "menu": "menu",
    "bell": "bell",
    "house": "house",
    "list-checks": "list-checks",
    "calendar": "calendar",
    "settings": "settings",
    "search": "search",
    "user": "user",
    "log-out": "log-out",
    "thumbs-up": "thumbs-up",
    "forum": "messages-square",
    "folder": "folder",
    "file": "file-text",
    "tasks": "square-check-big",
    "polls": "vote",
    "users": "users",
    "user-cog": "user-cog",
    "sliders": "sliders-horizontal",
    "paperclip": "paperclip",
    "plus": "plus",
    "pencil": "pencil",
    "trash": "trash-2",
    "download": "download",
    "upload": "upload",
    "reply": "reply",
    "news": "newspaper",
    "check": "check",
    "square": "square",
    "square-check": "square-check",
    "map-pin": "map-pin",
    "link": "link",
    "volume": "volume-2",
    "stop": "square-stop",
    "mic": "mic",
    "camera": "camera",
    "text-size": "a-large-small",
    "save": "save",
    "eye": "eye",
    "move": "move",
    "log-in": "log-in",
    "undo": "undo-2",
    "archive": "archive",
    "cancel": "circle-x",
}
SHAPES = re.compile(r"<svg[^>]*>(.*)</svg>", re.S)


def main() -> None:
    version = json.loads((PACKAGE / "package.json").read_text())["version"]
    symbols = []
    for name, source in sorted(ICONS.items()):
        body = SHAPES.search((PACKAGE / "icons" / f"{source}.svg").read_text()).group(1)
        body = " ".join(line.strip() for line in body.strip().splitlines())
        symbols.append(f'<symbol id="{name}" viewBox="0 0 24 24">{body}</symbol>')
    sprite = (
        f"<!-- Lucide icons (lucide-static {version}, ISC licence: icons.LICENSE.txt), "
        "built by scripts/icons/build.py -->\n"
        '<svg xmlns="http://www.w3.org/2000/svg" fill="none" stroke="currentColor" stroke-width="2" '
        'stroke-linecap="round" stroke-linejoin="round">\n' + "\n".join(symbols) + "\n</svg>\n"
    )
    (STATIC / "icons.svg").write_text(sprite)
    shutil.copyfile(PACKAGE / "LICENSE", STATIC / "icons.LICENSE.txt")
    print(f"{len(symbols)} icons from lucide-static {version} -> {STATIC / 'icons.svg'}")


if __name__ == "__main__":
    main()
