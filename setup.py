"""The build's package mapping: the top-level layer folders become ``virtualobserver.<layer>``.

Everything else about the build is in ``pyproject.toml``. The mapping keeps the repository's layout
(``domain/``, ``services/``, ``adapters/``, ``tui/`` at the top, as the design lays out) while installing one
package, so that nothing lands in site-packages under a name another distribution uses.
"""

from setuptools import find_packages, setup

LAYERS = ("domain", "services", "adapters", "tui")

packages = ["virtualobserver"]
package_dir = {"virtualobserver": "virtualobserver"}
for layer in LAYERS:
    package_dir[f"virtualobserver.{layer}"] = layer
    packages += [f"virtualobserver.{layer}"] + [f"virtualobserver.{layer}.{sub}" for sub in find_packages(layer)]

setup(packages=packages, package_dir=package_dir)
