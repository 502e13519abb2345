"""The agent's imports need the standard library only (DESIGN §2-3), version orderings included.

The agent's repository check orders versions with `core.versions.dpkg`, which imports the
`core.versions` package; that package must not drag in univers, semver or packaging. A fresh
interpreter started with `-S -I` (no site-packages, no environment, no user directory) and only
`src` on its path imports the modules the agent needs and lists what got loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src"

_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
before = set(sys.modules)
import patchwarden.core.versions.dpkg
import patchwarden.core.versions.rpm
import patchwarden.agent.inventory
from patchwarden.core.versions import SCHEMES, compare
loaded = sorted(set(sys.modules) - before)
try:
    import univers  # noqa: F401
    third_party_reachable = True
except ImportError:
    third_party_reachable = False
print(json.dumps({
    "loaded": loaded,
    "stdlib": sorted(sys.stdlib_module_names),
    "third_party_reachable": third_party_reachable,
    "dpkg": compare("dpkg", "1.0~rc1", "1.0"),
    "rpm": compare("rpm", "1.0", "1.0^git1"),
    "known": "maven" in SCHEMES,
}))
"""


def test_agent_version_imports_need_no_third_party_module() -> None:
    done = subprocess.run(
        [sys.executable, "-S", "-I", "-c", _PROBE, str(SRC)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    # The probe really has no site-packages: univers (a dependency of this venv) is out of reach.
    assert seen["third_party_reachable"] is False
    stdlib = set(seen["stdlib"])
    foreign = [
        name
        for name in seen["loaded"]
        if name.split(".")[0] not in stdlib and name.split(".")[0] != "patchwarden"
    ]
    assert foreign == []
    ours = {name for name in seen["loaded"] if name.startswith("patchwarden.core.versions.")}
    assert ours == {"patchwarden.core.versions.dpkg", "patchwarden.core.versions.rpm"}
    assert (seen["dpkg"], seen["rpm"], seen["known"]) == (-1, -1, True)
