"""Application records and processes the agent could not read (core.app_instances; R-D1)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from patchwarden.core.app_instances import (
    AppProcess,
    held_by_unreadable,
    instance_keys,
    unreadable_note,
)
from patchwarden.core.app_matching import app_matches
from patchwarden.core.inventory import Component, ListeningPort, ProcessInstance
from patchwarden.core.matching import MatchErrors

STARTED = "2026-11-30T05:19:52.240+00:00"
JVM = ProcessInstance(
    pid=4242,
    start_time=STARTED,
    exe="/usr/bin/java",
    name="java",
    cmdline=("java", "-jar", "app.jar"),
    ports=(ListeningPort("tcp", "0.0.0.0", 8080),),
)
RECORDED = AppProcess.of(JVM)
"""The process an application record last saw."""


def unreadable(pid: int = 4242, start_time: str = STARTED, name: str = "java") -> ProcessInstance:
    """What the agent reports of a process it could not read."""
    return ProcessInstance(pid=pid, start_time=start_time, exe="", name=name, readable=False)


@pytest.mark.parametrize(
    ("processes", "held"),
    [
        pytest.param([unreadable()], True, id="same pid and start: may be it"),
        pytest.param([unreadable(start_time="")], True, id="same pid, start unknown: may be it"),
        pytest.param(
            [unreadable(start_time="2026-11-30T05:19:53.100+00:00")],
            True,
            id="start within the boot-time slack: one start",
        ),
        pytest.param(
            [unreadable(start_time="2026-11-30T09:00:00.000+00:00")],
            False,
            id="same pid, later start: a reused pid",
        ),
        pytest.param([unreadable(start_time="not a time")], True, id="odd start: the pid decides"),
        pytest.param([unreadable(pid=1, name="init")], False, id="another pid: not it"),
        pytest.param([replace(JVM, cmdline=())], False, id="readable with that pid: not held"),
        pytest.param([], False, id="no process: gone"),
    ],
)
def test_held_by_unreadable(processes: list[ProcessInstance], held: bool) -> None:
    found = held_by_unreadable(RECORDED, processes)
    assert (found is not None) is held
    if held:
        assert found is processes[0]


def test_the_note_names_the_process_and_no_requirement_id() -> None:
    note = unreadable_note(RECORDED)
    assert "process 4242" in note and "R-" not in note


def test_unreadable_processes_take_no_instance_key_nor_ordinal() -> None:
    """An unreadable process with what of it was read looking like a JVM does not shift the
    JVMs' ordinals, and gets no key (no application finding can be made of it)."""
    second = replace(JVM, pid=4243, ports=(ListeningPort("tcp", "0.0.0.0", 8081),))
    alone = instance_keys([JVM, second])
    lookalike = replace(JVM, pid=17, ports=(ListeningPort("tcp", "0.0.0.0", 80),), readable=False)
    assert instance_keys([lookalike, JVM, second]) == ["", *alone]


def test_an_unreadable_process_makes_no_application_finding() -> None:
    """Even when an inventory says it holds components: it has no instance to file them
    under (the agent sends none)."""
    log4j = Component(
        "/opt/app/lib/log4j-core-2.14.1.jar", "Maven", "org.apache.logging.log4j:log4j-core",
        "2.14.1", "pom.properties", "high",
    )  # fmt: skip
    looked_up: list[str] = []

    def lookup(ecosystem: str, name: str) -> list[Any]:
        looked_up.append(name)
        return []

    processes = [replace(JVM, components=(log4j,), readable=False)]
    assert app_matches(processes, lookup, MatchErrors()) == []
    assert looked_up == []
    app_matches([replace(JVM, components=(log4j,))], lookup, MatchErrors())
    assert looked_up == ["org.apache.logging.log4j:log4j-core"]  # a readable one is looked up
