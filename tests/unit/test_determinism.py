"""Synthetic surveys give the same data in every process (no seeding from ``hash()``, which
PYTHONHASHSEED changes from one process to the next)."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Prints a digest of every column two sources download from the fake and the demo survey.
_SCRIPT = """
import hashlib
from virtualobserver.adapters.surveys.demo import VirtualDemoObs
from virtualobserver.domain.source import Source
from tests.fakes import FakeSurveyClient
digest = hashlib.sha256()
for client in (FakeSurveyClient(FakeSurveyClient.parameters_class()), VirtualDemoObs()):
    for name in ("S000", "Gaia DR3 123"):
        raw = client.download(Source(name, 10.0, 20.0, mag=17.0))
        for column in sorted(raw.columns):
            digest.update(column.encode() + raw.columns[column].tobytes())
print(digest.hexdigest())
"""


def _digest(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout.strip()


def test_survey_data_are_the_same_in_every_process():
    # Two processes with different string hashes: data seeded from hash(name) would differ.
    first, second = _digest("1"), _digest("2")
    assert len(first) == 64 and first == second
