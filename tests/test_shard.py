"""`qa ingest --shard i/n`: how a folder is split, and `qa ingest` processes of each shard started together
into one `chroma run` server, ending with the store one plain ingest writes."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from cli_runner import env_for, reuse_model, run
from conftest import unique_collection
from test_crash import EXTRA, HARBOUR

from qa.config import Settings, get_settings
from qa.errors import BadRequest
from qa.shard import Shard, parse_shard, shard_of

INGEST_TIMEOUT = 300  # three processes on two cores, each loading the models
TOLERANCE = 1e-5  # embeddings of one text batched with other texts differ in the last digits


def test_a_shard_spec_is_i_of_n_counted_from_one() -> None:
    assert parse_shard("1/2") == Shard(1, 2)
    assert parse_shard("2/2") == Shard(2, 2)
    assert parse_shard("1/1") == Shard(1, 1)
    assert str(parse_shard(" 3 / 4 ")) == "3/4"


@pytest.mark.parametrize(("spec", "message"), [
    ("0/2", "shard '0/2': shards are numbered 1 to 2"),
    ("3/2", "shard '3/2': shards are numbered 1 to 2"),
    ("1/0", "shard '1/0': the number of shards must be 1 to 10000"),
    ("2", "shard '2' is not i/n (e.g. 1/2 and 2/2 for two processes)"),
    ("-1/2", "shard '-1/2' is not i/n (e.g. 1/2 and 2/2 for two processes)"),
    ("a/b", "shard 'a/b' is not i/n (e.g. 1/2 and 2/2 for two processes)"),
])
def test_a_bad_shard_spec_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_shard(spec)
    assert str(caught.value) == message


def test_the_shards_of_a_folder_hold_each_file_once() -> None:
    paths = [f"desk-{d}/story-{n}.txt" for d in range(5) for n in range(200)]
    for count in (1, 2, 3, 7):
        holders = [[i for i in range(1, count + 1) if Shard(i, count).holds(p)] for p in paths]
        assert all(len(h) == 1 for h in holders)
        sizes = [sum(h == [i] for h in holders) for i in range(1, count + 1)]
        assert min(sizes) > len(paths) / count * 0.8  # near even


def test_a_files_shard_depends_only_on_its_path_in_the_folder() -> None:
    # pinned: another machine, another Python or another checkout of the folder splits it the same way
    assert [shard_of(p, count=2) for p in ("rail-strike.txt", "us-angry-with-macron.txt", "later/rail-strike.txt")] \
        == [1, 2, 2]
    assert shard_of("desk\\story.txt", count=5) == shard_of("desk/story.txt", count=5)


# the CLI --------------------------------------------------------------------------------------------------

@pytest.fixture
def _one_model_load(embedder) -> Iterator[None]:
    """Make in-process `qa` invocations reuse the session's real model."""
    yield from reuse_model(embedder)


@pytest.mark.parametrize("spec", ["0/2", "3/2", "1/2/3", "half"])
def test_qa_ingest_with_a_bad_shard_fails_in_one_line_and_changes_nothing(settings_factory, seed_corpus: Path,
                                                                          spec: str) -> None:
    settings = settings_factory("embedded")

    result = run(["ingest", str(seed_corpus), "--shard", spec], env_for(settings))

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: shard {spec!r}") and len(result.stderr.splitlines()) == 1
    assert not settings.data_dir.exists()  # not even an empty store was made


def test_qa_ingest_refuses_prune_with_a_shard(settings_factory, seed_corpus: Path) -> None:
    settings = settings_factory("embedded")

    result = run(["ingest", str(seed_corpus), "--shard", "1/2", "--prune"], env_for(settings))

    assert (result.exit_code, result.stderr) == (1, "error: --prune removes what the whole folder does not hold, "
                                                    "so it cannot run with --shard; run it on its own once every "
                                                    "shard is done\n")
    assert not settings.data_dir.exists()


# processes of each shard at once into one server ----------------------------------------------------------

@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, seed_corpus: Path) -> Path:
    """Return a folder with articles in both halves, and one article twice, its two files in different halves."""
    folder = Path(shutil.copytree(seed_corpus, tmp_path_factory.mktemp("shard") / "corpus"))
    for name, text in {**EXTRA, "harbour-record": HARBOUR, "rail-strike-copy": EXTRA["rail-strike"]}.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    halves = {shard_of(p.name, count=2) for p in folder.iterdir()}
    assert halves == {1, 2}
    assert shard_of("rail-strike.txt", count=2) != shard_of("rail-strike-copy.txt", count=2)
    return folder


def qa_ingest(settings: Settings, *args: str) -> subprocess.Popen:
    """Return a started `qa ingest ARGS` process over the store of `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(env_for(settings), ANONYMIZED_TELEMETRY="False")
    qa = Path(sys.executable).parent / "qa"
    return subprocess.Popen([str(qa), "ingest", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)


def finish(process: subprocess.Popen) -> tuple[str, list[str]]:
    """Return the summary a finished `qa ingest` printed and its `skipped` lines; fail if it failed."""
    out, err = process.communicate(timeout=INGEST_TIMEOUT)
    assert process.returncode == 0, err[-2000:]
    return out, sorted(line for line in err.splitlines() if line.startswith("skipped "))


def records(settings: Settings) -> dict[str, dict[str, tuple]]:
    """Return every record of the store's collections: {collection: {id: (document, metadata, embedding)}}."""
    port = int(settings.chroma_url.rsplit(":", 1)[1])
    client = chromadb.HttpClient(host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False))
    out = {}
    for kind in ("chunks", "articles", "sentences"):
        got = client.get_collection(f"{settings.collection}_{kind}").get(include=["documents", "metadatas", "embeddings"])
        out[kind] = {rid: (doc, meta, [float(x) for x in vector]) for rid, doc, meta, vector
                     in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])}
    return out


def differences(ended: dict, expected: dict) -> list[str]:
    """Return what differs between two stores' records: ids, documents and metadata exactly, embeddings
    within TOLERANCE."""
    found = []
    for kind, rows in expected.items():
        if set(ended[kind]) != set(rows):
            found.append(f"{kind}: ids {sorted(set(ended[kind]) ^ set(rows))} in one store only")
            continue
        for rid, (doc, meta, vector) in rows.items():
            other_doc, other_meta, other_vector = ended[kind][rid]
            if (other_doc, other_meta) != (doc, meta):
                found.append(f"{kind} {rid}: document or metadata differ")
            elif len(vector) != len(other_vector) or not all(
                    math.isclose(a, b, abs_tol=TOLERANCE) for a, b in zip(vector, other_vector)):
                found.append(f"{kind} {rid}: embedding differs")
    return found


@pytest.mark.slow
def test_two_shards_at_once_write_the_store_one_ingest_writes(corpus: Path, chroma_server: str, tmp_path: Path,
                                                              _one_model_load) -> None:
    plain = get_settings(chroma_url=chroma_server, collection=unique_collection(), data_dir=tmp_path / "plain")
    sharded = get_settings(chroma_url=chroma_server, collection=unique_collection(), data_dir=tmp_path / "sharded")

    runs = [qa_ingest(sharded, str(corpus), "--shard", "1/2"), qa_ingest(sharded, str(corpus), "--shard", "2/2"),
            qa_ingest(plain, str(corpus))]
    (first, first_skipped), (second, second_skipped), (whole, whole_skipped) = [finish(p) for p in runs]

    halves = [sorted(p.stem for p in corpus.iterdir() if Shard(i, 2).holds(p.name)) for i in (1, 2)]
    print(f"\nshards at once: 1/2 {first.splitlines()[0]}; 2/2 {second.splitlines()[0]}; one ingest "
          f"{whole.splitlines()[0]}")
    assert whole.startswith("6 added, 0 updated, 0 removed, 0 unchanged")
    assert int(first.split()[0]) + int(second.split()[0]) == 6
    # the article held twice is stored once, from the file read first, whichever shard holds each file
    assert sorted(first_skipped + second_skipped) == whole_skipped == [
        "skipped rail-strike.txt: the same article as rail-strike-copy.txt; stored once, as 'rail-strike-copy'"]
    ended, expected = records(sharded), records(plain)
    assert differences(ended, expected) == []
    assert set(ended["articles"]) == {*halves[0], *halves[1]} - {"rail-strike"}

    again = run(["ingest", str(corpus), "--shard", "2/2"], env_for(sharded))
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith(f"0 added, 0 updated, 0 removed, {len(halves[1]) - ('rail-strike' in halves[1])} "
                                   "unchanged (0 chunks embedded)")
    assert differences(records(sharded), expected) == []


@pytest.mark.slow
def test_a_shard_removes_only_its_own_gone_files(corpus: Path, chroma_server: str, tmp_path: Path,
                                                 _one_model_load) -> None:
    folder = Path(shutil.copytree(corpus, tmp_path / "corpus"))
    settings = get_settings(chroma_url=chroma_server, collection=unique_collection(), data_dir=tmp_path / "data")
    env = env_for(settings)
    for spec in ("1/2", "2/2"):
        assert run(["ingest", str(folder), "--shard", spec], env).exit_code == 0
    gone = {i: next(p for p in sorted(folder.iterdir()) if Shard(i, 2).holds(p.name) and p.stem != "rail-strike")
            for i in (1, 2)}
    for path in gone.values():
        path.unlink()

    first = run(["ingest", str(folder), "--shard", "1/2"], env)

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[1:] == [f"removed {gone[1].stem}: its file {gone[1].name} is gone from "
                                             f"{folder.resolve()}"]
    stored = set(records(settings)["articles"])
    assert gone[2].stem in stored and gone[1].stem not in stored

    second = run(["ingest", str(folder), "--shard", "2/2"], env)

    assert second.stdout.splitlines()[1:] == [f"removed {gone[2].stem}: its file {gone[2].name} is gone from "
                                              f"{folder.resolve()}"]
    assert gone[2].stem not in set(records(settings)["articles"])
