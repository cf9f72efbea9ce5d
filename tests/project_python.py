"""project_python.py: the peer scripts' one way to find the Python that has
PyTorch and micrograd: $AUTODIDACT_PYTHON, else /opt/autodidact-venv/bin/python3,
else the python already running."""
import os
import shutil
import sys

VENV_PYTHON = "/opt/autodidact-venv/bin/python3"


def candidate_pythons():
    """Where to look for the project's Python, in order (for a script that runs
    a peer in a child process rather than re-running itself)."""
    return [p for p in (os.environ.get("AUTODIDACT_PYTHON"), VENV_PYTHON, shutil.which("python3"))
            if p and os.access(p, os.X_OK)]


def reexec_under_project_python():
    """Re-run this script under the project's Python, once, if it is another."""
    want = os.environ.get("AUTODIDACT_PYTHON") or (VENV_PYTHON if os.path.exists(VENV_PYTHON) else None)
    if want and os.path.abspath(want) != os.path.abspath(sys.executable) and not os.environ.get("AUTODIDACT_PEERS_REEXEC"):
        os.environ["AUTODIDACT_PEERS_REEXEC"] = "1"
        os.execv(want, [want] + sys.argv)
