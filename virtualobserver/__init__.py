"""virtualobserver: survey-scale lightcurve searches (select targets, download, reduce, search, inject, persist).

The layers are ``virtualobserver.domain``, ``virtualobserver.services``, ``virtualobserver.adapters`` and
``virtualobserver.tui``. In the repository they are the top-level folders ``domain/``, ``services/``, ``adapters/``
and ``tui/``, the layout the design lays out; this folder links to them (symbolic links, so that Python, pytest,
import-linter and editors see one package in a checkout), and the build maps them into the wheel's
``virtualobserver`` package (``setup.py``).
"""


def __getattr__(name: str):
    # The version is looked up on first use only: from git in a checkout, it costs a subprocess.
    if name == "__version__":
        from virtualobserver._release import release

        return release()
    raise AttributeError(f"module 'virtualobserver' has no attribute {name!r}")
