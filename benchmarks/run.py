"""Measure isg against its peers on the same generated registries, in one run, and write
docs/PERFORMANCE.md (machine, versions, commands, medians, peak memory, ratios).

    python benchmarks/run.py --sizes 1000,10000 --runs 3

Each command runs `--runs` times; the table gives the median wall time and the largest peak
resident memory (from the child's rusage). Peers: check-jsonschema validating the incident
files against the same schema (it does only the schema part), libyaml parsing the same files
in one process (the floor of any validator), and Hugo building as many pages from Markdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AT = "2026-11-27T12:00:00+00:00"
FLOOR = (
    "import sys, yaml, glob\n"
    "for p in glob.glob('records/*/*.yaml'):\n"
    "    yaml.load(open(p, 'rb'), Loader=yaml.CSafeLoader)\n"
)


Case = tuple[str, list[str], Path, Callable[[], None] | None]  # name, command, cwd, before


def measure(
    command: list[str], cwd: Path, runs: int, before: Callable[[], None] | None = None
) -> tuple[float, float]:
    """(median seconds, peak MiB) of `command` over `runs` runs; `before` runs (unmeasured)
    before each one."""
    return measure_in_turn([("", command, cwd, before)], runs)[0]


def measure_in_turn(cases: list[Case], runs: int) -> list[tuple[float, float]]:
    """`measure` of each case, the cases taking turns run by run (A B A B ...): this
    machine's speed drifts by the minute, so two commands compared are measured in the
    same minutes rather than one after the other."""
    times: list[list[float]] = [[] for _ in cases]
    peaks: list[list[float]] = [[] for _ in cases]
    for _ in range(runs):
        for index, (_, command, cwd, before) in enumerate(cases):
            if before is not None:
                before()
            # The last run's files written back first (unmeasured): a full site build
            # leaves ~500 MB in the page cache, whose write-back slowed whichever run came
            # next (isg's own next build, or Hugo's first) by seconds on this disk.
            os.sync()
            start = time.perf_counter()
            process = subprocess.Popen(
                command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            _, _, usage = os.wait4(process.pid, 0)
            times[index].append(time.perf_counter() - start)
            peaks[index].append(usage.ru_maxrss / 1024)
    return [(statistics.median(t), max(m)) for t, m in zip(times, peaks, strict=True)]


def set_aside(folder: Path, trash: Path) -> None:
    """Empty `folder`'s place by moving it into `trash`, removed after every measurement.

    Deleting 57,000 files on this disk (ext4 mounted with `discard`) makes whatever writes
    next wait for the discards: writing 57,000 small files took 36-38 s of system time right
    after such a deletion against 6-7 s otherwise (measured with a bare Python loop). A
    build "into an empty folder" measured right after deleting the last one measured the
    deletion; so neither isg's nor Hugo's output is deleted between runs."""
    if folder.exists():
        trash.mkdir(parents=True, exist_ok=True)
        folder.rename(trash / f"{folder.name}-{time.time_ns()}")


def _git(where: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=where, check=True, stdout=subprocess.DEVNULL)


def _pull_request(registry: Path, count: int) -> None:
    """A commit that edits `count` incidents (what a pull request of the helpdesk does)."""
    incidents = sorted((registry / "records" / "incidents").glob("*.yaml"))
    for path in incidents[:: max(1, len(incidents) // count)][:count]:
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("title: ", "title: Reviewed, ", 1), encoding="utf-8")
    _git(registry, "add", "-A", "records")
    _git(
        registry,
        "-c",
        "user.name=Bench",
        "-c",
        "user.email=bench@example.org",
        "commit",
        "-q",
        "-m",
        "Ten incidents updated",
    )


def hugo_site(target: Path, pages: int) -> Path:
    """A Hugo site with `pages` Markdown pages of about the size of an incident page."""
    if target.exists():
        shutil.rmtree(target)
    (target / "content" / "incidents").mkdir(parents=True)
    (target / "layouts" / "_default").mkdir(parents=True)
    (target / "hugo.toml").write_text(
        'baseURL = "/"\ntitle = "bench"\ndisableKinds = ["taxonomy", "term"]\n'
    )
    (target / "layouts" / "_default" / "single.html").write_text(
        "<!doctype html><html><head><title>{{ .Title }}</title></head><body><main>"
        "<h1>{{ .Title }}</h1>{{ .Content }}</main></body></html>\n"
    )
    (target / "layouts" / "_default" / "list.html").write_text(
        '<!doctype html><html><body><ul>{{ range .Pages }}<li><a href="{{ .RelPermalink }}">'
        "{{ .Title }}</a></li>{{ end }}</ul></body></html>\n"
    )
    body = (
        "Reported by the Central Authority through the helpdesk.\n\n"
        "| milestone | target | deadline | state |\n|---|---|---|---|\n"
        + "| analysis | 2d | 2026-03-04T15:15 | met |\n"
        * 6
    )
    for number in range(pages):
        (target / "content" / "incidents" / f"inc-{number}.md").write_text(
            f'---\ntitle: "Incident {number}"\n---\n{body}'
        )
    return target


def versions() -> dict[str, str]:
    def out(command: list[str]) -> str:
        try:
            return (
                subprocess.run(command, capture_output=True, text=True, check=True)
                .stdout.strip()
                .splitlines()[0]
            )
        except (OSError, subprocess.CalledProcessError):
            return "not installed"

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "machine": f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "isg": out(["isg", "--version"]),
        "check-jsonschema": out(["check-jsonschema", "--version"]),
        "hugo": out(["hugo", "version"]).split(" BuildDate")[0],
    }


HUGO = "hugo (as many pages, into an empty folder)"
COLD = "isg validate (cold: no cache)"
FLOOR_CASE = "libyaml parse of every record (floor)"


def measure_size(size: int, args: argparse.Namespace) -> list[tuple[int, str, float, float]]:
    """Generate (or reuse) the registry of `size` incidents and measure every case on it."""
    rows: list[tuple[int, str, float, float]] = []
    registry = args.work / f"registry-{size}"
    print(f"generating {size} incidents ...", file=sys.stderr)
    if not (args.keep and (registry / "records").is_dir()):
        generator = [sys.executable, str(ROOT / "benchmarks" / "generate.py")]
        subprocess.run(
            [*generator, str(registry), "--incidents", str(size)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    else:  # a kept registry is measured with today's schemas and templates, not its old copies
        for folder in ("schemas", "site"):
            shutil.rmtree(registry / folder)
            shutil.copytree(ROOT / folder, registry / folder)
    hugo = hugo_site(args.work / f"hugo-{size}", size)
    site_out = args.work / f"site-{size}"
    cache = registry / ".isg" / "cache"
    saved_cache = args.work / f"cache-{size}"
    site = ["isg", "site", "build", "--at", AT, "--no-history", "--out", str(site_out)]
    toggled = sorted((registry / "records" / "incidents").glob("*.yaml"))[-1]

    trash = args.work / "trash"

    def no_site() -> None:
        set_aside(site_out, trash)

    def restore_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.copytree(saved_cache, cache)

    def change_one_record() -> None:
        text = toggled.read_text(encoding="utf-8")
        marker = "title: Bench edit, "
        changed = (
            text.replace(marker, "title: ", 1)
            if marker in text
            else text.replace("title: ", marker, 1)
        )
        toggled.write_text(changed, encoding="utf-8")

    sla = ["isg", "sla", "status", "--evidence", "--at", AT, "--format", "json"]
    sla_store, saved_sla_store = cache / "sla.sqlite", args.work / f"sla-{size}.sqlite"

    def no_sla_store() -> None:
        sla_store.unlink(missing_ok=True)

    def new_commit() -> None:
        """The warm store, and one commit more than it has seen (a merged pull request)."""
        if not saved_sla_store.exists():  # the first run: the store as the warm case left it
            shutil.copyfile(sla_store, saved_sla_store)
        else:
            _git(registry, "reset", "-q", "--hard", "HEAD~1")
            shutil.copyfile(saved_sla_store, sla_store)
        _pull_request(registry, 10)

    warm = ["isg", "validate", "--at", AT]
    subprocess.run(warm, cwd=registry, stdout=subprocess.DEVNULL, check=False)  # fill caches
    shutil.rmtree(saved_cache, ignore_errors=True)
    shutil.copytree(cache, saved_cache)
    cases: list[Case] = [
        (
            COLD,
            ["isg", "validate", "--no-cache", "--at", AT],
            registry,
            None,
        ),
        (
            "check-jsonschema (incidents, schema only)",
            [  # through xargs: 50,000 paths are more than one command line takes
                "sh",
                "-c",
                "find records/incidents -name '*.yaml' -print0 | sort -z"
                " | xargs -0 check-jsonschema --schemafile schemas/incident.schema.json",
            ],
            registry,
            None,
        ),
        (
            FLOOR_CASE,
            [sys.executable, "-c", FLOOR],
            registry,
            None,
        ),
        ("isg validate (warm: nothing changed)", warm, registry, None),
        (
            "isg validate --base (a PR touching 10 records)",
            ["isg", "validate", "--at", AT, "--base", "HEAD~1"],
            registry,
            restore_cache,
        ),
        ("isg sla status --evidence (cold: no SLA store)", sla, registry, no_sla_store),
        ("isg sla status --evidence (warm: nothing changed)", sla, registry, None),
        ("isg sla status --evidence (after a commit of 10 incidents)", sla, registry, new_commit),
        ("isg site build (full, into an empty folder)", site, registry, no_site),
        (
            HUGO,
            ["hugo", "--quiet", "-d", str(args.work / f"hugo-out-{size}")],
            hugo,
            lambda: set_aside(args.work / f"hugo-out-{size}", trash),
        ),
        ("isg site build (one record changed)", site, registry, change_one_record),
    ]
    # Measured in turn: the full build with Hugo; cold validate with the floor it is held to
    # (one after the other, check-jsonschema's minutes between them, the machine drifted
    # by up to 25 %).
    paired = {"isg site build (full, into an empty folder)": HUGO, COLD: FLOOR_CASE}
    for name, command, cwd, before in cases:
        if name in paired.values():
            continue  # measured with its pair
        print(f"  {size}: {name}", file=sys.stderr)
        if name.startswith("isg site build (full"):  # the store's statuses, as a build finds them
            subprocess.run(
                ["isg", "sla", "status", "--at", AT],
                cwd=registry,
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        if name.startswith("isg validate --base"):
            _pull_request(registry, 10)
        # The peer validates ~250 files a second: minutes per run at 10,000 and more.
        runs = 1 if name.startswith("check-jsonschema") and size >= 10_000 else args.runs
        together = [(name, command, cwd, before)]
        together += [case for case in cases if case[0] == paired.get(name)]
        for case, (seconds, peak) in zip(together, measure_in_turn(together, runs), strict=True):
            rows.append((size, case[0], seconds, peak))
        if name.startswith("isg validate --base") or name.endswith("commit of 10 incidents)"):
            _git(registry, "reset", "-q", "--hard", "HEAD~1")
        saved_sla_store.unlink(missing_ok=True)
    _git(registry, "checkout", "-q", "--", "records")  # the toggled record back as committed
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/isg-bench"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    parser.add_argument("--keep", action="store_true", help="reuse generated registries")
    args = parser.parse_args()
    # isg as installed: pip compiles the package's bytecode; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would compile every module on every run (0.1-0.2 s each).
    import compileall

    import isg

    compileall.compile_dir(str(Path(isg.__file__).parent), quiet=1)
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        rows += measure_size(size, args)
        write_report(args.out, rows, versions(), args)  # after each size: nothing lost
    shutil.rmtree(args.work / "trash", ignore_errors=True)  # after every measurement


def write_report(
    out: Path,
    rows: list[tuple[int, str, float, float]],
    info: dict[str, str],
    args: argparse.Namespace,
) -> None:
    lines = [
        "# Performance",
        "",
        "Measured by `make bench` (`python benchmarks/run.py`), all tools on the same generated",
        "registries in one run (`benchmarks/generate.py`: incidents cloned from the embedded",
        "records, with proportional RfCs, problems, known errors and articles, and a monthly",
        "git history). Median of " + str(args.runs) + " runs (check-jsonschema: one run from"
        " 10,000 incidents); peak resident memory of the process. Caches are filled by one"
        " `isg validate` before the measured runs (except for the cold case, `--no-cache`);"
        " the `--base` case restores that cache before each run and checks a commit that"
        " edits 10 incidents; the full site build starts from an empty folder each time, the"
        " rebuild toggles one incident's title before each run. SLA: without its store"
        " (`.isg/cache/sla.sqlite`, removed before each run), with it warm, and with it"
        " warm but one commit (10 incidents edited) behind HEAD. The site builds find the"
        " statuses of closed incidents in that store (filled by one `isg sla status` first)."
        " Before each full build the last output (isg's, and Hugo's before Hugo's runs) is"
        " moved aside, not deleted: on this disk (ext4 with `discard`) deleting 57,000 files"
        " makes whatever writes next several times slower (`set_aside` in the runner)."
        " Every run starts after `sync` (unmeasured), so none waits on the write-back of"
        " the files the run before it wrote. The full site build and Hugo take turns, run"
        " by run (isg, Hugo, isg, Hugo, ...), and so do the cold validate and the libyaml"
        " floor: this machine's speed drifts by the minute.",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        "",
        "| incidents | command | median s | per incident ms | peak MiB | vs cold validate |",
        "|---|---|---|---|---|---|",
    ]
    baseline = {size: s for size, name, s, _ in rows if name.startswith("isg validate (cold")}
    for size, name, seconds, peak in rows:
        ratio = seconds / baseline[size] if baseline.get(size) else 0
        lines.append(
            f"| {size} | {name} | {seconds:.2f} | {seconds * 1000 / size:.2f} |"
            f" {peak:.0f} | {ratio:.2f}x |"
        )
    table = "\n".join(lines) + "\n"
    start, end = "<!-- bench:start -->\n", "<!-- bench:end -->\n"
    text = out.read_text(encoding="utf-8") if out.exists() else f"{start}{end}"
    if start not in text or end not in text:
        text = f"{start}{end}" + text
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    out.write_text(before + start + table + end + after, encoding="utf-8")  # notes kept
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
