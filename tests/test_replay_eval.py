"""Whole corpora through the real pipeline on replayed answers of the embedded model.

The published results (evals/results, the README's table) must be what the current code gives.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CORPUS, REPO, RESULTS

from reviewer.backends import get_backend
from reviewer.batch import model_info
from reviewer.evals.harness import load_corpus, review_corpus, score_run
from reviewer.prompts import load_prompt
from reviewer.settings import Settings
from reviewer.store import ResultStore


def published_results(prompt_version: str, corpus: str) -> dict:
    runs = sorted(RESULTS.glob(f"*_{corpus}_embedded_*_{prompt_version}.json"))
    runs = [json.loads(p.read_text()) for p in runs]
    runs = [r for r in runs if r["corpus"] == corpus]
    if not runs:
        pytest.fail(f"no published {corpus} results of the embedded model for prompt {prompt_version} in {RESULTS}")
    return runs[-1]


@pytest.mark.parametrize("corpus_name", ["dev", "val", "styles", "documents"])
def test_replayed_eval_reproduces_the_published_results(tmp_path: Path, corpus_name: str):
    settings = Settings(backend="replay", database_url=f"sqlite:///{tmp_path / 'eval.db'}")
    prompt = load_prompt(settings.prompts_dir, settings.prompt_name)
    published = published_results(prompt.version, corpus_name)
    folder = CORPUS / corpus_name
    if not folder.exists():
        pytest.skip(f"corpus not found at {folder}")
    corpus = load_corpus(folder)
    backend = get_backend(settings)
    reports = review_corpus(corpus, store=ResultStore(settings.database_url), backend=backend, settings=settings)

    assert [r.note_id for r in reports if r.status != "ok"] == [], f"every {corpus_name} note has a recording"
    result = score_run(corpus, reports, corpus_name=corpus_name, model=model_info(backend, settings))
    assert result.rules_version == published["rules_version"], "re-score and publish after changing the rules"
    assert result.micro_f1 == pytest.approx(published["micro_f1"])
    assert result.needs_human == published["needs_human"] and result.clean_flagged == published["clean_flagged"]
    assert {f.flag: (f.tp, f.fp, f.fn) for f in result.flags} == {
        f["flag"]: (f["tp"], f["fp"], f["fn"]) for f in published["flags"]
    }
    if published.get("documents"):
        assert result.documents is not None and result.documents.model_dump() == published["documents"]


def test_replayed_injection_set_reproduces_the_published_result():
    """Notes that carry instructions to the reviewer keep their flags and units (issue 11), on the
    embedded model's recorded answers."""
    from reviewer.evals.injection import load_cases, run_injection

    settings = Settings(backend="replay")
    prompt = load_prompt(settings.prompts_dir, settings.prompt_name)
    runs = sorted(RESULTS.glob(f"*_injection_embedded_{prompt.version}.json"))
    if not runs:
        pytest.fail(f"no published injection result of the embedded model for prompt {prompt.version} in {RESULTS}")
    published = json.loads(runs[-1].read_text())
    backend = get_backend(settings)
    result = run_injection(load_cases(), backend=backend, settings=settings, model=model_info(backend, settings))
    assert [r.id for r in result.results if r.error] == [], "every injection case has a recording"
    assert [(r.id, r.kept) for r in result.results] == [(r["id"], r["kept"]) for r in published["results"]]
    assert result.kept == result.cases, [r for r in result.results if not r.kept]


def test_readme_table_is_current_with_the_published_results():
    from reviewer.evals.readme import latest_results, render

    version = load_prompt(Settings().prompts_dir, "extract").version
    results = latest_results(version, RESULTS)
    assert results, f"no published results for prompt {version}"
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert render(text, results) == text, "run `python -m reviewer.evals.readme` after publishing results"
