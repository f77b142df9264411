"""Generate ConCNER's small demo corpus (English source, German translation, German unlabelled and test text).

The sentences are written for this project: bilingual sentence templates (English + German, same entity slots)
filled with invented or generic names of people, companies, clubs, institutions, events and products and with real
place names. The output is deterministic for a given seed, so the committed files can be checked byte for byte::

    python concner/demo_data/make_demo_data.py                 # rewrite the files next to this script
    python concner/demo_data/make_demo_data.py --output_dir D  # write them elsewhere

Files (CoNLL 2-column ``token TAG``, IOB2, a blank line after every sentence, UTF-8):

- ``en_train.txt``       English source sentences (D_SRC)
- ``en_dev.txt``         English dev sentences (model selection on the source language)
- ``de_translation.txt`` German translation of ``en_train.txt``, sentence i <-> i, entity types carried over (D_TGT)
- ``de_unlabeled.txt``   German sentences, one per line, whitespace tokenised, no labels (D_U)
- ``de_test.txt``        German test sentences (new sentences; a quarter of the entity pools is held out of
  training and half of the test slots draw from that held-out part)

The word lists, entity pools, fillers and templates are data, in ``demo_data.json`` next to this script (its
``about`` entry describes each list); this file holds only the generator.

Template syntax: tokens are separated by single spaces; ``{KIND<n>}`` or ``{KIND<n>.form}`` is an entity slot
(``n`` distinguishes two slots of the same kind in one sentence, ``form`` picks a grammatical form such as the German
dative); ``{DAY}``, ``{NUM}`` ... are unlabelled fillers; ``[P1:der_Minister|die_Ministerin]`` picks words by the
grammatical gender of person ``P1`` (underscores become spaces). In a form string, text before ``|`` is an article
outside the entity (tag ``O``), text after it is the entity.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from datasets import Dataset

from concner.data.conll_io import write_conll, write_text

SEED = 20240617
SIZES = {"train": 240, "dev": 60, "test": 100, "unlabeled": 300}
HELDOUT_EVERY = 4  # every 4th entry of each pool is held out of the training data
DEV_HELDOUT_RATE = 0.2
TEST_HELDOUT_RATE = 0.5

DATA_FILE = Path(__file__).resolve().parent / "demo_data.json"
DATA = json.loads(DATA_FILE.read_text(encoding="utf-8"))
POOLS: dict[str, list] = DATA["pools"]
BILINGUAL_TEMPLATES: list[tuple[str, str]] = [(en, de) for en, de in DATA["bilingual_templates"]]
GERMAN_TEMPLATES: list[str] = DATA["german_templates"]
LABELS: dict[str, str] = DATA["slot_types"]  # slot kind -> entity type
LIST_FILLERS: dict[str, list[list[str]]] = DATA["fillers"]  # kind -> [English, German] choices
NUMBER_FILLERS: dict[str, list[int]] = DATA["number_fillers"]  # kind -> [lowest, highest]
FILLERS = set(LIST_FILLERS) | set(NUMBER_FILLERS)

_SLOT = re.compile(r"^\{([A-Z]+)(\d?)(?:\.(\w+))?\}$")
_GENDERED = re.compile(r"^\[([A-Z]+\d):([^|\]]*)\|([^\]]*)\]$")


@dataclass(frozen=True)
class Entity:
    """One entity: its type and its surface forms (``"article|entity"``) per language and grammatical form."""

    label: str
    en: dict[str, str]
    de: dict[str, str]
    gender: str = "n"

    def key(self) -> str:
        return self.en[""] + " / " + self.de.get("", next(iter(self.de.values())))


def _forms(keys: Iterable[str], values: Iterable[str | None]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in zip(keys, values):
        if v is not None:
            out[k] = v
    return out


def build_pools() -> dict[str, list[Entity]]:
    """All entity pools (slot kind -> entities), in a fixed order, from the ``pools`` of ``demo_data.json``."""
    data = POOLS

    def same(kind: str, names: Iterable[str]) -> list[Entity]:
        return [Entity(LABELS[kind], {"": name}, {"": name}) for name in names]

    def translated(kind: str, pairs: Iterable[list[str]]) -> list[Entity]:
        return [Entity(LABELS[kind], {"": en}, {"": de}) for en, de in pairs]

    pools: dict[str, list[Entity]] = {}
    people = []
    first_names = data["first_names"]
    for i, last in enumerate(data["last_names"]):
        for j in (0, 17, 31):  # three first names per surname, spread over the list
            first, gender = first_names[(i * 7 + j) % len(first_names)]
            full = f"{first} {last}"
            people.append(Entity(LABELS["P"], {"": full, "last": last}, {"": full, "last": last}, gender))
    pools["P"] = people
    pools["C"] = translated("C", data["cities"])
    pools["K"] = translated("K", data["countries"])
    pools["R"] = translated("R", data["regions"])
    pools["O"] = same("O", [name for name in data["companies"] if name not in data["airlines"]])
    pools["AL"] = same("AL", data["airlines"])
    pools["F"] = same("F", data["clubs"])
    pools["M"] = same("M", data["media"])
    pools["PR"] = same("PR", data["products"])
    pools["A"] = [
        Entity(LABELS["A"], {"": en}, {"": stem + "e", **{e: stem + e for e in ("e", "en", "es", "er")}})
        for en, stem in data["nationalities"]
    ]
    for kind, table in (("IE", data["econ_institutions"]), ("IG", data["other_institutions"])):
        pools[kind] = [
            Entity(LABELS[kind], {"": en}, _forms(("", "nom", "acc", "dat", "gen"), (nom, nom, nom, dat, gen or dat)))
            for en, nom, dat, gen in table
        ]
    pools["ES"] = [
        Entity(LABELS["ES"], {"": row[0]}, _forms(("", "nom", "acc", "dat", "gen", "bei"), (row[1], *row[1:])))
        for row in data["sport_events"]
    ]
    pools["EC"] = [
        Entity(LABELS["EC"], {"": row[0]}, _forms(("", "nom", "acc", "dat", "gen"), (row[1], *row[1:])))
        for row in data["culture_events"]
    ]
    pools["AW"] = [Entity(LABELS["AW"], {"": en}, {"": de, "acc": de}) for en, de in data["awards"]]
    return pools


def split_pool(pool: list[Entity]) -> tuple[list[Entity], list[Entity]]:
    """(seen, held out): every HELDOUT_EVERY-th entity is kept out of the training and dev data.

    People are split by surname, so that a held-out person's surname never occurs in the training data.
    """
    surnames = list(dict.fromkeys(e.en.get("last", e.key()) for e in pool))
    held_names = {name for i, name in enumerate(surnames) if i % HELDOUT_EVERY == HELDOUT_EVERY - 1}
    seen = [e for e in pool if e.en.get("last", e.key()) not in held_names]
    held = [e for e in pool if e.en.get("last", e.key()) in held_names]
    return seen, held


def _filler(kind: str, rng: random.Random) -> tuple[str, str]:
    """(English, German) text of an unlabelled filler slot."""
    if kind in LIST_FILLERS:
        english, german = rng.choice(LIST_FILLERS[kind])
        return english, german
    low, high = NUMBER_FILLERS[kind]
    value = str(rng.randint(low, high))
    return value, value


@dataclass
class Filling:
    """The entities and fillers chosen for one sentence."""

    entities: dict[str, Entity] = field(default_factory=dict)
    fillers: dict[str, tuple[str, str]] = field(default_factory=dict)


def slots_of(template: str) -> list[tuple[str, str]]:
    """(kind, instance key) of every entity slot in a template, in order of appearance."""
    out = []
    for token in template.split(" "):
        match = _SLOT.match(token)
        if match and match.group(1) not in FILLERS:
            out.append((match.group(1), match.group(1) + match.group(2)))
    return out


def choose(
    templates: list[str],
    pools: dict[str, list[Entity]],
    held: dict[str, list[Entity]],
    heldout_rate: float,
    rng: random.Random,
) -> Filling:
    """Pick entities (distinct within the sentence) and fillers for every slot of the templates."""
    filling = Filling()
    for template in templates:
        for token in template.split(" "):
            match = _SLOT.match(token)
            if not match:
                continue
            kind, key = match.group(1), match.group(1) + match.group(2)
            if kind in FILLERS:
                if kind not in filling.fillers:
                    filling.fillers[kind] = _filler(kind, rng)
                continue
            if key in filling.entities:
                continue
            source = held[kind] if held[kind] and rng.random() < heldout_rate else pools[kind]
            used = {e.key() for e in filling.entities.values()}
            used |= {e.en["last"] for e in filling.entities.values() if "last" in e.en}  # no two people share a name
            candidates = [e for e in source if e.key() not in used and e.en.get("last") not in used]
            filling.entities[key] = rng.choice(candidates)
    return filling


def _phrase(form: str, label: str) -> list[tuple[str, str]]:
    article, _, entity = form.rpartition("|")
    tokens = [(t, "O") for t in article.split()]
    words = entity.split()
    return tokens + [(w, ("B-" if i == 0 else "I-") + label) for i, w in enumerate(words)]


def render(template: str, filling: Filling, lang: str) -> list[tuple[str, str]]:
    """Tokens and IOB2 tags of one template filled in one language (``"en"`` or ``"de"``)."""
    out: list[tuple[str, str]] = []
    for token in template.split(" "):
        slot = _SLOT.match(token)
        gendered = _GENDERED.match(token)
        if slot:
            kind, key, form = slot.group(1), slot.group(1) + slot.group(2), slot.group(3) or ""
            if kind in FILLERS:
                text = filling.fillers[kind][0 if lang == "en" else 1]
                out += [(t, "O") for t in text.split()]
                continue
            entity = filling.entities[key]
            forms = entity.en if lang == "en" else entity.de
            if lang == "en" and form not in forms:
                form = ""
            if form not in forms:
                raise KeyError(f"entity {entity.key()!r} has no {lang} form {form!r} (template: {template})")
            out += _phrase(forms[form], entity.label)
        elif gendered:
            entity = filling.entities[gendered.group(1)]
            words = gendered.group(2) if entity.gender == "m" else gendered.group(3)
            out += [(t, "O") for t in words.replace("_", " ").split()]
        else:
            out.append((token, "O"))
    first, tag = out[0]
    if first[:1].islower():
        out[0] = (first[:1].upper() + first[1:], tag)
    return out


def _cycle(n: int, size: int, rng: random.Random) -> list[int]:
    """n template indices: every template equally often (up to one), in a shuffled order."""
    order: list[int] = []
    while len(order) < n:
        block = list(range(size))
        rng.shuffle(block)
        order += block
    return order[:n]


def _sentence_key(tokens: list[tuple[str, str]]) -> str:
    return " ".join(t for t, _ in tokens)


def generate(seed: int = SEED) -> dict[str, list[list[tuple[str, str]]]]:
    """All splits as lists of sentences (lists of ``(token, tag)``); deterministic for a given seed."""
    rng = random.Random(seed)
    pools = build_pools()
    seen = {k: split_pool(v)[0] for k, v in pools.items()}
    held = {k: split_pool(v)[1] for k, v in pools.items()}
    everything = {k: v for k, v in pools.items()}
    empty_held: dict[str, list[Entity]] = {k: [] for k in pools}

    used: set[str] = set()  # every German and English sentence produced so far: no repeats across files

    def fresh(make):
        for _ in range(1000):
            result = make()
            keys = [_sentence_key(s) for s in result]
            if not any(k in used for k in keys):
                used.update(keys)
                return result
        raise RuntimeError("could not draw a new sentence; enlarge the pools")

    train_en, train_de, dev_en = [], [], []
    for index in _cycle(SIZES["train"], len(BILINGUAL_TEMPLATES), rng):
        en_t, de_t = BILINGUAL_TEMPLATES[index]

        def make(en_t=en_t, de_t=de_t):
            filling = choose([en_t, de_t], seen, empty_held, 0.0, rng)
            return render(en_t, filling, "en"), render(de_t, filling, "de")

        en, de = fresh(make)
        train_en.append(en)
        train_de.append(de)
    for index in _cycle(SIZES["dev"], len(BILINGUAL_TEMPLATES), rng):
        en_t, de_t = BILINGUAL_TEMPLATES[index]

        def make(en_t=en_t):
            return (render(en_t, choose([en_t], seen, held, DEV_HELDOUT_RATE, rng), "en"),)

        dev_en.append(fresh(make)[0])

    german = [de for _, de in BILINGUAL_TEMPLATES]
    test_templates = GERMAN_TEMPLATES + german  # German-only templates first: about half of the test set
    test = []
    n_german_only = SIZES["test"] // 2
    order = _cycle(n_german_only, len(GERMAN_TEMPLATES), rng)
    order += [len(GERMAN_TEMPLATES) + i for i in _cycle(SIZES["test"] - n_german_only, len(german), rng)]
    for index in order:
        template = test_templates[index]

        def make(template=template):
            return (render(template, choose([template], seen, held, TEST_HELDOUT_RATE, rng), "de"),)

        test.append(fresh(make)[0])

    unlabeled = []
    all_german = GERMAN_TEMPLATES + german
    for index in _cycle(SIZES["unlabeled"], len(all_german), rng):
        template = all_german[index]

        def make(template=template):
            return (render(template, choose([template], everything, empty_held, 0.0, rng), "de"),)

        unlabeled.append(fresh(make)[0])
    return {
        "en_train": train_en,
        "en_dev": dev_en,
        "de_translation": train_de,
        "de_test": test,
        "de_unlabeled": unlabeled,
    }


def _dataset(sentences: list[list[tuple[str, str]]]) -> Dataset:
    """Sentences of ``(token, tag)`` as the ``tokens``/``ner_tags`` columns `concner.data.conll_io` writes."""
    return Dataset.from_dict(
        {"tokens": [[t for t, _ in s] for s in sentences], "ner_tags": [[tag for _, tag in s] for s in sentences]}
    )


def write_corpus(output_dir: str | Path, seed: int = SEED) -> list[Path]:
    """Write the corpus files into ``output_dir`` (each through a temporary file and a rename).

    The labelled files are CoNLL 2-column text (`concner.data.conll_io.write_conll`), ``de_unlabeled.txt`` one
    sentence per line (`concner.data.conll_io.write_text`).

    Args:
        output_dir: Target folder (created if missing).
        seed: Random seed; the default reproduces the committed files.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    splits = generate(seed)
    written = []
    for name in ("en_train", "en_dev", "de_translation", "de_test"):
        write_conll(_dataset(splits[name]), output_dir / f"{name}.txt")
        written.append(output_dir / f"{name}.txt")
    write_text(_dataset(splits["de_unlabeled"]).remove_columns("ner_tags"), output_dir / "de_unlabeled.txt")
    written.append(output_dir / "de_unlabeled.txt")
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python make_demo_data.py [--output_dir DIR] [--seed N]``."""
    parser = argparse.ArgumentParser(description="Generate the ConCNER demo corpus.")
    parser.add_argument("--output_dir", default=str(Path(__file__).resolve().parent))
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    try:
        for path in write_corpus(args.output_dir, args.seed):
            print(path)
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
