"""One sandbox state file used by several sandboxes and processes at once loses nothing.

The no-key ``cmnb`` commands share a state file (tests/test_cli.py); here two sandboxes in one
process, and several ``cmnb create`` processes started together, all write to one file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cmnb

PROCESSES = 6


def names_in(path: Path) -> list[str]:
    return sorted(source["name"] for source in json.loads(path.read_text())["sources"])


def test_two_sandboxes_on_one_file_see_each_others_changes(tmp_path: Path) -> None:
    state = tmp_path / "shared.json"
    with cmnb.Sandbox(path=state) as first, cmnb.Sandbox(path=state) as second:
        one, two = first.client(), second.client()
        made = one.data_sources.create("Made by the first")
        assert [ds.name for ds in two.data_sources.list()] == ["Made by the first"]
        two.data_sources.create("Made by the second")
        assert sorted(ds.name for ds in one.data_sources.list()) == [
            "Made by the first",
            "Made by the second",
        ]
        # A name taken through the other sandbox is taken here too, and a delete is seen.
        try:
            two.data_sources.create("Made by the first")
        except cmnb.DuplicateNameError:
            pass
        else:
            raise AssertionError("the second sandbox did not see the first one's source")
        two.data_sources.delete(made.uuid)
        assert [ds.name for ds in one.data_sources.list()] == ["Made by the second"]
    assert names_in(state) == ["Made by the second"]


def test_a_file_removed_by_hand_reads_as_an_empty_sandbox(tmp_path: Path) -> None:
    state = tmp_path / "shared.json"
    with cmnb.Sandbox(path=state) as sandbox:
        client = sandbox.client()
        client.data_sources.create("Before")
        state.unlink()
        assert client.data_sources.list() == []
        client.data_sources.create("After")
    assert names_in(state) == ["After"]


def test_cmnb_processes_started_together_keep_every_source(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTMOGUL_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    names = [f"Process {number}" for number in range(PROCESSES)]
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "cmnb", "create", name],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    outputs = [process.communicate(timeout=120) for process in started]
    assert [process.returncode for process in started] == [0] * PROCESSES, outputs
    assert names_in(tmp_path / "data" / "cmnb" / "sandbox.json") == names
