"""project_python.py: the peer scripts' one way to find the Python that has
PyTorch and micrograd: $AUTODIDACT_PYTHON, else /opt/autodidact-venv/bin/python3,
else the python already running."""
import os
import sys

VENV_PYTHON = "/opt/autodidact-venv/bin/python3"


def reexec_under_project_python():
    """Re-run this script under the project's Python, once, if it is another."""
    want = os.environ.get("AUTODIDACT_PYTHON") or (VENV_PYTHON if os.path.exists(VENV_PYTHON) else None)
    if want and os.path.abspath(want) != os.path.abspath(sys.executable) and not os.environ.get("AUTODIDACT_PEERS_REEXEC"):
        os.environ["AUTODIDACT_PEERS_REEXEC"] = "1"
        os.execv(want, [want] + sys.argv)
