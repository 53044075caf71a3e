"""A search engine written from the contract alone (agora.search.backend.Backend), in memory.

The search tests that say what any engine owes people run against it as well as against Whoosh's:
what they need is then in the contract, not in Whoosh's ways, and an engine on PostgreSQL's
full-text search passes by the same tests. Plain on purpose: words folded to lower case without
accents, plurals made singular, every entry of the person's spaces read for each search.
"""

from __future__ import annotations

import re
import unicodedata

from markupsafe import escape

from agora.core.services import ServiceError
from agora.core.time import utcnow

STOP_WORDS = frozenset("le la les l de des du d un une et a au aux en sur pour par ce ces qui que".split())


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower().replace("œ", "oe").replace("æ", "ae"))
    return "".join(c for c in text if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", fold(text)) if w not in STOP_WORDS]


def stem(word: str) -> str:
    """The singular of a French plural, roughly: « sociaux » social, « réunions » réunion."""
    if len(word) > 4 and word.endswith("aux"):
        return word[:-3] + "al"
    return word[:-1] if len(word) > 3 and word[-1] in "sx" else word


class ReferenceBackend:
    def __init__(self):
        self.spaces: dict[int, dict[str, object]] = {}

    def prepare(self) -> None:
        pass

    def is_built(self) -> bool:
        return True

    def reset(self) -> None:
        self.spaces.clear()

    def replace_space(self, space_id, entries) -> int:
        self.spaces[space_id] = {entry.key: entry for entry in entries}
        return len(self.spaces[space_id])

    def write(self, space_id, entries) -> None:
        kept = self.spaces.setdefault(space_id, {})
        for key, entry in entries.items():
            kept.pop(key, None)
            if entry is not None:
                kept[key] = entry

    def forget_space(self, space_id) -> None:
        self.spaces.pop(space_id, None)

    def parse(self, text: str):
        """A list of terms, each a tuple of words (a phrase) or a prefix ending in "*"."""
        terms = []
        for phrase, word in re.findall(r'"([^"]*)"?|(\S+)', text):
            if phrase:
                found = tuple(words(phrase))
                if found:
                    terms.append(found)
            elif word.endswith("*"):
                prefix = fold(word.rstrip("*"))
                if len(re.sub(r"\W", "", prefix)) < 2:
                    raise ServiceError("Tapez au moins deux lettres avant l’étoile.", field="q")
                terms.append(prefix + "*")
            else:
                terms.extend((w,) for w in words(word))
        if not terms:
            raise ServiceError("Ces mots sont trop courants pour chercher : ajoutez un mot plus précis.", field="q")
        return terms

    @staticmethod
    def _holds(found: list[str], term, exact: bool) -> bool:
        if isinstance(term, str):
            return any(w.startswith(term[:-1]) for w in found)
        wanted = list(term) if exact else [stem(w) for w in term]
        seen = found if exact else [stem(w) for w in found]
        return any(seen[n : n + len(wanted)] == wanted for n in range(len(seen) - len(wanted) + 1))

    def _tier(self, entry, terms) -> int | None:
        title, body = words(entry.title), words(entry.body)
        for tier, (fields, exact) in enumerate(
            (((title,), True), ((title,), False), ((title, body), True), ((title, body), False))
        ):
            if all(any(self._holds(field, term, exact) for field in fields) for term in terms):
                return tier
        return None

    def _excerpt(self, entry, terms) -> str:
        marked = {t for term in terms if not isinstance(term, str) for t in term}
        prefixes = [term[:-1] for term in terms if isinstance(term, str)]

        def mark(match):
            word = fold(match.group(0))
            if word in marked or stem(word) in {stem(m) for m in marked} or any(word.startswith(p) for p in prefixes):
                return f'<mark class="match">{match.group(0)}</mark>'
            return match.group(0)

        text = str(escape((entry.body or entry.title)[:220]))
        return re.sub(r"\w+", mark, text)

    def find(self, query, shown, *, skip: int, limit: int):
        from agora.search.backend import Hit

        now = utcnow().replace(tzinfo=None)
        found = []
        for space_id, modules in shown.items():
            for entry in self.spaces.get(space_id, {}).values():
                if modules is not None and entry.module not in modules:
                    continue
                tier = self._tier(entry, query)
                if tier is not None:
                    # At equal relevance the nearest to today, written or planned; no date comes last.
                    away = abs((entry.date.replace(tzinfo=None) - now).total_seconds()) if entry.date else float("inf")
                    found.append((tier, away, entry))
        found.sort(key=lambda item: item[:2])
        page = [
            Hit(e.kind, e.object_id, e.space_id, e.date, self._excerpt(e, query))
            for *_, e in found[skip : skip + limit]
        ]
        return page, len(found) > skip + limit
