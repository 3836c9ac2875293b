"""Flows from files: ``load_flows`` loads a folder of ``NAME.json`` files or refuses it with
every problem of every file, one line each; the flow model the runtime shares."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from switchboard.callbacks.studio.definition import Flow, FlowError, Problem, StudioError
from switchboard.callbacks.studio.loader import (
    check_files,
    check_folder,
    flows_dir,
    load_flow,
    load_flows,
)
from tests.studio import (
    DOC_SIMPLE_FLOW,
    EXAMPLES,
    flow,
    state,
    transition,
    write,
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A flows folder holding the two example flows."""
    target = tmp_path / "flows"
    target.mkdir()
    for path in EXAMPLES.glob("*.json"):
        shutil.copy(path, target / path.name)
    return target


def test_load_flows_names_each_flow_by_its_file(folder: Path) -> None:
    flows = load_flows(folder)
    assert list(flows) == ["ivr_voicemail", "sms_reply_loop"]
    ivr = flows["ivr_voicemail"]
    assert isinstance(ivr, Flow)
    assert ivr.name == "ivr_voicemail"
    assert ivr.source == str(folder / "ivr_voicemail.json")
    assert ivr.definition == json.loads((folder / "ivr_voicemail.json").read_text("utf-8"))
    assert ivr.description == "IVR menu with voicemail"
    assert ivr.initial_state == "Trigger"
    assert ivr.flags == {"allow_concurrent_calls": True}
    assert ivr.trigger_events == ["incomingMessage", "incomingCall"]
    assert flows["sms_reply_loop"].trigger_events == ["incomingMessage"]


def test_the_flow_model_answers_the_runtimes_look_ups(folder: Path) -> None:
    ivr = load_flows(folder)["ivr_voicemail"]
    assert ivr.widget("main_menu")["type"] == "gather-input-on-call"
    assert ivr.properties("main_menu")["number_of_digits"] == 1
    assert ivr.properties("main_menu")["offset"] == {"x": 130, "y": 200}
    assert ivr.next_state("main_menu", "keypress") == "route_digits"
    assert ivr.next_state("thank_you", "audioComplete") is None
    assert ivr.next_state("main_menu", "no-such-event") is None
    matches = [t for t in ivr.transitions("route_digits") if t["event"] == "match"]
    assert [t["conditions"][0]["value"] for t in matches] == ["1", "2", "3"]


def test_the_sample_flow_of_twilios_docs_loads(tmp_path: Path) -> None:
    write(tmp_path, "simple.json", DOC_SIMPLE_FLOW)
    seen: list[Problem] = []
    flows = load_flows(tmp_path, warn=seen.append)
    assert flows["simple"].trigger_events == ["incomingMessage", "incomingCall",
                                              "incomingRequest"]
    assert seen == []


def test_a_broken_folder_is_refused_with_every_problem_of_every_file(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    write(flows, "good.json", flow(state("hi", "say-play", {"say": "Hi"},
                                         [transition("audioComplete")])))
    write(flows, "bad_json.json", '{\n  "states": [\n    {"name": "Trigger",}\n  ]\n}\n')
    write(flows, "ivr.json", flow(
        state("menu", "gather-input-on-call", {"say": "Press {{ 1"},
              [transition("keypress", "gone")]),
        state("menu", "say-play", {"say": "Hi"})))
    write(flows, "not a name.json", flow(state("hi", "say-play", {"say": "Hi"})))
    with pytest.raises(FlowError) as raised:
        load_flows(flows)
    error = raised.value
    assert isinstance(error, StudioError)
    assert str(error).splitlines() == error.lines == [
        f"{flows}/bad_json.json: invalid JSON at line 3, column 24: Expecting property name "
        "enclosed in double quotes",
        f"{flows}/ivr.json: state 'menu': duplicate state name (state #2 has it too); state "
        "names must be unique",
        f"{flows}/ivr.json: state 'menu': property 'next': no state named 'gone' (transition "
        "#1, on 'keypress')",
        f"{flows}/ivr.json: state 'menu': property 'say': Liquid syntax error at line 1, "
        "column 7: expected '}}', found end of file",
        f"{flows}/not a name.json: flow name 'not a name' is not a valid URL segment "
        "(/flows/NAME); rename the file with letters, digits, '-', '_', '.' or '~', starting "
        "with a letter or digit",
    ]
    assert all(isinstance(problem, Problem) and not problem.warning
               for problem in error.problems)


def test_the_lines_name_the_folder_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.chdir(tmp_path)
    definition = flow(state("menu", "say-play", {"say": "Hi"}, [transition("audioComplete",
                                                                           "gone")]))
    write(tmp_path / "flows", "ivr.json", definition)
    with pytest.raises(FlowError) as raised:
        load_flows(Path("flows"))
    assert str(raised.value) == (
        "flows/ivr.json: state 'menu': property 'next': no state named 'gone' (transition #1, "
        "on 'audioComplete')")


def test_only_the_json_files_of_the_folder_itself_are_flows(folder: Path) -> None:
    write(folder, "README.md", "# not a flow")
    write(folder, "drafts/broken.json", "{")
    write(folder, "notes.json.bak", "{")
    assert sorted(load_flows(folder)) == ["ivr_voicemail", "sms_reply_loop"]


def test_an_empty_folder_has_no_flows_and_a_missing_one_is_refused(tmp_path: Path) -> None:
    assert load_flows(tmp_path) == {}
    with pytest.raises(FlowError) as raised:
        load_flows(tmp_path / "nowhere")
    assert str(raised.value) == (
        f"{tmp_path}/nowhere: no such folder; set SWITCHBOARD_FLOWS_DIR to the folder of your "
        "flows' NAME.json files")


def test_a_file_that_is_not_utf8_or_not_an_object(tmp_path: Path) -> None:
    (tmp_path / "latin.json").write_bytes('{"description": "caf\xe9"}'.encode("latin-1"))
    write(tmp_path, "list.json", [])
    report = check_folder(tmp_path)
    assert [str(problem) for problem in report.errors] == [
        f"{tmp_path}/latin.json: not UTF-8 text; save the file as UTF-8",
        f"{tmp_path}/list.json: must be an object, not an array"]
    assert report.flows == {}
    assert report.files == 2


def test_two_files_with_one_name_are_one_problem(tmp_path: Path, folder: Path) -> None:
    other = write(tmp_path / "other", "ivr_voicemail.json",
                  json.loads((EXAMPLES / "ivr_voicemail.json").read_text("utf-8")))
    report = check_files([folder, other])
    assert [str(problem) for problem in report.errors] == [
        f"{other}: a second flow named 'ivr_voicemail' (the first is "
        f"{folder / 'ivr_voicemail.json'}); flow names must be unique"]
    assert report.flows["ivr_voicemail"].source == str(folder / "ivr_voicemail.json")


def test_load_flow_loads_one_file_or_raises_its_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "hello.json", flow(state("hi", "say-play", {"say": "Hi"})))
    assert load_flow(path).name == "hello"
    assert load_flow(path, name="greeting").name == "greeting"
    write(tmp_path, "hello.json", {"initial_state": "Trigger"})
    with pytest.raises(FlowError, match="property 'states': missing"):
        load_flow(path)


def test_flows_dir_is_the_setting_else_a_flows_folder_of_the_working_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert flows_dir() is None
    (tmp_path / "flows").mkdir()
    assert flows_dir() == Path("flows")
    assert flows_dir("/srv/flows") == Path("/srv/flows")
    assert flows_dir("") == Path("flows")


def test_the_flows_dir_setting_must_be_a_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from switchboard.config import ConfigError, load_settings

    monkeypatch.setenv("SWITCHBOARD_DOTENV", "0")
    monkeypatch.setenv("SWITCHBOARD_FLOWS_DIR", str(tmp_path))
    assert load_settings().flows_dir == str(tmp_path)
    monkeypatch.setenv("SWITCHBOARD_FLOWS_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"SWITCHBOARD_FLOWS_DIR: .* is not a folder"):
        load_settings()


def test_a_flow_error_of_plain_lines() -> None:
    error = FlowError(["a.json: one", Problem("b.json", "two", "menu", "say")])
    assert str(error) == "a.json: one\nb.json: state 'menu': property 'say': two"
    assert str(Problem("c.json", "not an object", 3)) == "c.json: state #3: not an object"
