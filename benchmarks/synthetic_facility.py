"""A synthetic facility made of corpus copies, and one ``nexuslims process`` pass over it.

Builds (issue 12's "synthetic facility"), by default: 10 instruments, 200 sessions and
20,000 files copied from the corpus (``NEXUSLIMS_TEST_CORPUS``), each instrument getting
the formats such an instrument writes (DigitalMicrograph and TIA on the TEMs, FEI TIFF
on the SEM/FIBs, Velox EMD, Bruker and EDAX spectra, optical images). Every file is a
real copy (hard links share an inode, hence a modification time; ext4 has no reflinks)
whose modification time falls in a burst inside its session's window, so files cluster
into activities as in real use. The instrument table and the session log are written
with the project's own functions (:func:`nexuslims.db.add_instrument`,
:func:`nexuslims.sessions.logbook.add_session`).

The facility is built by ``facility_site.py``. Then, per ``--modes`` (each a subprocess
``python -m nexuslims process``, as a user runs it, start-up and imports counted), it
prints the pass time, files/s, the peak resident memory (``VmHWM``) and CPU seconds of
the coordinating process (not of its workers), and the CPU seconds of the workers (the
processes that read files: the local pool's fork server and workers; the Dask workers
themselves), and, for ``dask``, those of the scheduler and of the nannies (each ``dask
worker`` command is a nanny that starts the worker process and watches its memory)
apart:

- ``local``: ``NX_EXECUTOR=local``, a fresh database and ``NX_DATA_PATH``;
- ``dask``: ``NX_EXECUTOR=dask`` with ``NX_DASK_SCHEDULER=tcp://127.0.0.1:PORT``; the
  benchmark starts ``dask scheduler`` and ``--dask-workers`` (2) ``dask worker``
  processes itself, with the settings docs/cluster.md recommends
  (:data:`nexuslims.extract.executors.CLUSTER_CONFIG`; Dask's defaults with
  ``--dask-defaults``), and a fresh database and ``NX_DATA_PATH``;
- ``rebuild``: every session of the previous mode reset with ``nexuslims sessions
  reset`` and built again over the same ``NX_DATA_PATH`` (a warm extraction cache).

    NEXUSLIMS_TEST_CORPUS=/path/to/corpus python benchmarks/synthetic_facility.py \\
        [--scale 0.05 | --files N --sessions N] [--modes local,dask,rebuild] \\
        [--keep DIR] [--db-url postgresql+psycopg://...] [--set NX_NAME=VALUE ...] \\
        [--dask-workers 2] [--dask-defaults]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import installed  # noqa: E402
from facility_site import INSTRUMENTS, Facility, build_facility, write_site  # noqa: E402

from nexuslims.extract.executors import cluster_environment  # noqa: E402


@dataclass
class PassResult:
    mode: str
    wall_s: float
    pass_s: float | None
    files: int
    built: int
    failed: int
    peak_rss_mb: float
    cpu_s: float
    """CPU seconds of the coordinating process itself (not its workers)."""
    workers_cpu_s: float
    """CPU seconds of the processes that read files: the pass's process pool (and its
    fork server), or the Dask worker processes (not their nannies, not the scheduler)."""
    log: Path
    scheduler_cpu_s: float = 0.0
    """Dask: CPU seconds of the scheduler during the pass."""
    nannies_cpu_s: float = 0.0
    """Dask: CPU seconds of the nannies (and their resource trackers) during the pass."""
    load: tuple[float, float] = (0.0, 0.0)
    """The 1-minute load average as the pass started and as it ended."""


TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(roots: set[int]) -> dict[int, float]:
    """CPU seconds (user + system) of ``roots`` and all their descendants now, by pid.

    Each process's own time only: a parent's count of its reaped children would count
    them twice. A process that ends between two readings loses what it used since the
    last one (at most 0.25 s each)."""
    parents, cpu = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / TICK
    inside = {}
    for pid in cpu:
        ancestor = pid
        while ancestor > 1 and ancestor not in roots:
            ancestor = parents.get(ancestor, 0)
        if ancestor in roots:
            inside[pid] = cpu[pid]
    return inside


@dataclass
class Usage:
    peak_rss_mb: float = 0.0
    """VmHWM of the command's own process."""
    own_cpu_s: float = 0.0
    tree_cpu_s: float = 0.0
    """CPU seconds of the command and every process it started (its workers)."""


def cli(env: dict[str, str], *args: str, log: Path | None = None,
        ) -> tuple[subprocess.CompletedProcess, float, Usage]:
    """Run ``python -m nexuslims ARGS``; its result, wall seconds and :class:`Usage`."""
    out = log.open("w") if log else subprocess.PIPE
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "nexuslims", *args], env=env, stdout=out,
                            stderr=subprocess.STDOUT if log else subprocess.PIPE, text=True)
    usage, seen, done = Usage(), {}, threading.Event()

    def watch() -> None:  # VmHWM and CPU times only grow: the last reading is the total
        status = Path(f"/proc/{proc.pid}/status")
        n = 0
        while not done.is_set():
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        usage.peak_rss_mb = max(usage.peak_rss_mb, int(line.split()[1]) / 1024)
            except (OSError, ValueError):
                pass
            if n % 5 == 0:  # the whole tree is dearer to read: every 0.25 s
                for pid, seconds in tree_cpu({proc.pid}).items():
                    seen[pid] = max(seen.get(pid, 0.0), seconds)
            n += 1
            done.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        stdout, stderr = proc.communicate()
    finally:
        done.set()
        watcher.join()
    wall = time.perf_counter() - t0
    usage.own_cpu_s = seen.get(proc.pid, 0.0)
    usage.tree_cpu_s = sum(seen.values())
    if log:
        out.close()  # type: ignore[union-attr]
        stdout = log.read_text()
    return (subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr or ""),
            wall, usage)


def run_pass(mode: str, env: dict[str, str], log: Path,
             cluster: DaskCluster | None = None) -> PassResult:
    before = cluster.cpu() if cluster else {}
    load_before = os.getloadavg()[0]
    done, wall, usage = cli(env, "process", log=log)
    load = (load_before, os.getloadavg()[0])
    workers_cpu = usage.tree_cpu_s - usage.own_cpu_s
    spent = {role: seconds - before.get(role, 0.0)
             for role, seconds in (cluster.cpu() if cluster else {}).items()}
    workers_cpu += spent.get("workers", 0.0)
    if done.returncode != 0:
        raise SystemExit(f"{mode}: nexuslims process exited {done.returncode}; see {log}:\n"
                         + done.stdout[-2000:])
    summary = re.search(r"Pass finished in ([\d.]+) s: (\d+) built, (\d+) failed.*?"
                        r"(\d+) file\(s\)", done.stdout)
    if summary is None:
        raise SystemExit(f"{mode}: no summary line in {log}")
    if "NX_EXECUTOR in the environment is not a nexuslims setting" in done.stdout:
        print(f"{mode}: this nexuslims ignores NX_EXECUTOR: the pass ran its built-in "
              "process pool")
    return PassResult(mode, wall, float(summary[1]), int(summary[4]), int(summary[2]),
                      int(summary[3]), usage.peak_rss_mb, usage.own_cpu_s, workers_cpu, log,
                      spent.get("scheduler", 0.0), spent.get("nannies", 0.0), load)


def reset_all(env: dict[str, str]) -> int:
    """``nexuslims sessions reset`` every finished session; how many."""
    listed, _, _ = cli(env, "sessions", "list", "--json")
    finished = [s["identifier"] for s in json.loads(listed.stdout)
                if s["status"] not in ("TO_BE_BUILT", "WAITING_FOR_END")]
    if finished:
        done, _, _ = cli(env, "sessions", "reset", *finished)
        if done.returncode != 0:
            raise SystemExit(f"sessions reset failed: {done.stderr[-2000:]}")
    return len(finished)


class DaskCluster:
    """``dask scheduler`` and N ``dask worker`` processes on 127.0.0.1, stopped by pid."""

    def __init__(self, workers: int, folder: Path, env: dict[str, str]) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{self.port}"
        dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or "dask"
        folder.mkdir(parents=True, exist_ok=True)
        self.procs = [subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
             "--no-dashboard"], env=env, stdout=(folder / "scheduler.log").open("w"),
            stderr=subprocess.STDOUT)]
        self.procs += [subprocess.Popen(
            [dask, "worker", self.address, "--nworkers", "1", "--nthreads", "1",
             "--no-dashboard", "--name", f"bench-{i}"], env=env,
            stdout=(folder / f"worker-{i}.log").open("w"), stderr=subprocess.STDOUT)
            for i in range(workers)]
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by the scheduler, the nannies (each ``dask worker``
        command, and its multiprocessing resource tracker) and the worker processes
        the nannies spawned, by role."""
        scheduler = self.procs[0].pid
        roles = {"scheduler": 0.0, "nannies": 0.0, "workers": 0.0}
        for pid, seconds in tree_cpu({p.pid for p in self.procs}).items():
            if pid == scheduler:
                role = "scheduler"
            elif pid in {p.pid for p in self.procs}:
                role = "nannies"
            else:
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    command = b""
                role = "workers" if b"spawn_main" in command else "nannies"
            roles[role] += seconds
        return roles

    def tasks_done(self) -> int:
        """Tasks the workers have run so far (0: the pass did not use the cluster)."""
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            counts = client.run(lambda dask_worker: dask_worker.state.executed_count)
        return sum(counts.values())

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _db_name(mode: str) -> str:
    return f"nx_synthetic_{mode}_{os.getpid()}"


def server_databases(db_url: str, modes: list[str], *, create: bool) -> None:
    """Drop the modes' databases on the server of ``db_url``, then make them anew."""
    import sqlalchemy as sa

    admin = sa.create_engine(db_url.rsplit("/", 1)[0] + "/postgres",
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for mode in modes:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_db_name(mode)} WITH (FORCE)")
            if create:
                conn.exec_driver_sql(f"CREATE DATABASE {_db_name(mode)}")
    admin.dispose()


def site_env(base: dict[str, str], facility: Facility, name: str, db_url: str | None
             ) -> tuple[dict[str, str], str]:
    """The environment of one mode's passes: its own database and NX_DATA_PATH."""
    data = facility.root / f"data-{name}"
    data.mkdir(parents=True, exist_ok=True)
    if db_url:  # a server: one new database per mode
        server_databases(db_url, [name], create=True)
        url = db_url.rsplit("/", 1)[0] + "/" + _db_name(name)
    else:
        url = f"sqlite:///{facility.root / f'{name}.sqlite'}"
    env = dict(base, NX_INSTRUMENT_DATA_PATH=str(facility.instrument_data),
               NX_DATA_PATH=str(data), NX_DB_URL=url)
    return env, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instruments", type=int, default=10)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply --sessions and --files (e.g. 0.05: 10 and 1,000)")
    parser.add_argument("--modes", default="local,dask,rebuild",
                        help="comma-separated: local, dask, rebuild (default: all three)")
    parser.add_argument("--dask-workers", type=int, default=2)
    parser.add_argument("--dask-defaults", action="store_true",
                        help="start the dask cluster with Dask's default settings rather "
                        "than those docs/cluster.md recommends")
    parser.add_argument("--db-url", help="a PostgreSQL server URL ending in a database "
                        "name (one new database per mode is made next to it); default SQLite")
    parser.add_argument("--set", action="append", default=[], metavar="NX_NAME=VALUE",
                        help="a setting for every pass (repeatable)")
    parser.add_argument("--keep", metavar="DIR", type=Path,
                        help="build the facility in DIR and keep it (default: a temp dir)")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := set(modes) - {"local", "dask", "rebuild"}:
        parser.error(f"--modes: unknown {', '.join(sorted(unknown))}")
    corpus = Path(os.environ.get("NEXUSLIMS_TEST_CORPUS", ""))
    if not corpus.is_dir() or not str(corpus):
        parser.error("set NEXUSLIMS_TEST_CORPUS to the corpus folder")
    sessions = max(1, round(args.sessions * args.scale))
    files = max(sessions, round(args.files * args.scale))
    instruments = min(args.instruments, len(INSTRUMENTS), sessions)

    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    root = args.keep or Path(tempfile.mkdtemp(prefix="nexuslims-facility-"))
    # The package as installed: compiled once (see installed.py).
    base = installed.environment({k: v for k, v in os.environ.items()
                                  if not k.startswith("NX_")})
    for item in args.set:
        name, _, value = item.partition("=")
        base[name] = value
    cluster: DaskCluster | None = None
    try:
        facility, log = build_facility(root, corpus, instruments, sessions, files)
        print(f"facility: {instruments} instruments, {facility.sessions} sessions, "
              f"{facility.files} files to read ({facility.copied} copied with the .emi, "
              f"{facility.bytes / 1e9:.2f} GB) in "
              f"{facility.seconds:.1f} s under {root}; {os.cpu_count()} cores")
        results: list[PassResult] = []
        env: dict[str, str] | None = None
        for mode in modes:
            if mode == "rebuild":
                if env is None:  # a first build to rebuild
                    env, url = site_env(dict(base, NX_EXECUTOR="local"), facility, "local",
                                        args.db_url)
                    write_site(url, facility, log)
                    results.append(run_pass("local", env, root / "pass-local.log"))
                print(f"reset {reset_all(env)} sessions with `nexuslims sessions reset`")
                results.append(run_pass("rebuild", env, root / "pass-rebuild.log"))
                continue
            extra = {"NX_EXECUTOR": mode}
            if mode == "dask":
                cluster = DaskCluster(args.dask_workers, root / "dask", base if
                                      args.dask_defaults else {**base, **cluster_environment()})
                extra["NX_DASK_SCHEDULER"] = cluster.address
            env, url = site_env(dict(base, **extra), facility, mode, args.db_url)
            write_site(url, facility, log)
            results.append(run_pass(mode, env, root / f"pass-{mode}.log", cluster))
            if cluster is not None and mode == "dask":
                tasks = cluster.tasks_done()
                print(f"dask: the {args.dask_workers} workers ran {tasks} task(s)"
                      + ("" if tasks else " -- this nexuslims did not use the cluster "
                         "(NX_EXECUTOR=dask not supported?): its figures are not dask's"))
        report(results, facility)
    finally:
        if cluster is not None:
            cluster.stop()
        if args.keep:
            print(f"kept {root}" + (f" and the databases {_db_name('<mode>')}"
                                    if args.db_url else ""))
        else:
            shutil.rmtree(root, ignore_errors=True)
            if args.db_url:
                server_databases(args.db_url, ["local", "dask"], create=False)


def report(results: list[PassResult], facility: Facility) -> None:
    print(f"{'mode':<8} {'wall s':>8} {'pass s':>8} {'files':>7} {'files/s':>8} "
          f"{'built':>6} {'failed':>6} {'peak RSS MB':>12} {'coord CPU s':>12} "
          f"{'workers CPU s':>14} {'worker CPU s/file':>18} {'scheduler CPU s':>16} "
          f"{'nannies CPU s':>14}")
    for r in results:
        print(f"{r.mode:<8} {r.wall_s:8.1f} {r.pass_s or 0:8.1f} {r.files:7d} "
              f"{r.files / r.wall_s:8.1f} {r.built:6d} {r.failed:6d} {r.peak_rss_mb:12.0f} "
              f"{r.cpu_s:12.1f} {r.workers_cpu_s:14.1f} "
              f"{r.workers_cpu_s / max(r.files, 1):18.3f} "
              + (f"{r.scheduler_cpu_s:16.1f} {r.nannies_cpu_s:14.1f}" if r.mode == "dask"
                 else f"{'-':>16} {'-':>14}"))
    for r in results:  # issue 22: at most 1 ms a file in the coordinator, start-up included
        print(f"{r.mode}: coordinator {1000 * r.cpu_s / max(r.files, 1):.2f} ms of CPU a file "
              f"({r.cpu_s:.2f} CPU-s for {r.files} files, start-up included); load average "
              f"{r.load[0]:.1f} -> {r.load[1]:.1f} (1 min) during the pass")
    for n, rebuilt in enumerate(results):
        # A rebuild rebuilds the sessions of the first build just before it.
        first = next((r for r in reversed(results[:n]) if r.mode != "rebuild"), None)
        if rebuilt.mode == "rebuild" and first is not None:
            print(f"rebuild / first build ({first.mode}): {rebuilt.wall_s / first.wall_s:.1%} "
                  f"of the wall time, {(rebuilt.pass_s or 0) / (first.pass_s or 1):.1%} of "
                  "the pass time (issue 12 asks under 10%)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min) on "
          f"{os.cpu_count()} cores: other work on the machine slows every figure")
    print("wall s: the whole `nexuslims process` run (start-up and imports included); pass "
          "s: what it reports; files/s from wall s; peak RSS (VmHWM) and coord CPU s: of "
          "the coordinating process only; workers CPU s: the processes that read files (its "
          "process pool and fork server, or the dask worker processes); scheduler and "
          "nannies CPU s: dask's scheduler and nanny processes during the pass (CPU time "
          "hardly depends on the machine's load: size workers from it)")


if __name__ == "__main__":
    main()
