"""Reading record files as they were at a git revision (one `git archive`-like pass)."""

from __future__ import annotations

from pathlib import Path

import git

from isg.errors import RegistryError
from isg.records import LINK_MARKER, RECORDS_DIR, TOO_LARGE_MARKER
from isg.safe_yaml import MAX_BYTES


def read_record_files_at(root: Path, ref: str) -> dict[str, bytes]:
    """Every file under `records/` at `ref`, keyed by repository-relative POSIX path.

    Paths are relative to the repository's top level; `root` may be a sub-folder of it.
    Links and over-size blobs are marked the way `records.read_record_files` marks them.
    """
    try:
        repo = git.Repo(root, search_parent_directories=True)
        commit = repo.commit(ref)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise RegistryError(f"{root} is not inside a git repository (needed for --base)") from None
    except (git.BadName, ValueError, git.GitCommandError):
        raise RegistryError(f"unknown git revision '{ref}'") from None
    prefix = Path(root).resolve().relative_to(Path(repo.working_tree_dir or root).resolve())
    tree = commit.tree
    try:
        for part in (*prefix.parts, RECORDS_DIR):
            tree = tree / part
    except KeyError:
        return {}
    files: dict[str, bytes] = {}
    for blob in tree.traverse():
        if not isinstance(blob, git.Blob):
            continue
        rel = Path(str(blob.path)).relative_to(prefix).as_posix()
        if blob.mode == 0o120000:
            files[rel] = LINK_MARKER
        elif blob.size > MAX_BYTES:
            files[rel] = TOO_LARGE_MARKER
        else:
            files[rel] = blob.data_stream.read()
    return files
