"""``switchboard flows check|list|show``: offline, one line per problem, exit status 1 on
problems and 2 on a bad argument."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from switchboard.cli import cli
from tests.studio import DOC_SIMPLE_FLOW, EXAMPLES, flow, state, transition, write

SCRIPT = Path(sys.executable).with_name("switchboard")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder whose ``flows/`` holds the two example flows."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SWITCHBOARD_FLOWS_DIR", raising=False)
    (tmp_path / "flows").mkdir()
    for path in EXAMPLES.glob("*.json"):
        shutil.copy(path, tmp_path / "flows" / path.name)
    return tmp_path / "flows"


def run(*args: str, **env: str | None) -> Result:
    return CliRunner().invoke(cli, ["flows", *args], env=env)


def broken(folder: Path) -> Path:
    definition = flow(state("menu", "gather-input-on-call", {"say": "Press 1 {{ oops"},
                                                             [transition("keypress", "gone")]))
    return write(folder, "broken.json", definition)


def test_check_checks_every_flow_of_the_flows_folder(folder: Path) -> None:
    result = run("check")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, "2 flows checked, no problems\n", "")


def test_check_reads_the_folder_from_the_setting(folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    write(other, "simple.json", flow(state("hi", "say-play", {"say": "Hi"},
                                           [transition("audioComplete")])))
    result = run("check", SWITCHBOARD_FLOWS_DIR=str(other))
    assert (result.exit_code, result.stdout) == (0, "1 flow checked, no problems\n")


def test_check_given_files_and_folders(folder: Path) -> None:
    result = run("check", "flows/ivr_voicemail.json", "flows")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, "2 flows checked, no problems\n", "")


def test_check_prints_one_line_per_problem_and_exits_1(folder: Path) -> None:
    broken(folder)
    result = run("check")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "flows/broken.json: state 'menu': property 'next': no state named 'gone' (transition "
        "#1, on 'keypress')",
        "flows/broken.json: state 'menu': property 'say': Liquid syntax error at line 1, "
        "column 9: expected '}}', found end of file",
        "Error: 3 flows checked, 2 problems",
    ]


def test_check_prints_warnings_and_passes(folder: Path) -> None:
    write(folder, "simple.json", DOC_SIMPLE_FLOW)
    result = run("check", "flows/simple.json")
    assert result.exit_code == 0
    assert result.stdout == "1 flow checked, no problems\n"
    assert result.stderr == ""


def test_check_invalid_json_is_located(folder: Path) -> None:
    write(folder, "typo.json", '{"initial_state": "Trigger", "states": [}')
    result = run("check", "flows/typo.json")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "flows/typo.json: invalid JSON at line 1, column 41: Expecting value",
        "Error: 1 flow checked, 1 problem"]


@pytest.mark.parametrize(("args", "env", "message"), [
    (["check", "nope.json"], {},
     "Error: flows check: Invalid value for '[FILE|FOLDER]...': Path 'nope.json' does not "
     "exist."),
    (["check"], {"SWITCHBOARD_FLOWS_DIR": "missing"},
     "Error: flows check: SWITCHBOARD_FLOWS_DIR: 'missing' is not a folder; create it or fix "
     "the path"),
    (["list"], {"SWITCHBOARD_FLOWS_DIR": "missing"},
     "Error: flows list: SWITCHBOARD_FLOWS_DIR: 'missing' is not a folder; create it or fix the "
     "path"),
    (["show", "nope"], {},
     "Error: flows show: no flow named 'nope' in flows (flows: ivr_voicemail, "
     "sms_reply_loop)"),
    (["show", "nope.json"], {}, "Error: flows show: no file 'nope.json'"),
    (["show"], {}, "Error: flows show: Missing argument 'NAME'."),
    (["list", "--fast"], {}, "Error: flows list: No such option '--fast'."),
])
def test_bad_arguments_are_one_line_and_exit_2(folder: Path, args: list[str],
                                               env: dict[str, str], message: str) -> None:
    result = run(*args, **env)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [message]


def test_without_a_flows_folder_check_says_how_to_give_one(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("check", SWITCHBOARD_FLOWS_DIR=None)
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: flows check: no flows folder: set SWITCHBOARD_FLOWS_DIR or create flows/ in "
        "the working folder, with one NAME.json file per flow\n")


def test_flows_without_a_command_shows_its_help_and_exits_2(folder: Path) -> None:
    result = run()
    assert result.exit_code == 2
    assert "flows [OPTIONS] COMMAND" in result.stderr
    assert {line.split()[0] for line in result.stderr.split("Commands:")[1].splitlines()
            if line.strip()} == {"check", "list", "run", "show"}


def test_list_lists_each_flow_with_its_triggers_and_url(folder: Path) -> None:
    result = run("list")
    assert result.exit_code == 0
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["NAME", "STATES", "TRIGGERS", "PATH", "DESCRIPTION"],
        ["ivr_voicemail", "15", "incomingMessage,", "incomingCall", "/flows/ivr_voicemail",
         "IVR", "menu", "with", "voicemail"],
        ["sms_reply_loop", "14", "incomingMessage", "/flows/sms_reply_loop", "SMS", "bot",
         "with", "a", "reply", "loop"],
    ]
    header, first, _ = result.stdout.splitlines()
    assert header.index("PATH") == first.index("/flows/")


def test_list_of_an_empty_folder_and_of_a_broken_one(folder: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("list", SWITCHBOARD_FLOWS_DIR=str(empty))
    assert (result.exit_code, result.stdout) == (
        0, f"no flows in {empty} (add NAME.json files exported from Studio)\n")
    broken(folder)
    result = run("list")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "Error: the flows of flows cannot be loaded (2 problems); see `switchboard flows "
        "check`")


def test_show_prints_the_flow_as_an_outline(folder: Path) -> None:
    result = run("show", "ivr_voicemail")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:4] == ["ivr_voicemail: IVR menu with voicemail",
                         "source: flows/ivr_voicemail.json", "url: /flows/ivr_voicemail",
                         "initial state: Trigger"]
    start = lines.index("main_menu (gather-input-on-call)")
    assert lines[start:start + 4] == ["main_menu (gather-input-on-call)",
                                      "  keypress -> route_digits", "  speech -> route_speech",
                                      "  timeout -> count_attempt"]
    assert "  match [If value equal_to 1] -> connect_front_desk" in lines
    assert "  hangup -> (end)" in lines
    definition = json.loads((folder / "ivr_voicemail.json").read_text("utf-8"))
    assert sum(line.startswith("  ") for line in lines) == sum(
        len(s["transitions"]) for s in definition["states"])


def test_show_a_file_and_a_broken_flow(folder: Path) -> None:
    result = run("show", "flows/sms_reply_loop.json")
    assert result.exit_code == 0
    assert result.stdout.startswith("sms_reply_loop: SMS bot with a reply loop\n")
    broken(folder)
    result = run("show", "broken")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: flow 'broken' cannot be loaded (2 problems); see `switchboard flows check`")


def test_show_mermaid_draws_a_node_per_widget_and_an_edge_per_transition(folder: Path
                                                                         ) -> None:
    result = run("show", "sms_reply_loop", "--mermaid")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    definition = json.loads((folder / "sms_reply_loop.json").read_text("utf-8"))
    names = [s["name"] for s in definition["states"]]
    assert lines[0] == "flowchart TD"
    nodes = [line for line in lines if '["' in line]
    edges = [line for line in lines if "-->" in line]
    assert nodes[:2] == ['    s0["Trigger<br/>trigger"]',
                         '    s1["greeting<br/>send-and-wait-for-reply"]']
    assert len(nodes) == len(names)
    assert len(edges) == sum(1 for s in definition["states"] for t in s["transitions"]
                             if t.get("next"))
    assert '    s0 -->|"incomingMessage"| s1' in edges
    loop = f"s{names.index('ask_again')} -->|\"incomingMessage\"| s{names.index('save_reply')}"
    assert f"    {loop}" in edges
    assert len(lines) == 1 + len(nodes) + len(edges)


def test_mermaid_labels_escape_quotes_and_markup(folder: Path) -> None:
    definition = flow(
        state("ask", "split-based-on", {"input": "{{trigger.message.Body}}"}, [
            transition("match", "ask", conditions=[
                {"friendly_name": 'Says "a|b" <yes>', "arguments": ["{{x}}"],
                 "type": "equal_to", "value": "yes"}])]))
    write(folder, "quoted.json", definition)
    result = run("show", "quoted", "--mermaid")
    assert result.exit_code == 0
    assert '    s1 -->|"match [Says #quot;a#124;b#quot; #lt;yes#gt;]"| s1' in result.stdout


def test_the_console_script_checks_the_example_flows() -> None:
    environment = {**os.environ}
    environment.pop("SWITCHBOARD_FLOWS_DIR", None)
    result = subprocess.run(
        [str(SCRIPT), "flows", "check", *sorted(map(str, EXAMPLES.glob("*.json")))],
        capture_output=True, text=True, timeout=60, env=environment, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (
        0, "2 flows checked, no problems\n", "")


def test_the_console_script_exits_1_on_a_broken_flow(tmp_path: Path) -> None:
    path = broken(tmp_path)
    result = subprocess.run([str(SCRIPT), "flows", "check", str(path)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "Error: 1 flow checked, 2 problems"
    assert "Traceback" not in result.stderr
