"""External tools the tests run: a missing one fails the test and names its Debian package.

The Makefile's `DEBS :=` line installs every tool named here (`make debs`); a test that skipped
when one was missing would report green on a machine that never ran it.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require(tool: str, package: str) -> str:
    """The path of `tool` (a command on PATH, or an absolute path); fails the test if missing.

    `package` is the Debian package that provides it, named in the failure message.
    """
    if os.path.isabs(tool):
        path = tool if os.path.isfile(tool) and os.access(tool, os.X_OK) else None
    else:
        path = shutil.which(tool)
    if path is None:
        pytest.fail(
            f"{tool} is missing: install the Debian package {package} (make debs)",
            pytrace=False,
        )
    return path
