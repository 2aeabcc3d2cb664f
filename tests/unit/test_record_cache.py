"""The validation cache: a warm run (or one sharing the work out over processes) finds exactly
what a cold run finds, a changed file is read again, a broken cache is ignored, and
`--base` reads only the files that differ from the base."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXED_NOW, git
from isg import record_cache
from isg import summaries as summaries_module
from isg.git_history import read_record_files_at
from isg.layout import CACHE_DIR
from isg.lifecycle import check_lifecycle
from isg.records import parse_registry, read_record_files
from isg.summary_store import STORE_FILE
from isg.validation import validate_repository

HOUR_AGO = time.time() - 3600


def _age(root: Path) -> None:
    """Make every record look written an hour ago (the cache does not trust fresh files)."""
    for path in (root / "records").rglob("*"):
        os.utime(path, (HOUR_AGO, HOUR_AGO))


def _plant_problems(root: Path) -> None:
    incidents = root / "records" / "incidents"
    first, second = sorted(incidents.glob("*.yaml"))[:2]
    text = first.read_text()
    first.write_text(text.replace("reporting_state: ", "reporting_state: XX", 1))  # reference
    second.write_text(second.read_text() + "bogus_key: 1\n")  # schema
    (incidents / "INC-2026-ZZZZZ.yaml").write_text("id: [\n")  # YAML
    (incidents / "INC-2026-ZZZZY.yaml").write_text(
        text.replace("Central Authority", "Central Authority (call +33 6 12 34 56 78)")
    )  # privacy and a duplicate id
    _age(root)


def _lines(root: Path, **kw: object) -> list[str]:
    result = validate_repository(root, now=FIXED_NOW, **kw)  # type: ignore[arg-type]
    return [f"{f.path}:{f.line}:{f.column}: {f.rule}: {f.message}" for f in result.findings]


def test_warm_run_finds_exactly_what_a_cold_run_finds(registry: Path, counted: list[str]) -> None:
    _plant_problems(registry)
    cold = _lines(registry, use_cache=False)
    assert len(cold) >= 5
    assert not (registry / CACHE_DIR).exists()
    first = _lines(registry)
    counted.clear()
    warm = _lines(registry)
    assert cold == first == warm
    assert counted == []  # nothing read again


def test_parallel_summaries_equal_sequential_ones(
    registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plant_problems(registry)
    sequential = _lines(registry, use_cache=False)
    monkeypatch.setattr(summaries_module, "PARALLEL_FROM", 1)
    assert _lines(registry, use_cache=False) == sequential


def test_a_changed_file_is_read_again(registry: Path, counted: list[str]) -> None:
    _age(registry)
    assert _lines(registry) == []
    target = sorted((registry / "records" / "incidents").glob("*.yaml"))[0]
    target.write_text(target.read_text().replace("reporting_state: ", "reporting_state: XX", 1))
    os.utime(target, (HOUR_AGO + 60, HOUR_AGO + 60))
    counted.clear()
    lines = _lines(registry)
    assert counted == [target.relative_to(registry).as_posix()]
    assert len(lines) == 1 and "unknown state" in lines[0]


def test_a_new_member_address_rechecks_records_that_mention_one(registry: Path) -> None:
    member = sorted((registry / "records" / "members").glob("*.yaml"))[0]
    incident = sorted((registry / "records" / "incidents").glob("*.yaml"))[0]
    incident.write_text(
        incident.read_text().replace("title: ", "title: Write to new.person@example.org about ", 1)
    )
    _age(registry)
    assert any("e-mail" in line for line in _lines(registry))
    text = member.read_text()
    address = next(line for line in text.splitlines() if line.startswith("email:"))
    member.write_text(text.replace(address, "email: new.person@example.org"))
    os.utime(member, (HOUR_AGO + 60, HOUR_AGO + 60))
    assert _lines(registry) == _lines(registry, use_cache=False)
    assert not any("e-mail" in line for line in _lines(registry))


def _stored_rows(root: Path) -> int:
    with sqlite3.connect(root / CACHE_DIR / STORE_FILE) as db:
        return int(db.execute("SELECT count(*) FROM files").fetchone()[0])


@pytest.mark.parametrize(
    "content",
    [b"not a database", b"SQLite format 3\0" + b"\xff" * 200, b"", b"SQLite format 3\0"],
)
def test_a_broken_cache_is_ignored_and_replaced(registry: Path, content: bytes) -> None:
    _plant_problems(registry)
    cold = _lines(registry, use_cache=False)
    (registry / CACHE_DIR).mkdir(parents=True)
    (registry / CACHE_DIR / STORE_FILE).write_bytes(content)
    assert _lines(registry) == cold
    assert _stored_rows(registry) > 100
    assert _lines(registry) == cold


def test_a_cache_with_damaged_rows_is_dropped(registry: Path) -> None:
    """Rows SQLite can read but isg cannot (a cache edited by hand) fail safe."""
    _plant_problems(registry)
    cold = _lines(registry, use_cache=False)
    _lines(registry)
    with sqlite3.connect(registry / CACHE_DIR / STORE_FILE) as db:
        db.execute("DROP TABLE refs")
    assert _lines(registry) == cold
    assert _stored_rows(registry) > 100


def test_a_cache_that_git_tracks_is_never_used(git_repo: Path) -> None:
    """A pull request could commit .isg/cache with rows saying its bad records are fine."""
    assert _lines(git_repo) == []
    incident = sorted((git_repo / "records" / "incidents").glob("*.yaml"))[0]
    incident.write_text(incident.read_text().replace("reporting_state: ", "reporting_state: XX", 1))
    git(git_repo, "add", "-A")
    git(git_repo, "add", "-f", ".isg")
    git(git_repo, "commit", "-qm", "a bad record and a cache that hides it")
    tree = git(git_repo, "rev-parse", "HEAD:records").strip()
    with sqlite3.connect(git_repo / CACHE_DIR / STORE_FILE) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'tree'", (tree,))
        db.execute("UPDATE meta SET value = '[]' WHERE key = 'dirty'")
    git(git_repo, "commit", "-qam", "the cache, up to date")
    lines = _lines(git_repo)
    assert len(lines) == 1 and "unknown state 'XX" in lines[0]
    git(git_repo, "rm", "-rq", "--cached", ".isg")
    git(git_repo, "commit", "-qm", "untrack")
    with sqlite3.connect(git_repo / CACHE_DIR / STORE_FILE) as db:  # the planted lie
        db.execute("UPDATE meta SET value = ? WHERE key = 'tree'", (tree,))
    assert _lines(git_repo) == []  # proof that the lie would have worked


def test_a_cache_from_other_schemas_is_not_used(registry: Path, counted: list[str]) -> None:
    _age(registry)
    _lines(registry)
    schema = registry / "schemas" / "incident.schema.json"
    schema.write_text(schema.read_text().replace('"title"', '"title" ', 1))
    counted.clear()
    _lines(registry)
    assert len(counted) > 100


def test_base_reads_only_changed_files_and_agrees_with_reading_everything(
    git_repo: Path,
) -> None:
    incidents = sorted((git_repo / "records" / "incidents").glob("*.yaml"))
    closed = next(p for p in incidents if "status: closed" in p.read_text())
    closed.write_text(closed.read_text().replace("status: closed", "status: new", 1))
    incidents[0].unlink() if incidents[0] != closed else incidents[1].unlink()
    git(git_repo, "commit", "-qam", "change")
    lines = [line for line in _lines(git_repo, base_ref="HEAD~1") if ": lifecycle: " in line]
    base = parse_registry(read_record_files_at(git_repo, "HEAD~1"))
    head = parse_registry(read_record_files(git_repo))
    everything = sorted(check_lifecycle(base, head))
    assert lines == [f"{f.path}:{f.line}:{f.column}: {f.rule}: {f.message}" for f in everything]
    assert len(lines) == 2


def test_an_unknown_base_is_a_clear_error(git_repo: Path) -> None:
    from isg.errors import RegistryError

    with pytest.raises(RegistryError, match="unknown git revision '--output=x'"):
        validate_repository(git_repo, now=FIXED_NOW, base_ref="--output=x")


def _snapshot(root: Path, **kw: object) -> tuple[object, ...]:
    from isg.record_cache import load_registry
    from isg.schemas import load_schemas

    registry = load_registry(root, load_schemas(root), **kw)  # type: ignore[arg-type]
    return (
        [(r.path, r.data, r.document.first_line) for r in registry.records],
        sorted(registry.valid_paths or ()),
        registry.load_findings,
        sorted(registry.attachments),
    )


def test_cached_registry_is_the_registry_read_from_disk(registry: Path) -> None:
    _plant_problems(registry)
    cold = _snapshot(registry, use_cache=False)
    assert _snapshot(registry) == cold  # fills the cache
    assert _snapshot(registry) == cold  # read from it
    assert len(cold[1]) < len(cold[0])  # the planted schema error is not valid
    assert cold[2] and cold[3]  # a YAML error, and the patch beside an RfC


def test_the_data_cache_is_written_in_batches_as_one_json_document(registry: Path) -> None:
    """Batch by batch, the bytes are those of one `json.dumps` (with a batch boundary inside
    the entries, at their end, and with no entries at all)."""
    import json

    from isg.record_cache import DATA_FILE, OTHER_FILE, RecordCache, cache_salt, load_registry
    from isg.schemas import load_schemas

    loaded = load_registry(registry, load_schemas(registry))
    caches = [RecordCache.open(registry, cache_salt(registry), f) for f in (DATA_FILE, OTHER_FILE)]
    # Incidents in one file, the other records in the other.
    assert {len(c.entries) for c in caches} == {
        sum(1 for r in loaded.records if r.kind.name == "incident"),
        sum(1 for r in loaded.records if r.kind.name != "incident"),
    }
    cache = caches[1]
    assert len(cache.entries) > 50
    whole = {"salt": cache.salt, "written_ns": 7, "entries": cache.entries}
    expected = json.dumps(whole, separators=(",", ":")).encode()
    for batch in (1, 7, len(cache.entries), 10_000):
        assert b"".join(cache.encoded(7, batch)) == expected
    empty = RecordCache(None, "s")
    assert b"".join(empty.encoded(7, 3)) == b'{"salt":"s","written_ns":7,"entries":{}}'
    saved = json.loads((registry / CACHE_DIR / OTHER_FILE).read_bytes())
    assert saved["entries"] == json.loads(expected)["entries"]


def test_cached_registry_positions_come_from_the_file(registry: Path) -> None:
    from isg.record_cache import load_registry
    from isg.schemas import load_schemas

    _age(registry)
    load_registry(registry, load_schemas(registry))
    record = load_registry(registry, load_schemas(registry)).get("state", "FR")
    assert record is not None and record.document._values is None  # from the cache
    assert record.document.position(("calendar", "timezone")).line > 1


class _Terminal:
    def __init__(self, tty: bool) -> None:
        self.text, self.tty = "", tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_progress_is_drawn_on_a_terminal_only() -> None:
    from isg.cli.common import Progress

    terminal, log = _Terminal(True), _Terminal(False)
    for stream in (terminal, log):
        progress = Progress("isg validate: reading records", stream=stream)
        progress(500, 2000)
        progress(2000, 2000)
        progress.finish()
    assert terminal.text == (
        "\risg validate: reading records: 500/2000 (25 %)"
        "\risg validate: reading records: 2000/2000 (100 %)\n"
    )
    assert log.text == ""


def test_in_a_git_work_tree_changes_are_seen_without_trusting_stale_cache(
    git_repo: Path, counted: list[str]
) -> None:
    """git vouches for unchanged files by blob; edited, untracked and deleted files are read
    (or dropped) whatever the cache says."""
    assert _lines(git_repo) == []
    counted.clear()
    assert _lines(git_repo) == []
    assert counted == []  # every file known by its blob
    incidents = sorted((git_repo / "records" / "incidents").glob("*.yaml"))
    edited, deleted = incidents[0], incidents[1]
    edited.write_text(edited.read_text().replace("reporting_state: ", "reporting_state: XX", 1))
    deleted.unlink()
    (git_repo / "records" / "incidents" / "INC-2026-ZZZZZ.yaml").write_text("id: [\n")
    counted.clear()
    lines = _lines(git_repo)
    assert sorted(counted) == sorted(
        [edited.relative_to(git_repo).as_posix(), "records/incidents/INC-2026-ZZZZZ.yaml"]
    )
    assert lines == _lines(git_repo, use_cache=False)
    assert any("unknown state" in line for line in lines)
    assert any("INC-2026-ZZZZZ.yaml:" in line and ": yaml: " in line for line in lines)
    assert not any(deleted.name in line for line in lines)


def test_a_registry_in_a_sub_folder_of_a_repository(tmp_path: Path, registry: Path) -> None:
    """git lists paths relative to the registry, not to the repository's top."""
    import shutil

    top = tmp_path / "top"
    inner = top / "governance" / "isupport"
    inner.parent.mkdir(parents=True)
    shutil.copytree(registry, inner)
    git(top, "init", "-q", "-b", "main")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "registry")
    incident = sorted((inner / "records" / "incidents").glob("*.yaml"))[0]
    incident.write_text(incident.read_text().replace("reporting_state: ", "reporting_state: XX", 1))
    cold = _lines(inner, use_cache=False)
    assert len(cold) == 1 and "unknown state" in cold[0]
    assert _lines(inner) == cold
    assert _lines(inner) == cold
    with_base = _lines(inner, base_ref="HEAD")
    assert [line for line in with_base if ": lifecycle: " not in line] == cold
    assert any("reporting_state of a closed incident cannot change" in x for x in with_base)


def test_a_read_only_cache_is_worked_around(
    registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache isg may neither write nor delete (a read-only checkout, another user's files)
    changes nothing: the run reads every file instead. (Simulated: tests run as root, whom
    file modes do not stop.)"""
    from isg.summary_store import SummaryStore

    _plant_problems(registry)
    assert _lines(registry) == _lines(registry, use_cache=False)
    target = sorted((registry / "records" / "incidents").glob("*.yaml"))[5]
    target.write_text(target.read_text().replace("reporting_state: ", "reporting_state: YY", 1))
    os.utime(target, (HOUR_AGO + 120, HOUR_AGO + 120))
    expected = _lines(registry, use_cache=False)

    def read_only(*args: object) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    original_unlink = Path.unlink

    def no_unlink(self: Path, missing_ok: bool = False) -> None:
        if self.name == STORE_FILE:
            raise PermissionError(13, "Permission denied", str(self))
        original_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(SummaryStore, "put", read_only)
    monkeypatch.setattr(Path, "unlink", no_unlink)
    assert _lines(registry) == expected
    assert len(expected) == len([x for x in expected if x]) > 5


@pytest.mark.parametrize(
    ("key", "value"), [("dirty", "not json"), ("dirty", '{"a": 1}'), ("written_ns", "soon")]
)
def test_damaged_bookkeeping_in_the_cache_means_looking_at_every_file(
    git_repo: Path, key: str, value: str
) -> None:
    """The store's own notes (what was dirty, when it was written) edited by hand: the run
    compares every file instead, and finds what a cold run finds."""
    assert _lines(git_repo) == []
    incident = sorted((git_repo / "records" / "incidents").glob("*.yaml"))[0]
    incident.write_text(incident.read_text().replace("reporting_state: ", "reporting_state: XX", 1))
    with sqlite3.connect(git_repo / CACHE_DIR / STORE_FILE) as db:
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
    assert _lines(git_repo) == _lines(git_repo, use_cache=False)
    assert len(_lines(git_repo)) == 1


def test_a_few_changed_records_are_appended_to_a_journal(
    registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One changed or removed record does not rewrite the whole data cache; what it reads back
    is still the registry on disk; past the journal's limit the file is written whole."""
    from isg import record_cache
    from isg.record_cache import DATA_FILE

    _age(registry)
    data = registry / CACHE_DIR / DATA_FILE
    journal = data.with_name(DATA_FILE + ".journal")
    _snapshot(registry)  # fills the cache
    whole = data.read_bytes()
    assert not journal.exists()
    incidents = sorted((registry / "records" / "incidents").glob("*.yaml"))
    incidents[0].write_text(incidents[0].read_text().replace("title: ", "title: Changed, ", 1))
    _age(registry)
    incidents[1].unlink()
    expected = _snapshot(registry, use_cache=False)
    assert _snapshot(registry) == expected
    assert data.read_bytes() == whole  # not rewritten
    lines = [json.loads(line) for line in journal.read_bytes().splitlines() if line.strip()]
    assert sorted(line[1] for line in lines) == sorted(
        p.relative_to(registry).as_posix() for p in incidents[:2]
    )
    assert [line[2] for line in lines if line[1].endswith(incidents[1].name)] == [None]
    assert _snapshot(registry) == expected  # the journal read back; nothing new appended
    assert len(journal.read_bytes().splitlines()) == 3  # a leading newline and two lines
    # A line cut short, or one amending another version of the file, is ignored.
    with journal.open("ab") as handle:
        handle.write(b'\n[1, "records/incidents/x.yaml", [null, []]]\n[0, "records/inc')
    assert _snapshot(registry) == expected
    monkeypatch.setattr(record_cache, "JOURNAL_LIMIT", 0)
    incidents[2].write_text(incidents[2].read_text().replace("title: ", "title: Again, ", 1))
    _age(registry)
    expected = _snapshot(registry, use_cache=False)
    assert _snapshot(registry) == expected
    assert data.read_bytes() != whole and not journal.exists()  # written whole again
    assert _snapshot(registry) == expected


def test_a_journal_entry_that_is_wrong_costs_a_read_never_a_wrong_answer(registry: Path) -> None:
    from isg.record_cache import DATA_FILE

    _age(registry)
    _snapshot(registry)
    stored = json.loads((registry / CACHE_DIR / DATA_FILE).read_bytes())
    rel = sorted(stored["entries"])[0]
    entry = stored["entries"][rel]
    entry[1][3] = {"id": "planted"}  # the data, with the file's own blob and stat
    entry[0] = [0, 0, 0]  # a stat no file has: not trusted
    if entry[1][2] is not None:
        entry[1][2] = "0" * 40  # a blob no file has
    line = json.dumps([stored["written_ns"], rel, entry])
    (registry / CACHE_DIR / (DATA_FILE + ".journal")).write_text(line + "\n")
    assert _snapshot(registry) == _snapshot(registry, use_cache=False)


def test_only_some_records_are_loaded_as_the_whole_registry_has_them(registry: Path) -> None:
    """A site rebuild loads the records besides incidents and the few changed incidents,
    without decoding the incidents' cache (isg.render.rebuild)."""
    from isg import record_cache
    from isg.record_cache import DATA_FILE, OTHER_FILE, current_files, load_registry
    from isg.schemas import load_schemas

    schemas = load_schemas(registry)
    whole = load_registry(registry, schemas)
    wanted = [r.path for r in whole.records if r.kind.name != "incident"]
    wanted.append(next(r.path for r in whole.records if r.kind.name == "incident"))
    opened: list[str] = []
    original = record_cache.RecordCache.open.__func__  # type: ignore[attr-defined]

    def spy(cls: type, root: Path, salt: str, name: str = DATA_FILE) -> object:
        opened.append(name)
        return original(cls, root, salt, name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(record_cache.RecordCache, "open", classmethod(spy))
        some = load_registry(registry, schemas, listing=current_files(registry), only=wanted)
    assert opened == [OTHER_FILE]
    assert [(r.path, r.data) for r in some.records] == [
        (r.path, r.data) for r in whole.records if r.path in set(wanted)
    ]
    assert some.valid_paths == (whole.valid_paths or frozenset()) & set(wanted)
    # The whole registry again: the incidents' cache was left as it was.
    assert [(r.path, r.data) for r in load_registry(registry, schemas).records] == [
        (r.path, r.data) for r in whole.records
    ]


def test_package_versions_are_those_importlib_metadata_gives() -> None:
    """Read from the metadata folders' names: the same versions importlib.metadata reads
    from each package's METADATA, whatever the spelling of the name asked."""
    from importlib import metadata

    asked = ["Jinja2", "MarkupSafe", "markdown-it-py", "nh3", "PyYAML", "holidays", "jsonschema_rs"]
    expected = [f"{name} {metadata.version(name)}" for name in asked]
    assert record_cache.package_versions(asked) == expected
    assert record_cache.package_versions(["no-such-package-here"]) == ["no-such-package-here -"]


def test_package_versions_take_the_first_install_along_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "Some_Lib-2.0.1.dist-info").mkdir(parents=True)
    (second / "some_lib-1.0.dist-info").mkdir(parents=True)
    (second / "old.pkg-0.9-py3.11.egg-info").mkdir()
    (second / "notes-1.0.txt").write_text("not metadata")
    monkeypatch.setattr(sys, "path", [str(first), str(tmp_path / "gone"), str(second)])
    record_cache._installed.cache_clear()
    try:
        found = record_cache.package_versions(["some-lib", "Old_Pkg", "notes"])
    finally:
        record_cache._installed.cache_clear()
    assert found == ["some-lib 2.0.1", "Old_Pkg 0.9", "notes -"]
