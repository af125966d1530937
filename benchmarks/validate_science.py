"""Validation report of the finder's statistics and of its events on real files (Markdown on stdout).

Run ``python benchmarks/validate_science.py [--epochs N] [--tail5-epochs N] [--data DIR] [--quick]``:

1. **False alarms per epoch** on pure Gaussian noise (right, unequal errors), for lightcurves of 20,
   33, 100 and 1000 epochs, at the default settings and each documented alternative (``excess_scatter``
   off; ``detrend: biweight`` with and without it), at |S/N| >= 3, 4, 5: observed counts against
   ``N erfc(T / sqrt 2)`` with the binomial standard error, and their ratio. ``--epochs`` per cell
   (default 10^7; 5 sigma needs ``--tail5-epochs``, default 10^8 for the defaults at n = 33 and 1000).
2. **False alarms per matched-filter window**: the window S/N of disjoint windows (centres further
   apart than the width), same comparison, per width and setting.
3. **Events per lightcurve** at T = 4: the detections the finder reports on noise against
   ``N p`` (one per false-alarm epoch; windows add correlated trials, counted per independent window).
4. **Real files** through the project's own path (the survey client's ``parse_file`` and ``reduce``,
   the shipped ``configs/{tess,kepler,k2}.yaml``, the analysis) next to AltaiPony's flare lists
   (``benchmarks/reference/altaipony_flares.csv``, made in a side environment by
   ``benchmarks/reference/make_references.py``): matched by overlap, peak times, ED and amplitude, and
   our ED recomputed over AltaiPony's own cadences (to separate the definition from the extent).

5. **Injection-recovery**: one-epoch box efficiencies at the defaults against P(z > T - A) for
   lightcurves of 33 and 1000 epochs (chi^2 per degree of freedom), null injections (S/N amplitude
   <= 0.1) on each real file with the binomial 95 % upper limit, the fraction of injection peaks in the
   demo's seasonal gaps against the gap fraction, and multi-filter injections against their colours.

Seeds are fixed; a rerun prints the same numbers. ``--quick`` runs 10x fewer epochs (a smoke test).
"""

from __future__ import annotations

import argparse
import csv
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from virtualobserver.adapters.config_file import load_config  # noqa: E402
from virtualobserver.adapters.container import SURVEYS  # noqa: E402
from virtualobserver.domain.analysis.analysis import Analysis  # noqa: E402
from virtualobserver.domain.analysis.detecting import SECONDS_PER_DAY, find_detections  # noqa: E402
from virtualobserver.domain.analysis.finder import AnalysisParameters, score_many  # noqa: E402
from tests.noise import noise_lightcurves, two_sided_tail  # noqa: E402

LENGTHS = (20, 33, 100, 1000)
SETTINGS = {
    "defaults": {},
    "excess_scatter off": {"excess_scatter": False},
    "biweight (30 epochs)": {"detrend": "biweight", "detrend_window_days": 30.0},
    "biweight, excess off": {"detrend": "biweight", "detrend_window_days": 30.0, "excess_scatter": False},
}
REAL = {  # file, config, survey, time offset of the file's own times (BTJD/BKJD) from MJD
    "TESS": ("tess2018206045859-s0001-0000000358108509-0120-s_lc.fits", "tess.yaml", "tess", 2457000.0 - 2400000.5),
    "Kepler": ("kplr010002792-2010174085026_llc.fits", "kepler.yaml", "kepler", 2454833.0 - 2400000.5),
    "K2": ("ktwo211117077-c04_llc.fits", "k2.yaml", "k2", 2454833.0 - 2400000.5),
}
_CHUNK = 1_000_000


def _cell(count: int, trials: int, threshold: float) -> str:
    p = two_sided_tail(threshold)
    expected = trials * p
    error = math.sqrt(trials * p * (1 - p))
    if expected < 1:
        return f"{count} / {expected:.2f}"
    return f"{count} / {expected:.0f} ({count / expected:.3f} +- {error / expected:.3f}, {(count - expected) / error:+.1f} se)"


def _noise_snr(n: int, epochs: int, parameters: AnalysisParameters, seed: int, widths=()) -> tuple:
    rng = np.random.default_rng(seed)
    tallies = {t: 0 for t in (3.0, 4.0, 5.0)}
    windows = {w: {t: 0 for t in (3.0, 4.0, 5.0)} for w in widths}
    window_trials = {w: 0 for w in widths}
    total = 0
    for start in range(0, epochs, _CHUNK):
        for scores in score_many(noise_lightcurves(n, min(_CHUNK, epochs - start) // n, rng), parameters):
            z = np.abs(scores.snr)
            total += z.size
            for t in tallies:
                tallies[t] += int(np.sum(z >= t))
            for w in widths:
                disjoint = np.abs(scores.filtered[w][:: int(w) + 1])
                window_trials[w] += disjoint.size
                for t in tallies:
                    windows[w][t] += int(np.sum(disjoint >= t))
    return total, tallies, window_trials, windows


def false_alarms(epochs: int, tail5_epochs: int) -> None:
    """Print the per-epoch table (section 1)."""
    print("## 1. False alarms per epoch on Gaussian noise\n")
    print(f"Observed / expected beyond |S/N| = T ({epochs:.0e} epochs per cell; ratio +- binomial error).\n")
    print("| setting | n | T = 3 | T = 4 | T = 5 |")
    print("|---|---|---|---|---|")
    for name, setting in SETTINGS.items():
        for n in LENGTHS:
            start = time.perf_counter()
            total, tallies, _, _ = _noise_snr(n, epochs, AnalysisParameters(**setting), seed=hash((name, n)) % 2**32)
            cells = " | ".join(_cell(tallies[t], total, t) for t in (3.0, 4.0, 5.0))
            print(f"| {name} | {n} | {cells} |  <!-- {time.perf_counter() - start:.0f} s -->", flush=True)
    if tail5_epochs:
        print(f"\nThe 5-sigma tail at the defaults over {tail5_epochs:.0e} epochs (a factor 1.5 is "
              f"{0.5 * math.sqrt(tail5_epochs * two_sided_tail(5.0)):.1f} standard errors):\n")
        print("| n | T = 5 |")
        print("|---|---|")
        for n in (33, 1000):
            total, tallies, _, _ = _noise_snr(n, tail5_epochs, AnalysisParameters(), seed=5000 + n)
            print(f"| {n} | {_cell(tallies[5.0], total, 5.0)} |", flush=True)


def windows_and_events(epochs: int) -> None:
    """Print the per-window table (section 2) and the events per lightcurve (section 3)."""
    print("\n## 2. False alarms per matched-filter window\n")
    print("Disjoint windows of lightcurves of 1000 epochs (one a day), widths 4 and 16 days.\n")
    print("| setting | width | windows | T = 3 | T = 4 |")
    print("|---|---|---|---|---|")
    for name, setting in SETTINGS.items():
        if "biweight" in name:
            setting = {**setting, "detrend_window_days": 64.0}
        parameters = AnalysisParameters(**setting, widths_days=[4.0, 16.0])
        _, _, trials, windows = _noise_snr(1000, epochs // 4, parameters, seed=77, widths=(4.0, 16.0))
        for w in (4.0, 16.0):
            print(f"| {name} | {w:g} | {trials[w]} | {_cell(windows[w][3.0], trials[w], 3.0)} | "
                  f"{_cell(windows[w][4.0], trials[w], 4.0)} |", flush=True)
    print("\n## 3. Events per lightcurve on noise (defaults, T = 4)\n")
    parameters = AnalysisParameters(threshold=4.0)
    rng = np.random.default_rng(4)
    events = total = lightcurves = 0
    for start in range(0, epochs, _CHUNK):
        batch = noise_lightcurves(1000, min(_CHUNK, epochs - start) // 1000, rng)
        for lc, scores in zip(batch, score_many(batch, parameters)):
            lightcurves += 1
            total += scores.snr.size
            if np.nanmax(np.abs(scores.snr)) >= 4.0:
                events += len(find_detections(lc, scores, parameters))
    p = two_sided_tail(4.0)
    print(f"{events} events in {lightcurves} lightcurves of 1000 epochs; one per false-alarm epoch predicts "
          f"{total * p:.0f} +- {math.sqrt(total * p):.0f} ({total * p / lightcurves:.3f} per lightcurve). "
          "With matched-filter widths each adds about span / width independent trials per lightcurve.")


def _altaipony(setting: str = "default") -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    with open(REPO / "benchmarks" / "reference" / "altaipony_flares.csv") as handle:
        for row in csv.DictReader(handle):
            if row["setting"] == setting:
                rows.setdefault(row["mission"], []).append(row)
    return rows


def real_files(data: Path) -> None:
    """Print our detections on the real files next to AltaiPony's (section 4)."""
    print("\n## 4. Real files: our detections next to AltaiPony's\n")
    pony = _altaipony()
    pony2 = _altaipony("N3=2")
    for mission, (name, config_name, survey, offset) in REAL.items():
        path = data / name
        if not path.exists():
            print(f"{mission}: {path} not found (pass --data)\n")
            continue
        config = load_config(REPO / "configs" / config_name, survey_parameters={k: v.parameters_class
                                                                               for k, v in SURVEYS.items()})
        survey_config = next(s for s in config.surveys if s.name == survey)
        client = SURVEYS[survey](survey_config.download)
        lightcurves = client.reduce(client.parse_file(path), survey_config.reduction)
        analysis = Analysis(survey_config.analysis, survey_config.quality, survey_config.histograms)
        start = time.perf_counter()
        results = analysis.analyse_many(lightcurves)
        seconds = time.perf_counter() - start
        a = survey_config.analysis
        print(f"### {mission}: {name}\n")
        print(f"`configs/{config_name}` as shipped: threshold {a.threshold}, widths {a.widths_days}, detrend "
              f"{a.detrend} ({a.detrend_window_days} d), extent threshold {a.extent_threshold}, direction "
              f"{a.direction}; analysis took {seconds:.2f} s.\n")
        print("| ours: kind | peak (file time) | start - end | epochs | S/N (width) | amplitude | ED (s) "
              "| AltaiPony (default): peak | start - stop | ED (s) | ampl | our ED over its cadences |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        listed = pony.get(mission, [])
        matched = set()
        for result in results:
            for d in sorted(result.detections, key=lambda d: d.peak_mjd):
                twin = next((i for i, row in enumerate(listed)
                             if float(row["tstart"]) - 0.01 <= d.peak_mjd - offset <= float(row["tstop"]) + 0.01
                             or d.start_mjd - offset <= float(row["t_peak"]) <= d.end_mjd - offset), None)
                ours = (f"| {d.kind} | {d.peak_mjd - offset:.4f} | {d.start_mjd - offset:.4f} - "
                        f"{d.end_mjd - offset:.4f} | {d.num_epochs} | {d.snr:+.1f} ({d.filter_width:g}) | "
                        f"{d.amplitude:+.4f} | {d.equivalent_duration:.1f} +- {d.equivalent_duration_err:.1f} ")
                if twin is None:
                    also = any(float(r["tstart"]) - 0.01 <= d.peak_mjd - offset <= float(r["tstop"]) + 0.01
                               for r in pony2.get(mission, []))
                    print(ours + f"| not listed{' (listed with N3=2)' if also else ''} | | | | |")
                    continue
                matched.add(twin)
                row = listed[twin]
                print(ours + f"| {float(row['t_peak']):.4f} | {float(row['tstart']):.4f} - {float(row['tstop']):.4f} "
                      f"| {float(row['ed_rec']):.1f} +- {float(row['ed_rec_err']):.1f} | {float(row['ampl_rec']):.4f} "
                      f"| {_ed_over(result, d, row, offset):.1f} |")
        for i, row in enumerate(listed):
            if i not in matched:
                print(f"| (not found) | | | | | | | {float(row['t_peak']):.4f} | {float(row['tstart']):.4f} - "
                      f"{float(row['tstop']):.4f} | {float(row['ed_rec']):.1f} | {float(row['ampl_rec']):.4f} | |")
        print()


def _ed_over(result, detection, row, offset: float) -> float:
    # Our equivalent duration over AltaiPony's own cadences [tstart, tstop), with its left Riemann sum.
    lc = result.lightcurve
    good = result.scores.good
    t = lc.mjds[good] - offset
    inside = np.flatnonzero((t >= float(row["tstart"]) - 1e-6) & (t <= float(row["tstop"]) + 1e-6))
    if inside.size < 2:
        return float("nan")
    flux = lc.flux[good][inside]
    baseline = detection.baseline_flux
    return float(np.sum((flux[:-1] / baseline - 1) * np.diff(t[inside]))) * SECONDS_PER_DAY


def injections(data: Path) -> None:
    """Print the injection-recovery checks (section 5)."""
    from tests.integration.test_null_injections import NULL_KINDS, REAL as NULL_FILES, _null_injections
    from tests.unit.test_efficiency import AMPLITUDES, THRESHOLD, _efficiency

    print("\n## 5. Injection-recovery\n")
    print("One-epoch boxes of A x the finder's single-epoch uncertainty, defaults (T = 5), against "
          "P(z > T - A):\n")
    print("| n | trials per A | " + " | ".join(f"A = {a:g}" for a in AMPLITUDES) + " | chi^2 / dof |")
    print("|---|---|" + "---|" * len(AMPLITUDES) + "---|")
    for n, trials in ((33, 3000), (1000, 1200)):
        measured, chi2 = _efficiency(n, trials, seed=100 + n)
        cells = " | ".join(f"{measured[a]:.3f}" for a in AMPLITUDES)
        print(f"| {n} | {trials} | {cells} | {chi2 / len(AMPLITUDES):.2f} |", flush=True)
    expected = " | ".join(f"{0.5 * math.erfc((THRESHOLD - a) / math.sqrt(2)):.3f}" for a in AMPLITUDES)
    print(f"| P(z > T - A) | | {expected} | |")
    print("\nNull injections (S/N amplitude 0.05-0.1, every kind but microlensing) on the real files, "
          "shipped configs:\n")
    print("| file | injections | covering an epoch | over a real detection | recovered | 95 % upper limit |")
    print("|---|---|---|---|---|---|")
    for survey, name in NULL_FILES.items():
        path = data / name
        if not path.exists():
            continue
        config = load_config(REPO / "configs" / f"{survey}.yaml",
                             survey_parameters={k: v.parameters_class for k, v in SURVEYS.items()})
        settings = next(s for s in config.surveys if s.name == survey)
        client = SURVEYS[survey](settings.download)
        lightcurves = client.reduce(client.parse_file(path), settings.reduction)
        simulation = settings.simulation.replace(injections_per_source=300, amplitude_min=0.05,
                                                 amplitude_max=0.1, kinds=NULL_KINDS)
        outcomes = _null_injections(lightcurves, Analysis(settings.analysis, settings.quality), simulation)
        recovered = sum(o.recovered for o in outcomes)
        limit = _clopper_pearson_upper(recovered, len(outcomes))
        print(f"| {name} | {len(outcomes)} | {sum(o.covered > 0 for o in outcomes)} | "
              f"{sum(o.overlaps_real for o in outcomes)} | {recovered} | {limit:.2%} |", flush=True)


def _clopper_pearson_upper(k: int, n: int, confidence: float = 0.95) -> float:
    # The upper end of the one-sided binomial interval, by bisection on the binomial CDF.
    low, high = k / n, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        cdf = sum(math.comb(n, i) * mid**i * (1 - mid) ** (n - i) for i in range(k + 1))
        low, high = (mid, high) if cdf > 1 - confidence else (low, mid)
    return high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=1e7)
    parser.add_argument("--tail5-epochs", type=float, default=1e8)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("noise", "windows", "real", "injections"), default=None)
    args = parser.parse_args()
    epochs, tail5 = int(args.epochs), int(args.tail5_epochs)
    if args.quick:
        epochs, tail5 = epochs // 10, 0
    print(f"# Science validation ({time.strftime('%Y-%m-%d')}, {platform.node()}, Python "
          f"{platform.python_version()}, numpy {np.__version__})\n")
    if args.only in (None, "real"):
        real_files(args.data)
    if args.only in (None, "noise"):
        false_alarms(epochs, tail5)
    if args.only in (None, "windows"):
        windows_and_events(epochs)
    if args.only in (None, "injections"):
        injections(args.data)


if __name__ == "__main__":
    main()
