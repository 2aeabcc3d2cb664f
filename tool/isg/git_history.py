"""Records as git knows them: the files at a revision, and when milestones were first committed."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from isg.errors import RegistryError
from isg.layout import RECORDS_DIR
from isg.model import FirstSeen
from isg.records import LINK_MARKER, TOO_LARGE_MARKER
from isg.safe_yaml import MAX_BYTES


class _LazyGit:
    """GitPython, imported on first use: it costs 70 ms, and `isg validate` never needs it
    (plain git commands serve the cache and --base)."""

    def __getattr__(self, name: str) -> Any:
        import git as module

        globals()["git"] = module
        return getattr(module, name)


git: Any = _LazyGit()


def read_record_files_at(root: Path, ref: str) -> dict[str, bytes]:
    """Every file under `records/` at `ref`, keyed by registry-relative POSIX path (`root`
    may be a sub-folder of the repository). Links and over-size blobs are marked the way
    `records.read_record_files` marks them. One `git ls-tree` and one `git cat-file --batch`.
    """
    return read_blobs(root, record_blobs_at(root, ref))


def record_blobs_at(root: Path, ref: str) -> dict[str, tuple[str, int, str]]:
    """(mode, size, blob id) of every file under `records/` at `ref`, by registry-relative
    path, from one `git ls-tree` (no file is read)."""
    top, prefix = _top_and_prefix(root)
    commit = commit_of(top, ref)
    command = ["git", "-C", str(top), "ls-tree", "-r", "-l", "-z", "--full-tree", commit]
    done = subprocess.run([*command, "--", f"{prefix}{RECORDS_DIR}/"], capture_output=True)
    if done.returncode != 0:
        raise RegistryError("git ls-tree failed: " + done.stderr.decode("utf-8", "replace"))
    found: dict[str, tuple[str, int, str]] = {}
    for entry in done.stdout.split(b"\0"):
        if not entry:
            continue
        meta, name = entry.split(b"\t", 1)
        mode, kind, blob, size = meta.split()
        if kind != b"blob":
            continue
        rel = name.decode("utf-8", "surrogateescape")[len(prefix) :]
        found[rel] = (mode.decode(), int(size) if size != b"-" else 0, blob.decode())
    return found


OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256


Side = tuple[str, str]  # (mode, blob id) of a path in a tree; mode '000000': not there


@dataclass(frozen=True)
class WorkTree:
    """What git says about `records/` now, and which paths may differ from a known state."""

    tree: str | None  # the tree id of records/ at HEAD (None: no commit, or no records/)
    dirty: frozenset[str]  # paths that differ from HEAD (edited, staged, deleted, untracked)
    changed: frozenset[str] | None  # changed between the given tree and HEAD; None: unknown
    at_head: dict[str, Side] = field(default_factory=dict)  # of the edited paths
    at_base: dict[str, Side] | None = None  # of the paths changed between the base and HEAD

    def changed_since_base(self) -> frozenset[str]:
        """Paths whose content in the work tree may differ from the base commit's."""
        return frozenset(self.at_base or ()) | self.dirty

    def base_sides(self) -> dict[str, Side]:
        """(mode, blob) at the base of each path of `changed_since_base` that was there."""
        found: dict[str, Side] = {}
        for rel in self.changed_since_base():
            side = (self.at_base or {}).get(rel) or self.at_head.get(rel)
            if side is not None and side[0] != ABSENT:
                found[rel] = side
        return found


ABSENT = "000000"


def work_tree(root: Path, tree: str | None, base: str | None = None) -> WorkTree | None:
    """The state of `root/records/` as git knows it (None outside a git work tree), with the
    paths changed between the tree `tree` and HEAD, and between the commit `base` and HEAD
    (with their blobs at the base).

    The git commands run at once, each in C over the index, the trees or the folders; no
    file is read. A path listed may be unchanged (a file merely touched): compare blobs.
    """
    records = f"{RECORDS_DIR}/"
    trees = {"head": _start(root, "rev-parse", "--verify", "--quiet", f"HEAD:./{RECORDS_DIR}")}
    if base is not None:
        trees["base"] = _start(root, "rev-parse", "--verify", "--quiet", f"{base}:./{RECORDS_DIR}")
    listings = {
        "edited": _start(root, "diff-index", "-z", "--relative", "HEAD", "--", records),
        "others": _start(root, "ls-files", "--others", "-z", "--", records),
    }
    ids = {name: _finish(process) for name, process in trees.items()}
    head, base_tree = (_object_id(ids.get(name)) for name in ("head", "base"))
    # Each distinct pair of trees is compared once (a pull request's cache is often the
    # base's: then both questions have one answer), none when the trees are equal.
    pairs = {(old, head) for old in (tree, base_tree) if old is not None and head is not None}
    diffs = {
        pair: _start(root, "diff-tree", "-r", "-z", "--no-renames", *pair)
        for pair in pairs
        if pair[0] != pair[1]
    }
    out = {name: _finish(process) for name, process in listings.items()}
    if out["others"] is None:
        return None  # not a git work tree
    dirty = _names(out["others"])
    at_head: dict[str, Side] = {}
    if out["edited"] is not None:
        at_head = _old_sides(out["edited"])
        dirty |= set(at_head)
    else:  # no HEAD yet: everything in the index differs from it
        staged = _finish(_start(root, "ls-files", "-z", "--", records))
        if staged is None:
            return None
        dirty |= _names(staged)
    changes: dict[str, dict[str, Side] | None] = {}
    for (old, _), process in diffs.items():
        done = _finish(process)
        changes[old] = None if done is None else _old_sides(done, records)

    def since(old: str | None) -> dict[str, Side] | None:
        if old is None or head is None:
            return None
        return {} if old == head else changes[old]

    changed = since(tree)
    return WorkTree(
        tree=head,
        dirty=frozenset(dirty),
        changed=None if changed is None else frozenset(changed),
        at_head=at_head,
        at_base=since(base_tree),
    )


def _old_sides(out: bytes, prefix: str = "") -> dict[str, Side]:
    """Path -> (mode, blob) on the old side, from the raw `-z` output of git diff-*."""
    found: dict[str, Side] = {}
    fields = out.split(b"\0")
    for index in range(0, len(fields) - 1, 2):
        meta, name = fields[index], fields[index + 1]
        if not meta.startswith(b":"):
            break
        old_mode, _, old_blob, _, _ = meta[1:].split(b" ")
        found[prefix + name.decode("utf-8", "surrogateescape")] = (
            old_mode.decode(),
            old_blob.decode(),
        )
    return found


def blob_sizes(root: Path, sides: dict[str, Side]) -> dict[str, tuple[str, int, str]]:
    """(mode, size, blob) of each path, as `record_blobs_at` gives them: the sizes from one
    `git cat-file --batch-check`."""
    if not sides:
        return {}
    wanted = sorted(sides)
    request = b"".join(sides[rel][1].encode() + b"\n" for rel in wanted)
    done = subprocess.run(
        ["git", "-C", str(root), "cat-file", "--batch-check"], input=request, capture_output=True
    )
    if done.returncode != 0:
        raise RegistryError("git cat-file failed: " + done.stderr.decode("utf-8", "replace"))
    found = {}
    for rel, line in zip(wanted, done.stdout.splitlines(), strict=True):
        parts = line.split()
        size = int(parts[2]) if len(parts) == 3 else 0
        found[rel] = (sides[rel][0], size, sides[rel][1])
    return found


def _object_id(out: bytes | None) -> str | None:
    return out.decode().strip() if out else None


def _start(root: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["git", "-C", str(root), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )


def _finish(process: subprocess.Popen[bytes]) -> bytes | None:
    out, _ = process.communicate()
    return out if process.returncode == 0 else None


def _names(out: bytes, prefix: str = "") -> set[str]:
    return {prefix + name.decode("utf-8", "surrogateescape") for name in out.split(b"\0") if name}


def base_commit(root: Path, ref: str) -> str:
    """The commit `ref` names, for comparing the registry at `root` with it."""
    top, _ = _top_and_prefix(root)
    return commit_of(top, ref)


def commit_of(top: Path, ref: str) -> str:
    """The commit `ref` names. Resolved first, so that the name never reaches a command where
    it could pass as an option."""
    commit = _git(top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if commit is None:
        raise RegistryError(f"unknown git revision '{ref}'")
    return commit


def read_blobs(root: Path, blobs: dict[str, tuple[str, int, str]]) -> dict[str, bytes]:
    """The content of the given files (as `record_blobs_at` describes them), in one
    `git cat-file --batch`; links and over-size blobs marked as `read_record_files` does."""
    top, _ = _top_and_prefix(root)
    files: dict[str, bytes] = {}
    wanted = []
    for rel, (mode, size, blob) in blobs.items():
        if mode == "120000":
            files[rel] = LINK_MARKER
        elif size > MAX_BYTES:
            files[rel] = TOO_LARGE_MARKER
        else:
            wanted.append((rel, blob))
    if not wanted:
        return files
    request = b"".join(blob.encode() + b"\n" for _, blob in wanted)
    done = subprocess.run(
        ["git", "-C", str(top), "cat-file", "--batch"],
        input=request,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise RegistryError("git cat-file failed: " + done.stderr.decode("utf-8", "replace"))
    out, offset = done.stdout, 0
    for rel, _ in wanted:
        header_end = out.index(b"\n", offset)
        size = int(out[offset:header_end].split()[2])
        files[rel] = out[header_end + 1 : header_end + 1 + size]
        offset = header_end + 1 + size + 1
    return files


def _top_and_prefix(root: Path) -> tuple[Path, str]:
    """The repository's top folder, and `root`'s path inside it ('' or 'sub/dir/')."""
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None:
        raise RegistryError(f"{root} is not inside a git repository (needed for --base)")
    inner = Path(root).resolve().relative_to(Path(top).resolve()).as_posix()
    return Path(top), "" if inner == "." else inner + "/"


def _git(where: Path, *args: str) -> str | None:
    done = subprocess.run(
        ["git", "-C", str(where), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


MILESTONE_KEYS = (
    "registration_confirmed",
    "ecab_informed",
    "ecab_meeting",
    "initial_documentation",
    "analysis",
    "workaround",
    "permanent_solution",
    "knowledge_documented",
    "closed",
)
# One pattern over the whole log, in C: a commit header, a file header, or an added milestone
# line of the canonical form `  key: 'time'`. Everything else in the patches is skipped.
_LOG_LINE = re.compile(
    rb"^(?:\x00([0-9a-f]{40}) (\S+)|\+\+\+ (\S+)|\+  ("
    + "|".join(MILESTONE_KEYS).encode()
    + rb"): '?([0-9T:.+\-Z]+)'?[ \t]*)$",
    re.MULTILINE,
)


FirstSeenMap = dict[tuple[str, str, datetime], FirstSeen]
_LOG_CHUNK = 1 << 18
_LOG_PIPE = 1 << 20


def first_recorded_milestones(root: Path) -> FirstSeenMap:
    """For each (incident ID, milestone key, instant): the first commit that recorded it.

    One `git log -p` pass over records/incidents, oldest first, reading only added lines of
    the milestones mapping (records are canonical, so a milestone is `  key: 'time'`).
    """
    return read_milestone_log(root).found


@dataclass(frozen=True)
class MilestoneLog:
    """What `read_milestone_log` read: up to which commit, and what it found there."""

    head: str | None  # the commit read up to (None: the log was read by name, HEAD)
    found: FirstSeenMap


LogPlace = tuple[Path, str, str | None]  # (repository top, incidents folder in it, HEAD)


def milestone_log_place(root: Path) -> LogPlace:
    """The repository's top, the incidents' folder in it, and the commit HEAD names (None
    before the first commit)."""
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise RegistryError(
            f"{root} is not inside a git repository (needed for --evidence)"
        ) from None
    top = Path(repo.working_tree_dir or root).resolve()
    folder = (Path(root).resolve() / RECORDS_DIR / "incidents").relative_to(top).as_posix()
    return top, folder, _git(top, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")


def read_milestone_log(
    root: Path, since: str | None = None, place: LogPlace | None = None
) -> MilestoneLog:
    """The first commits recording each milestone (see `first_recorded_milestones`), in the
    history of HEAD, or only in the commits after `since` (for a caller that has read up to
    `since` and checked `grows_linearly` from it). `place`: `milestone_log_place(root)`,
    when the caller already asked."""
    top, folder, head = place or milestone_log_place(root)
    # Read up to a commit named by its ID, so that the caller knows exactly what was read
    # even if HEAD moves meanwhile; an unborn HEAD is left to git log to report.
    revisions = [f"{since}..{head}" if since else head] if head else []
    command = [
        "git",
        "-C",
        str(top),
        "log",
        "--reverse",
        "--no-renames",
        "-p",
        "--unified=0",
        "--no-color",
        "--no-ext-diff",
        "--format=%x00%H %cI",
        *revisions,
        "--",
        folder,
    ]
    # Parsed as git writes it (git's ~1.8 s and the parsing's ~1 s at 50,000 incidents
    # overlap): a chunk at a time, each cut after its last whole line. stderr goes to a
    # file, so that git never waits on a pipe nobody reads.
    found: FirstSeenMap = {}
    commit: FirstSeen | None = None
    incident = ""
    times: dict[bytes, datetime | None] = {}  # the same instant is written many times
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        _widen_pipe(process.stdout)
        with process:
            for text in _whole_lines(process.stdout):
                for match in _LOG_LINE.finditer(text):
                    sha, when, path, key, value = match.groups()
                    if sha is not None:
                        commit = FirstSeen(sha.decode(), datetime.fromisoformat(when.decode()))
                    elif path is not None:
                        incident = PurePosixPath(path.decode("utf-8", "replace")).stem
                    elif commit is not None:
                        if value not in times:
                            times[value] = _instant(value)
                        instant = times[value]
                        if instant is not None:
                            found.setdefault((incident, key.decode(), instant), commit)
        if process.returncode != 0:
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace").strip()
            raise RegistryError(f"git log failed: {message}")
    return MilestoneLog(head, found)


def _widen_pipe(stream: IO[bytes]) -> None:
    """Let the pipe hold 1 MB (Linux; elsewhere it stays as it is): git writes on while a
    chunk is parsed, where with 64 KB it waited (the whole history took longer parsed as it
    came, 2.6-3.3 s, than read first and parsed after, 2.6-2.9 s; now 1.9-2.2 s)."""
    try:
        import fcntl

        fcntl.fcntl(stream, fcntl.F_SETPIPE_SZ, _LOG_PIPE)
    except (ImportError, AttributeError, OSError):
        pass


def _whole_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """What `stream` holds, in chunks that each end after a whole line (the last one with
    whatever follows the last newline)."""
    rest = b""
    while chunk := stream.read(_LOG_CHUNK):
        text = rest + chunk
        cut = text.rfind(b"\n") + 1
        if cut:
            yield text[:cut]
        rest = text[cut:]
    if rest:
        yield rest


def grows_linearly(top: Path, old: str, new: str) -> bool:
    """Whether `new` is `old` plus commits without merges. Then `git log --reverse` of `new`
    is that of `old` followed by the new commits, so what was first recorded by `old` stays
    first. (A merge can bring in older commits that git log sorts among the old ones.)"""
    if old == new:
        return True
    if _git(top, "merge-base", "--is-ancestor", old, new) is None:
        return False
    merges = _git(top, "rev-list", "--merges", "--count", f"{old}..{new}")
    return merges == "0"


def _instant(text: bytes) -> datetime | None:
    try:
        instant = datetime.fromisoformat(text.decode())
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else None


class PullRequestTrees:
    """The base and head of a pull request in a local clone, read as data (never checked out).

    Paths are relative to the registry root, which must be the repository's top level.
    """

    def __init__(self, root: Path, base: str, head: str) -> None:
        try:
            self.repo = git.Repo(root, search_parent_directories=True)
            self.base = self.repo.commit(base).hexsha
            self.head = self.repo.commit(head).hexsha
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise RegistryError(f"{root} is not inside a git repository") from None
        except (git.BadName, ValueError, git.GitCommandError):
            raise RegistryError(f"unknown git revision '{base}' or '{head}'") from None
        self.root = root

    def changed_paths(self) -> frozenset[str]:
        """Paths the pull request changes: from the merge base to the head."""
        out = self.repo.git.diff("--name-only", "--no-renames", f"{self.base}...{self.head}")
        return frozenset(line for line in out.splitlines() if line)

    def changed_since(self, commit: str) -> frozenset[str] | None:
        """Paths that differ between `commit` and the head; None if git does not know it."""
        try:
            out = self.repo.git.diff("--name-only", "--no-renames", f"{commit}", self.head)
        except git.GitCommandError:
            return None
        return frozenset(line for line in out.splitlines() if line)


def head_commit_time(root: Path) -> datetime:
    """When the checked-out commit was made (the reproducible 'as of' of a build)."""
    try:
        repo = git.Repo(root, search_parent_directories=True)
        when: datetime = repo.head.commit.committed_datetime
        return when
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        raise RegistryError(
            f"{root} is not a git checkout with a commit: give --at or SOURCE_DATE_EPOCH"
        ) from None


# The lines of `git log -p` that tell reopened incidents: a commit's time, a file's new
# path, a status removed or added. One scan of git's output in C, not a Python loop over its
# lines (58 MB at 50,000 incidents: ~4 s that way).
_REOPEN_LINE = re.compile(
    rb"^(?:\x00(\S+)|\+\+\+ (.*)|([+-])status: '?([a-z-]+)'?[ \t\r]*)$", re.MULTILINE
)


def reopened_incidents(root: Path, year: int) -> set[str] | None:
    """Incidents whose status went from resolved or closed back to in-progress in a commit of
    `year` (one `git log -p` pass); None when `root` is not a git checkout."""
    return reopened_in(reopened_by_year(root), year)


def reopened_in(by_year: Mapping[int, set[str]] | None, year: int) -> set[str] | None:
    """One year of `reopened_by_year` (None: unknown)."""
    return None if by_year is None else by_year.get(year, set())


def reopened_by_year(root: Path) -> dict[int, set[str]] | None:
    """`reopened_incidents` of every year at once, by the year of each commit (its committer
    time as written): one pass over the history for a site that reports every year (a pass
    per year was ~4.6 s each at 50,000 incidents); None when `root` is not a git checkout.
    `sla.memory.remembered_reopened` keeps it, and reads only the commits since."""
    try:
        place = milestone_log_place(root)
    except (RegistryError, ValueError):  # not in git; the registry outside the checkout
        return None
    found = read_reopened(place)
    return found.by_year if found is not None else None


@dataclass(frozen=True)
class ReopenedLog:
    """What `read_reopened` read: up to which commit, and the reopened incidents by year."""

    head: str
    by_year: dict[int, set[str]]


def read_reopened(place: LogPlace, since: str | None = None) -> ReopenedLog | None:
    """The incidents reopened in the history of HEAD (`place`: `milestone_log_place`), or only
    in the commits after `since`, an ancestor of HEAD (see `grows_linearly`); None before
    the first commit or if git fails. Each commit's patch is read on its own, so the
    commits after `since` add to what was found up to it."""
    top, folder, head = place
    if head is None:
        return None
    command = [  # renames as git's settings say (a renamed incident keeps its diff)
        "git", "-C", str(top), "log", "-p", "--unified=0", "--no-color", "--no-ext-diff",
        "--format=%x00%cI", f"{since}..{head}" if since else head, "--", folder,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, check=False)
    if done.returncode != 0:
        return None
    found: dict[int, set[str]] = {}
    year = 0
    incident = ""
    removed: bytes | None = None
    for when, path, sign, status in _REOPEN_LINE.findall(done.stdout):
        if when:
            year = datetime.fromisoformat(when.decode()).year
        elif path:
            incident, removed = PurePosixPath(path.decode("utf-8", "replace")).stem, None
        elif sign == b"-":
            removed = status
        elif removed in (b"resolved", b"closed") and status == b"in-progress":
            found.setdefault(year, set()).add(incident)
    return ReopenedLog(head, found)


def resolve_commit(root: Path, ref: str) -> str | None:
    """The full SHA of `ref`, or None outside a git checkout."""
    try:
        sha: str = git.Repo(root, search_parent_directories=True).commit(ref).hexsha
        return sha
    except (
        git.InvalidGitRepositoryError,
        git.NoSuchPathError,
        git.BadName,
        ValueError,
        git.GitCommandError,
    ):
        return None
