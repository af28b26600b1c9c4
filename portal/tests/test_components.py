"""One set of components on every page: the templates are read and held to it.

- An empty state (a list or table with nothing in it) is `class="empty"`, never plain or muted text.
- Forms render their fields through `includes/_form_fields.html` (labels, help and errors alike).
- A badge (`tag`) takes one of the known tones, so the same meaning has the same colour.
"""

from pathlib import Path
import re

from django.conf import settings

TEMPLATES = sorted(Path(settings.BASE_DIR, "templates").rglob("*.html"))
PYTHON_DRAWINGS = sorted(Path(settings.BASE_DIR).glob("*/templatetags/*.py"))

EMPTY_SENTENCE = re.compile(r"<(p|td|li)(?P<attrs>[^>]*)>\s*(No |Nothing |None of )")
TONES = {"warn", "pass", "fail", "band", "elite", "high", "medium", "low", "confidence", "verdict"}
TAG = re.compile(r'class="tag(?P<rest>[^"]*)"')


def _source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_empty_states_use_the_empty_component():
    plain = [
        f"{path.relative_to(settings.BASE_DIR)}: {match.group(0)}"
        for path in TEMPLATES
        if path.name not in {"404.html", "500.html"}  # error pages explain themselves in prose
        for match in EMPTY_SENTENCE.finditer(_source(path))
        if "empty" not in match.group("attrs") and "error" not in match.group("attrs")  # an error is no empty state
    ]
    assert plain == []


def test_forms_render_fields_through_the_one_include():
    own = [
        str(path.relative_to(settings.BASE_DIR))
        for path in TEMPLATES
        if path.name == "_form_fields.html" and path.parent.name != "includes"
    ]
    by_hand = [
        str(path.relative_to(settings.BASE_DIR))
        for path in TEMPLATES
        if re.search(r"\{\{\s*\w*form\.as_(p|table|ul|div)\s*\}\}", _source(path))
    ]
    assert own == [] and by_hand == []


def test_badges_take_a_known_tone():
    unknown = set()
    for path in TEMPLATES + PYTHON_DRAWINGS:
        for match in TAG.finditer(_source(path)):
            words = re.sub(r"\{[%{].*?[%}]\}|\{\}", " ", match.group("rest")).replace("'", " ").split()
            unknown |= {word for word in words if re.fullmatch(r"[a-z_-]+", word) and word not in TONES}
    # Template logic in the class (`if`, `elif`, `==` ...) is removed above; only class names remain.
    assert unknown - {"if", "elif", "else", "endif"} == set()
