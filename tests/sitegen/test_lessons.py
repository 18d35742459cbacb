"""The guided path (``[[lessons]]`` in site.toml): parsed like scenes, its claims checked at build
time (a false one stops the build naming the lesson step), and one app page per step with a bar
of plain Back/Next links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import build
from sitegen import BuildError
from sitegen.cache import Memo, build_session
from sitegen.claims import check_all
from sitegen.config import load_config, parse_config
from sitegen.render import lesson_bar, render
from tests.sitegen.test_build import _csp, _embedded, _plain_inputs, kept, no_disk  # noqa: F401
from vi_core.protocol import Session

ROOT = Path(__file__).resolve().parents[2]


def _lesson(slug: str, **fields) -> dict:
    return {"slug": slug, "title": slug.upper(), "target": "banana", "family": "gaussian-full",
            **fields}


def test_lessons_are_parsed_in_order_with_their_steps():
    q = {"means": [[-0.9, -0.7]], "scales": [[0.3, 0.3]]}
    config = parse_config({"lessons": [_lesson("a", text="First.", q=q),
                                       _lesson("b", family="mixture-3", optimizer="adam")]},
                          "test.toml", Session())
    a, b = config["lessons"]
    assert (a["kind"], a["step"], a["slug"], a["text"]) == ("lesson", 1, "a", "First.")
    assert a["defaults"]["natural"]["means"] == q["means"]
    assert (b["step"], b["defaults"]["family"], b["defaults"]["optimizer"]) == (
        2, "mixture-3", "adam")
    assert config["scenes"] == []
    # No [[lessons]]: none.
    assert parse_config({}, "test.toml", kept())["lessons"] == []


@pytest.mark.parametrize(("raw", "message"), [
    ({"lessons": [_lesson("a"), {"slug": "b", "title": "B"}]},
     "test.toml: lesson step 2 lacks family, target"),
    ({"lessons": [_lesson("a"), _lesson("a")]},
     "test.toml: lesson step 2: slug 'a' must be unique"),
    ({"lessons": [_lesson("a", target="nope")]}, r"test.toml: lesson step 1 \(a\): "),
    ({"lessons": [_lesson("a", claims=[{"says": "x", "wider_q_trades_terms": 0.5}])]},
     r"lesson step 1 \(a\): claim 1 \('x'\): wider_q_trades_terms must be a number above 1"),
])
def test_lesson_config_errors_say_where(raw, message):
    with pytest.raises(BuildError, match=message):
        parse_config(raw, "test.toml", kept())


def _claimed(*claims: dict, **lesson) -> dict:
    fields = {"q": {"means": [[-0.9, -0.7]], "scales": [[0.3, 0.3]]}, **lesson}
    return {"lessons": [_lesson("start"), _lesson("gap", claims=list(claims), **fields)]}


def test_a_false_lesson_claim_stops_the_build_naming_the_lesson(tmp_path, capsys):
    true = {"says": "the ELBO is more than 13 nats below log Z", "start_kl_above": 13.0}
    assert check_all(parse_config(_claimed(true), "test.toml", kept())) == 1
    false = {"says": "q is nearly exact", "start_kl_below": 1.0}
    with pytest.raises(BuildError, match=r"^lesson step 2 'gap': the claim 'q is nearly exact' is "
                                         r"false for what the page shows: "
                                         r"start_kl = 13\.04, not < 1"):
        check_all(parse_config(_claimed(true, false), "test.toml", kept()))
    # Through the command line: the build stops before writing anything, and says why.
    config = tmp_path / "test.toml"
    config.write_text('[[lessons]]\nslug = "gap"\ntitle = "Gap"\ntarget = "banana"\n'
                      'family = "gaussian-full"\n'
                      'q = { means = [[-0.9, -0.7]], scales = [[0.3, 0.3]] }\n'
                      '[[lessons.claims]]\nsays = "q is nearly exact"\nstart_kl_below = 1.0\n')
    out = tmp_path / "dist"
    assert build.main(["--config", str(config), "--out", str(out), "--offline",
                       "--cache-dir", str(tmp_path / "cache")]) == 1
    assert ("build failed: lesson step 1 'gap': the claim 'q is nearly exact' is false"
            in capsys.readouterr().err)
    assert not out.exists()


@pytest.mark.parametrize(("claim", "why"), [
    ({"says": "log Z is 0", "log_z_above": 0.0}, r"log_z = -0\.6931, not > 0"),
    ({"says": "log Z is below -1", "log_z_below": -1.0}, r"log_z = -0\.6931, not < -1"),
    ({"says": "q is far off", "start_kl_above": 20.0}, r"start_kl = 13\.04, not > 20"),
    ({"says": "q is wide", "start_entropy_above": 1.0}, r"start_entropy = 0\.4299, not > 1"),
    ({"says": "q is narrow", "start_entropy_below": 0.0}, r"start_entropy = 0\.4299, not < 0"),
    ({"says": "a mixture does much worse", "kl_better_than": {"family": "mixture-full", "by": 0.0}},
     r"KL\(gaussian-full\) - KL\(mixture-full\) = 0\.1451 - 0\.006.*not by less than -0"),
])
def test_each_new_kind_of_false_claim_is_caught(claim, why):
    with pytest.raises(BuildError, match=f"lesson step 2 'gap'.*{why}"):
        check_all(parse_config(_claimed(claim), "test.toml", kept()))


def test_widening_q_trades_the_two_terms():
    claim = {"says": "widen q: H[q] rises, E_q[log p~] falls", "wider_q_trades_terms": 2.0}
    # A narrow q on the banana's ridge: twice the scales, more entropy and a lower first term.
    on_ridge = {"means": [[0.0, 0.1]], "scales": [[0.15, 0.15]]}
    assert check_all(parse_config(_claimed(claim, q=on_ridge), "test.toml", kept())) == 1
    # A mixture's components widen too (each scale times the factor).
    assert check_all(parse_config(_claimed(claim, family="mixture-3", q=None), "test.toml",
                                  kept())) == 1
    # In the hole of the ring a wider q reaches the ring: E_q[log p~] rises, the claim is false.
    hole = {"means": [[0.2, 0.3]], "scales": [[0.1, 0.1]]}
    with pytest.raises(BuildError,
                       match=r"lesson step 2 'gap'.*E_q\[log p~\] by \+[0-9.]+, not up and down"):
        check_all(parse_config(_claimed(claim, target="ring", q=hole), "test.toml", kept()))


def _with_lessons(n: int) -> tuple[dict, dict, dict]:
    config, data, assets = _plain_inputs()
    lessons = [{"kind": "lesson", "step": i + 1, "slug": f"s{i + 1}", "title": f"Step <{i + 1}>",
                "text": f"Sentence {i + 1} & more.", "claims": [],
                "defaults": {**config["defaults"],
                             "family": "mixture-3" if i == 1 else "gaussian-full"}}
               for i in range(n)]
    first = data["first_views"]["main"]
    data = {**data, "first_views": {**data["first_views"],
                                    "lessons": {lesson["slug"]: first for lesson in lessons}}}
    return {**config, "lessons": lessons}, data, assets


def _hrefs(html: str, testid: str) -> list[str]:
    return re.findall(rf'data-testid="{testid}"[^>]*href="([^"]*)"', html)


def test_each_step_is_an_app_page_with_back_and_next(no_disk):  # noqa: F811
    config, data, assets = _with_lessons(3)
    pages = render(config, data, assets)
    assert {"lessons/index.html", "lessons/1-s1.html", "lessons/2-s2.html",
            "lessons/3-s3.html"} <= set(pages)
    first, middle, last = (pages[f"lessons/{i}-s{i}.html"] for i in (1, 2, 3))
    # Plain links, relative to lessons/: no Back on the first step, no Next on the last.
    assert (_hrefs(first, "lesson-back"), _hrefs(first, "lesson-next")) == ([], ["2-s2.html"])
    assert (_hrefs(middle, "lesson-back"), _hrefs(middle, "lesson-next")) == (
        ["1-s1.html"], ["3-s3.html"])
    assert (_hrefs(last, "lesson-back"), _hrefs(last, "lesson-next")) == (["2-s2.html"], [])
    assert _hrefs(last, "lesson-restart") == ["1-s1.html"]
    assert "step 2 of 3" in middle and "<h1>Step &lt;2&gt;</h1>" in middle
    assert '<p class="lesson-text" data-testid="lesson-text">Sentence 2 &amp; more.</p>' in middle
    assert '<a href="index.html">Lessons</a>' in middle
    # The step's state is the page's: its defaults and first view, the views and assets one up.
    assert _embedded(middle)["defaults"]["family"] == "mixture-3"
    assert _embedded(middle)["views_url"] == "../views/"
    assert 'src="../assets/app.js"' in middle and 'href="../assets/style.css"' in middle
    # The same policy as every served page: no inline script or style.
    assert _csp(middle) == _csp(pages["index.html"]) == _csp(pages["lessons/index.html"])
    assert "<script>" not in middle and "<style>" not in middle
    # The index lists the steps in order; the main page, scene pages and scenes index link it.
    index = pages["lessons/index.html"]
    assert re.findall(r'<li><a href="([^"]*)"', index) == ["1-s1.html", "2-s2.html", "3-s3.html"]
    assert 'href="lessons/index.html"' in pages["index.html"]
    assert 'href="../lessons/index.html"' in pages["scenes/one.html"]
    assert 'href="../lessons/index.html"' in pages["scenes/index.html"]
    assert "lessons/index.html" not in pages["standalone.html"]


def test_no_lessons_no_pages_and_no_link(no_disk):  # noqa: F811
    config, data, assets = _plain_inputs()
    pages = render(config, data, assets)
    assert not any(path.startswith("lessons/") for path in pages)
    assert "lessons/index.html" not in pages["index.html"] + pages["scenes/index.html"]


def test_a_single_step_has_neither_back_nor_next():
    bar = lesson_bar([{"step": 1, "slug": "only", "title": "Only", "text": ""}], 0)
    assert (bar["back"], bar["next"], bar["first"], bar["count"]) == (None, None, "1-only.html", 1)


def test_the_sites_lessons_follow_the_article_and_every_step_carries_true_claims():
    # (As the build checks them: a claim that held for the same step and source is not refit.)
    config = load_config(ROOT / "site.toml", build_session(Memo(ROOT / ".cache" / "pyodide")))
    lessons = config["lessons"]
    assert 6 <= len(lessons) <= 8
    assert [lesson["slug"] for lesson in lessons][:7] == [
        "target", "q", "two-terms", "bound", "optimize", "mode-seeking", "posterior"]
    assert all(lesson["claims"] and lesson["text"] for lesson in lessons)
    assert check_all({"scenes": [], "lessons": lessons}, ROOT / ".cache" / "pyodide" / "claims") \
        == sum(len(lesson["claims"]) for lesson in lessons)
