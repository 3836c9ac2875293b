"""The multiprocess folder's bookkeeping for gunicorn's hooks, without gunicorn: made or
emptied at start, a dead worker's counts folded into the archive with the sums unchanged."""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

from switchboard.callbacks.metrics import (
    prepare_multiprocess_dir,
    remove_multiprocess_dir,
    worker_exited,
)

from .scraping import parse, value


def write(folder: Path, kind: str, pid: int | str, samples: dict[tuple[str, str], float]) -> None:
    """Values as a worker ``pid`` leaves them: (sample name, endpoint) -> value."""
    values = MmapedDict(str(folder / f"{kind}_{pid}.db"))
    try:
        for (name, endpoint), number in samples.items():
            family = name.removesuffix("_total")
            key = mmap_key(family, name, ["endpoint"], [endpoint], "help")
            values.write_value(key, number, 0.0)
    finally:
        values.close()


def sums(folder: Path) -> dict[object, float]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(folder))
    return parse(generate_latest(registry).decode())


def test_a_dead_workers_counts_go_to_the_archive_and_the_sums_stay(tmp_path: Path) -> None:
    name = "switchboard_webhooks_total"
    write(tmp_path, "counter", 111, {(name, "ivr.welcome"): 5, (name, "sms_bot.reply"): 2})
    write(tmp_path, "counter", 222, {(name, "ivr.welcome"): 7})
    write(tmp_path, "gauge_livesum", 111, {("switchboard_write_behind_rows_waiting", "-"): 3})
    before = sums(tmp_path)
    assert value(before, name, endpoint="ivr.welcome") == 12
    worker_exited(111, str(tmp_path))
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["counter_222.db",
                                                              "counter_archive.db"]
    after = sums(tmp_path)
    assert value(after, name, endpoint="ivr.welcome") == 12
    assert value(after, name, endpoint="sms_bot.reply") == 2
    write(tmp_path, "counter", 333, {(name, "ivr.welcome"): 1})
    worker_exited(333, str(tmp_path))
    worker_exited(333, str(tmp_path))  # twice, as when both config files call it: harmless
    assert value(sums(tmp_path), name, endpoint="ivr.welcome") == 13


def test_the_folder_is_emptied_at_start(tmp_path: Path) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_99.db").write_bytes(b"old")
    (folder / "notes.txt").write_text("not ours")
    environ = {"PROMETHEUS_MULTIPROC_DIR": str(folder)}
    assert prepare_multiprocess_dir(environ) == str(folder)
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["notes.txt"]


def test_a_private_folder_is_made_when_metrics_are_on_and_none_is_named() -> None:
    environ = {"SWITCHBOARD_METRICS_TOKEN": "x" * 32}
    path = prepare_multiprocess_dir(environ)
    assert path is not None
    assert environ["PROMETHEUS_MULTIPROC_DIR"] == path
    assert os.stat(path).st_mode & 0o777 == 0o700
    remove_multiprocess_dir()
    assert not os.path.exists(path)
    assert prepare_multiprocess_dir({}) is None  # metrics off: nothing made
