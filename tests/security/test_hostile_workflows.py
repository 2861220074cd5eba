"""Hostile workflows.yaml documents (tests/security/yaml/) are refused at once, with file and line.

Each document is loaded in a forked child killed after a few seconds, so a loader that
expands a YAML bomb fails this test instead of hanging the suite."""

import multiprocessing
import re
import time
from pathlib import Path

import pytest

from orchestrator_assets.cli import main
from orchestrator_assets.defs.automation.workflows import MAX_BYTES, WorkflowError, load_workflows, parse_workflows

HOSTILE = Path(__file__).parent / "yaml"
LIMIT_S = 10.0  # generous for a loaded 2-core machine; each refusal takes well under a second

# file -> (line named in the refusal, or None for the size refusal that reads no line; what it says)
EXPECTED = {
    "bomb.yaml": (7, "anchors and aliases"),
    "merge_key.yaml": (2, "anchors and aliases"),
    "python_tag.yaml": (4, "tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"),
    "deep_nesting.yaml": (5, "nested more than 20 levels deep"),
    "huge.yaml": (None, f"more than the {MAX_BYTES} bytes"),
}


def _child(function, args, pipe) -> None:
    try:
        function(*args)
        pipe.send(("accepted", ""))
    except WorkflowError as error:
        pipe.send(("refused", str(error)))
    except BaseException as error:  # noqa: BLE001 - reported to the parent as a failure
        pipe.send(("crashed", f"{type(error).__name__}: {error}"))


def bounded(function, *args) -> tuple[str, str, float]:
    """(outcome, message, seconds) of function(*args) in a forked child given LIMIT_S."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(function, args, send))
    started = time.perf_counter()
    child.start()
    ready = receive.poll(LIMIT_S)
    elapsed = time.perf_counter() - started
    if not ready:
        child.kill()
        child.join()
        pytest.fail(f"{function.__name__}{args} still running after {LIMIT_S} s")
    outcome, message = receive.recv()
    child.join()
    return outcome, message, elapsed


def test_every_hostile_document_is_listed_here():
    assert sorted(path.name for path in HOSTILE.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_hostile_workflows_file_is_refused_quickly_with_file_and_line(name):
    path = HOSTILE / name
    outcome, message, elapsed = bounded(load_workflows, path)
    assert outcome == "refused", message
    line, says = EXPECTED[name]
    assert message.startswith(str(path)), message
    if line is not None:
        assert re.search(rf", line {line}, column \d+:", message), message
    assert says in message
    assert "\n" not in message
    assert elapsed < LIMIT_S


def test_a_yaml_bomb_in_an_environment_variable_is_refused(monkeypatch):
    bomb = (HOSTILE / "bomb.yaml").read_text().split("parameters:\n", 1)[1]
    monkeypatch.setenv("REASSORT_TEST_BOMB", "{" + ", ".join(line.strip() for line in bomb.splitlines()) + "}")
    text = "workflows:\n  A:\n    description: ${REASSORT_TEST_BOMB}\n"
    outcome, message, _ = bounded(parse_workflows, text, "wf.yaml")
    assert outcome == "refused" and "anchors and aliases" in message, message


def test_a_huge_file_is_refused_without_being_read_whole(tmp_path):
    endless = tmp_path / "workflows.yaml"
    endless.write_bytes(b"#" * (50 * MAX_BYTES))
    with pytest.raises(WorkflowError, match="more than the"):
        load_workflows(endless)


def _plan(path: Path) -> None:
    import os

    os.environ["REASSORT_WORKFLOWS"] = str(path)
    status = main(["plan", "BOMB", "--date", "2026-01-01"])
    raise WorkflowError(f"exit {status}")  # reported to the parent as the outcome


def test_reassort_plan_refuses_the_bomb_with_exit_2_and_a_located_message(capfd):
    import orchestrator_assets.definitions  # noqa: F401 - imported before the fork: the child's time is the loader's

    outcome, message, _ = bounded(_plan, HOSTILE / "bomb.yaml")
    assert (outcome, message) == ("refused", "exit 2")
    err = capfd.readouterr().err
    assert re.search(r"reassort plan: .*bomb\.yaml, line 7, column \d+: YAML anchors and aliases", err), err


def test_an_ordinary_workflows_file_still_loads():
    text = "workflows:\n  RAPIDE:\n    modules: [stock, urgence]\n    parameters: {stock.horizon_days: 14}\n"
    (workflow,) = parse_workflows(text)
    assert workflow.overrides == {"stock": {"horizon_days": 14}}
