"""The offline support verifier with the real embedding model: supported against unsupported claims,
one changed fact, batching, validation on a slice of the human-labelled data, and the seed-corpus
alterations."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from cli_runner import run

import qa.embedding
from qa.config import Settings
from qa.embedding import OnnxEmbedding
from qa.corpus import load_corpus
from qa.errors import ConfigError, CorpusError
from qa.evaluation.alterations import KINDS, alter_claim, build_alterations, corpus_claims
from qa.contradiction import ClaimChecker
from qa.evaluation.features import claim_sentences
from qa.evaluation.validation import (
    SCORERS, SETS, balanced_accuracy, load_examples, render_validation, roc_auc, tune_threshold, validate,
)
from qa.evaluation.verifier import ALL_FEATURES, SupportVerifier, load_weights, verifier_embedder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "faithfulness"
ARTICLE = [
    "The city council of Springfield voted 7 to 2 on Tuesday to approve a $4.5 million budget for public "
    "parks. Mayor Linda Hayes said the money would fund three new playgrounds by 2026.",
    "Opponents, led by councillor Mark Ortiz, argued that the city could not afford the spending. The "
    "budget does not include money for road repairs, officials said.",
]
CHANGED = [  # (faithful, one fact changed)
    ("Mayor Linda Hayes said the money would fund three new playgrounds by 2026.",
     "Mayor Linda Hayes said the money would fund three new playgrounds by 2031."),
    ("The city council voted 7 to 2 on Tuesday to approve a $4.5 million budget.",
     "The city council voted 7 to 2 on Tuesday to approve a $9.5 million budget."),
    ("Mayor Linda Hayes said the money would fund three new playgrounds by 2026.",
     "Mark Ortiz said the money would fund three new playgrounds by 2026."),
    ("The city council voted on Tuesday to approve a budget for public parks.",
     "The city council voted on Tuesday not to approve a budget for public parks."),
    ("The budget does not include money for road repairs, officials said.",
     "The budget does include money for road repairs, officials said."),
]


@pytest.fixture(scope="module")
def checker(language) -> ClaimChecker:
    """Return the structural verdicts over the real spaCy pipeline."""
    return ClaimChecker(language)


@pytest.fixture(scope="module")
def verifier(embedder, checker: ClaimChecker) -> SupportVerifier:
    """Return the verifier with the shipped weights over the real models."""
    return SupportVerifier(embedder, checker=checker)


def test_supported_claim_passes_and_unrelated_claims_fail(verifier: SupportVerifier) -> None:
    supported = verifier.support("Springfield's council approved a $4.5 million parks budget on Tuesday.", ARTICLE)
    off_topic = verifier.support("Scientists found a new species of frog in the Amazon rainforest.", ARTICLE)
    unsupported = verifier.support("The council voted to build a new football stadium downtown.", ARTICLE)
    assert supported >= verifier.threshold > unsupported > off_topic


@pytest.mark.parametrize(("faithful", "altered"), CHANGED, ids=["date", "number", "name", "negate", "un-negate"])
def test_changing_one_fact_lowers_support(verifier: SupportVerifier, faithful: str, altered: str) -> None:
    assert verifier.support(faithful, ARTICLE) > verifier.support(altered, ARTICLE)


def test_summary_copied_from_the_article_outscores_one_with_an_invented_sentence(verifier: SupportVerifier) -> None:
    copied = ("The city council of Springfield voted 7 to 2 on Tuesday to approve a $4.5 million budget for "
              "public parks. Mayor Linda Hayes said the money would fund three new playgrounds by 2026.")
    invented = ("The city council of Springfield voted 7 to 2 on Tuesday to approve a $4.5 million budget for "
                "public parks. The mayor resigned after residents protested against the stadium plan.")
    assert verifier.support(copied, ARTICLE) > verifier.threshold > verifier.support(invented, ARTICLE)


def test_batched_and_single_calls_agree(verifier: SupportVerifier) -> None:
    pairs = [(claim, ARTICLE) for pair in CHANGED for claim in pair] + [(CHANGED[0][0], ARTICLE[:1])]
    batched = verifier.support_many(pairs)
    single = [verifier.support(claim, passages) for claim, passages in pairs]
    assert batched == pytest.approx(single, abs=1e-6)
    assert verifier.support_many(pairs) == batched  # deterministic


def test_claim_without_words_or_passages_without_text_scores_zero(verifier: SupportVerifier) -> None:
    assert verifier.support_many([("", ARTICLE), ("...", ARTICLE), (CHANGED[0][0], []), (CHANGED[0][0], [" "])]) == [
        0.0, 0.0, 0.0, 0.0]


def test_scores_are_probabilities(verifier: SupportVerifier) -> None:
    scores = verifier.support_many([(claim, ARTICLE) for pair in CHANGED for claim in pair])
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_weights_fitted_on_other_features_are_refused(embedder, checker: ClaimChecker) -> None:
    weights = load_weights()
    with pytest.raises(ConfigError, match="fitted on other features"):
        SupportVerifier(embedder, checker=checker, weights={**weights, "features": list(ALL_FEATURES)[:-1]})


def test_shipped_weights_say_what_fitted_them() -> None:
    weights = load_weights()
    assert "dev" in weights["fitted_on"] and 0.0 < weights["threshold"] < 1.0
    assert set(weights["models"]) == {"claim", "summary"}
    assert weights["embed_model"] == "all-MiniLM-L6-v2"


def test_weights_without_their_embedding_model_are_refused(embedder, checker: ClaimChecker) -> None:
    weights = {k: v for k, v in load_weights().items() if k != "embed_model"}
    with pytest.raises(ConfigError, match="embedding model they were fitted with"):
        SupportVerifier(embedder, checker=checker, weights=weights)


def test_verifier_runs_its_own_model_whatever_the_answering_embedder(embedder) -> None:
    weights = load_weights()
    same = Settings(embed_model="all-MiniLM-L6-v2")
    assert verifier_embedder(weights, settings=same, embedder=lambda: embedder) is embedder
    other = Settings(embed_model="text-embedding-3-small", embed_base_url="http://127.0.0.1:9/v1")
    built = verifier_embedder(weights, settings=other, embedder=lambda: pytest.fail("the answering embedder"))
    assert isinstance(built, OnnxEmbedding) and built.model_name == "all-MiniLM-L6-v2"
    vectors = built.get_text_embedding_batch(["The council approved the budget."])
    assert vectors == embedder.get_text_embedding_batch(["The council approved the budget."])


def test_tokenised_summary_splits_into_detokenised_sentences() -> None:
    summary = "the boy 's leg was injured , officials said . he is listed in stable condition ."
    assert claim_sentences(summary) == ["the boy's leg was injured, officials said", "he is listed in stable condition."]


def test_roc_auc_counts_ties_as_half() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert roc_auc([1, 1], [0.2, 0.3]) is None


def test_threshold_maximises_balanced_accuracy() -> None:
    labels, scores = [0, 0, 0, 1, 1], [0.1, 0.2, 0.6, 0.5, 0.9]
    threshold = tune_threshold(labels, scores)
    assert threshold == pytest.approx(0.5)
    assert balanced_accuracy(labels, [s >= threshold for s in scores]) == pytest.approx((1.0 + 2 / 3) / 2)


def _slice(data_dir: Path, target: Path, *, per_cell: int = 2) -> Path:
    """Write the first `per_cell` rows of every (set, split, label) of both files to `target`."""
    target.mkdir()
    for name in ("expertqa_claims.jsonl", "frank_summaries.jsonl"):
        kept, counts = [], {}
        for line in (data_dir / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            cell = (row.get("dataset"), row["split"], row["label"])
            if counts.get(cell, 0) < per_cell:
                counts[cell] = counts.get(cell, 0) + 1
                kept.append(line)
        (target / name).write_text("\n".join(kept) + "\n", encoding="utf-8")
    return target


def test_validation_on_a_slice_of_the_real_data_reports_every_set_and_scorer(tmp_path: Path, embedder,
                                                                            checker: ClaimChecker) -> None:
    report = validate(_slice(DATA, tmp_path / "data"), embedder=embedder, checker=checker)
    assert set(report) == {"data_dir", "verifier", "sets", "seconds"}
    assert report["verifier"]["embed_model"] == "all-MiniLM-L6-v2"
    assert set(report["sets"]) == set(SETS)
    for figures in report["sets"].values():
        assert figures["n"] == 4 and figures["n_dev"] == 4 and figures["positive_share"] == 0.5
        assert set(figures["scorers"]) == set(SCORERS)
        for result in figures["scorers"].values():
            assert set(result) == {"threshold", "balanced_accuracy", "balanced_accuracy_ci95", "roc_auc", "roc_auc_ci95"}
            for figure in ("roc_auc", "balanced_accuracy"):
                low, high = result[f"{figure}_ci95"]
                assert 0.0 <= low <= result[figure] <= high <= 1.0
        for baseline in ("overlap", "minilm_cosine"):
            delta = figures["verifier_vs"][baseline]
            gap = figures["scorers"]["verifier"]["roc_auc"] - figures["scorers"][baseline]["roc_auc"]
            assert delta["roc_auc_delta"] == pytest.approx(gap)
            assert -1.0 <= delta["ci95"][0] <= delta["ci95"][1] <= 1.0
    table = render_validation(report)
    assert table.splitlines()[0].startswith("| set | n test | supported | verifier BAcc | verifier AUC |")
    assert "| FRANK CNN/DM | 4 | 0.500 |" in table
    assert "| set | verifier AUC − content-word overlap [95% paired interval] |" in table


def test_missing_data_directory_is_a_corpus_error(tmp_path: Path, embedder, checker: ClaimChecker) -> None:
    with pytest.raises(CorpusError, match="not a directory of faithfulness data"):
        validate(tmp_path / "absent", embedder=embedder, checker=checker)


def test_missing_file_is_a_corpus_error(tmp_path: Path) -> None:
    (tmp_path / "expertqa_claims.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"frank_summaries\.jsonl: missing"):
        load_examples(tmp_path)


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", r":2: not a JSON object"),
    ('{"split": "dev", "claim": "x", "evidence": "y"}', r":2: missing field 'label'"),
    ('{"split": "dev", "claim": "x", "evidence": "y", "label": 2}', r":2: label must be 0 or 1, not 2"),
])
def test_malformed_line_is_a_corpus_error_naming_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    good = json.dumps({"split": "dev", "claim": "A claim.", "evidence": "A passage.", "label": 1})
    (tmp_path / "expertqa_claims.jsonl").write_text(f"{good}\n{line}\n", encoding="utf-8")
    (tmp_path / "frank_summaries.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(CorpusError, match="expertqa_claims.jsonl" + message):
        load_examples(tmp_path)


def test_alter_claim_changes_exactly_one_fact() -> None:
    claim = "In 2019 the Denver Broncos beat the Green Bay Packers 31 to 24."
    context = claim + " John Elway watched from the stands in 2021, with 70000 fans."
    altered = alter_claim(claim, context, rng=random.Random(0))
    assert altered == {
        "name": "In 2019 the Denver Broncos beat the John Elway 31 to 24.",
        "number": "In 2019 the Denver Broncos beat the Green Bay Packers 70000 to 24.",
        "date": "In 2021 the Denver Broncos beat the Green Bay Packers 31 to 24.",
        "polarity": "In 2019 the Denver Broncos did not beat the Green Bay Packers 31 to 24.",
    }
    assert alter_claim("He didn't win the cup.", "", rng=random.Random(0)) == {"polarity": "He did win the cup."}


def test_seed_corpus_alterations_score_faithful_above_altered(verifier: SupportVerifier, seed_corpus: Path) -> None:
    articles, problems = load_corpus(seed_corpus)
    assert problems == []
    pairs = build_alterations(corpus_claims(articles), rng=random.Random(0))
    assert len(pairs) >= 50 and {p.kind for p in pairs} >= {"name", "date", "polarity"}
    assert set(KINDS) >= {p.kind for p in pairs}
    scores = verifier.support_many([(p.faithful, p.passages) for p in pairs] + [(p.altered, p.passages) for p in pairs])
    faithful, altered = scores[:len(pairs)], scores[len(pairs):]
    wins = sum(f > a for f, a in zip(faithful, altered))
    assert wins / len(pairs) >= 0.9, f"faithful > altered in {wins} of {len(pairs)} pairs"


def test_passages_given_as_one_string_count_as_one_passage(verifier: SupportVerifier) -> None:
    claim = CHANGED[0][0]
    assert verifier.support(claim, " ".join(ARTICLE)) == pytest.approx(verifier.support(claim, [" ".join(ARTICLE)]))


def test_qa_eval_validate_prints_the_table_and_saves_it_in_the_data_folder(tmp_path: Path, embedder) -> None:
    data = _slice(DATA, tmp_path / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(qa.embedding, "build_embedder", lambda settings: embedder)
        result = run(["eval", "validate", "--data", str(data)], {"QA_DATA_DIR": str(tmp_path / "qa")})
    assert result.exit_code == 0, result.output
    saved = tmp_path / "qa" / "validation"
    assert json.loads((saved / "validation.json").read_text())["sets"].keys() >= {"expertqa", "frank_cnndm"}
    assert (saved / "validation.md").read_text().strip() in result.output
    assert result.output.rstrip().endswith(f"wrote {saved / 'validation.json'} and {saved / 'validation.md'}")


def test_seed_corpus_alterations_are_rejected_and_rephrasings_accepted(verifier: SupportVerifier, language,
                                                                       seed_corpus: Path) -> None:
    articles, _ = load_corpus(seed_corpus)
    claims = corpus_claims(articles)
    parses = dict(zip([c for c, _ in claims], language.parse_many([c for c, _ in claims])))
    pairs = build_alterations(claims, rng=random.Random(0), parses=parses)
    assert {p.kind for p in pairs if not p.keeps_meaning} >= {"stance", "quantifier", "place", "polarity", "name"}
    assert {p.kind for p in pairs if p.keeps_meaning} >= {"passive", "copula", "apposition", "demonym", "date_format"}
    scores = verifier.support_many([(p.altered, p.passages) for p in pairs] + [(c, p) for c, p in claims])
    rewritten, faithful = scores[:len(pairs)], scores[len(pairs):]
    altered = [s for p, s in zip(pairs, rewritten) if not p.keeps_meaning]
    rephrased = [s for p, s in zip(pairs, rewritten) if p.keeps_meaning]
    assert sum(s < verifier.threshold for s in altered) / len(altered) >= 0.9
    assert sum(s >= verifier.threshold for s in rephrased) / len(rephrased) >= 0.95
    assert sum(s >= verifier.threshold for s in faithful) / len(faithful) >= 0.95
