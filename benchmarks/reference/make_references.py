"""Reference outputs of the community's flare and detrending tools (AltaiPony, wotan).

This script is not part of virtualobserver and does not import it. It runs in a
separate "side" environment that has AltaiPony, wotan and lightkurve installed,
and writes reference files that virtualobserver's own flare/dip finder and
biweight detrender can be compared against:

``benchmarks/reference/altaipony_flares.csv``
    AltaiPony's flare list for the three real lightcurve files in
    ``/work/shared/data`` (TESS 2-min, Kepler Q5 long cadence, K2 C4 long
    cadence), for three labelled settings of ``FlareLightCurve.find_flares``.
``tests/data/wotan_biweight_reference.npz``
    A small synthetic lightcurve (fixed seed) and wotan's biweight trends for
    windows of 0.1, 0.3 and 0.5 d.
``benchmarks/reference/wotan_real.npz``
    wotan's biweight trends (0.25, 0.5, 1.0 d) of the PDCSAP flux of the three
    real files.

``benchmarks/reference/README.md`` (written by hand) describes every setting.

Notes
-----
Create the side environment once (outside the repository)::

    python3.11 -m venv /work/sidenv
    /work/sidenv/bin/pip install "numpy==2.3.5" "altaipony==2.1.2" "wotan==2.1" \\
        "numba==0.68.1" "lightkurve==2.6.0"

AltaiPony 2.1.2 needs numpy < 2.4; its reading, ``detrend("savgol")`` and
``find_flares`` paths work with numpy 2.3 (K2SC does not, see the README).

The AltaiPony workflow is the one its tutorials document for local files:
``from_path(path, mode="LC", mission=...)`` (lightkurve's reader, PDCSAP flux,
``quality_bitmask="default"``, rows with non-finite time/flux removed), then
``detrend("savgol")`` with AltaiPony's defaults, then ``find_flares()``.

Examples
--------
From the repository root::

    /work/sidenv/bin/python benchmarks/reference/make_references.py

Optional: ``--data-dir DIR`` (default ``/work/shared/data``) and ``--quick``
(skip the wotan runs on the real files). The run takes about three minutes
(most of it in AltaiPony, mostly the TESS file).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata as metadata
import inspect
import io
import logging
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OUT_FLARES = HERE / "altaipony_flares.csv"
OUT_WOTAN_REAL = HERE / "wotan_real.npz"
OUT_WOTAN_SYNTH = REPO / "tests" / "data" / "wotan_biweight_reference.npz"

FILES = [
    # (basename, AltaiPony mission name, short key, time system)
    ("tess2018206045859-s0001-0000000358108509-0120-s_lc.fits", "TESS", "tess", "BTJD"),
    ("kplr010002792-2010174085026_llc.fits", "Kepler", "kepler", "BKJD"),
    ("ktwo211117077-c04_llc.fits", "K2", "k2", "BKJD"),
]

# find_flares settings. "default" is AltaiPony's documented default
# (N1=3, N2=2, N3=3, minsep=3, sigma=detrended_flux_err, addtail=False).
SETTINGS = [
    ("default", {}),
    ("addtail", {"addtail": True}),  # tailthreshdiff=1.0 (AltaiPony default)
    ("N3=2", {"N3": 2}),
]

SYNTH_WINDOWS = (0.1, 0.3, 0.5)
REAL_WINDOWS = (0.25, 0.5, 1.0)
SYNTH_SEED = 20261123


def _plain(x):
    """A float from a value that may be an astropy ``Masked`` scalar or array element."""
    x = getattr(x, "unmasked", x)
    x = getattr(x, "value", x)
    return float(x)


def _arr(col):
    """A plain float64 ndarray from a (possibly masked, possibly Quantity) column."""
    if getattr(col, "mask", None) is not None and np.any(col.mask):
        raise ValueError("unexpected masked entries in a column")
    col = getattr(col, "unmasked", col)
    col = getattr(col, "value", col)
    return np.asarray(col, dtype=np.float64)


def versions():
    """Versions of the packages that produce the references."""
    names = ["numpy", "scipy", "pandas", "astropy", "altaipony", "wotan", "lightkurve", "numba", "k2sc"]
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


# ---------------------------------------------------------------------------
# AltaiPony
# ---------------------------------------------------------------------------


def _patched_cont_obs_period():
    """AltaiPony's ``find_flares_in_cont_obs_period`` with the tail loop bounded.

    In AltaiPony 2.1.2, ``addtail=True`` walks ``while T0[s] > 0 & ...: s += 1``
    without a bound and raises ``IndexError`` when a flare runs to the last
    cadence of a continuous segment (the TESS flare at BTJD 1353.16 does).
    This copy only adds ``s < len(flux) - 1`` to that loop condition; it is used
    only when the unpatched call raised ``IndexError``.
    """
    import altaipony.altai as altai

    src = inspect.getsource(altai.find_flares_in_cont_obs_period)
    old = "while ((T0[s] > 0) & (T1[s] > N1tail) & (T2[s] > N2tail)):"
    new = "while (s < len(flux) - 1) and ((T0[s] > 0) & (T1[s] > N1tail) & (T2[s] > N2tail)):"
    if src.count(old) != 1:
        raise RuntimeError("AltaiPony's tail loop changed; the patch does not apply")
    namespace = dict(vars(altai))
    exec(compile(src.replace(old, new), "<patched find_flares_in_cont_obs_period>", "exec"), namespace)
    return namespace["find_flares_in_cont_obs_period"]


def _find_flares(dlc, kwargs):
    """``dlc.find_flares(**kwargs)``; on AltaiPony's tail IndexError, retry with the bounded loop."""
    import altaipony.altai as altai

    try:
        return dlc.find_flares(**kwargs), ""
    except IndexError as err:
        original = altai.find_flares_in_cont_obs_period
        altai.find_flares_in_cont_obs_period = _patched_cont_obs_period()
        try:
            out = dlc.find_flares(**kwargs)
        finally:
            altai.find_flares_in_cont_obs_period = original
        note = (
            f"AltaiPony raised IndexError ({err}) in the addtail loop at the end of a segment; "
            "rerun with that loop bounded to the segment (s < len(flux)-1), nothing else changed"
        )
        return out, note


def altaipony_flares(data_dir: Path):
    """AltaiPony flare lists for the three files and all settings; returns (rows, summary)."""
    from altaipony.lcio import from_path
    from astropy.io import fits

    rows = []
    summary = []
    for basename, mission, _key, tsys in FILES:
        path = data_dir / basename
        with fits.open(path) as hdul:
            n_rows_in_file = len(hdul[1].data)
            target = hdul[0].header.get("OBJECT", "")
        flc = from_path(str(path), mode="LC", mission=mission)
        n_valid = len(flc)  # default quality mask, finite time and flux
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            dlc = flc.detrend("savgol", printwl=True)
        windows = [int(float(line.split(":")[1])) for line in buf.getvalue().splitlines() if "window length" in line]
        detrend_method = "savgol (AltaiPony detrend_savgol defaults: pad=3, cubic, mode=nearest, 3-sigma clip)"
        t = dlc.time.value
        flux = _arr(dlc["detrended_flux"])
        err = _arr(dlc["detrended_flux_err"])
        cad = np.asarray(dlc.cadenceno.value, dtype=np.int64)
        for setting, kwargs in SETTINGS:
            out, note = _find_flares(dlc, kwargs)
            fl = out.flares
            gaps = [(int(a), int(b)) for a, b in out.gaps]
            it_med = _arr(out["it_med"])
            n_searched = sum(b - a for a, b in gaps)
            summary.append(
                dict(
                    file=basename,
                    mission=mission,
                    setting=setting,
                    n_rows_in_file=n_rows_in_file,
                    n_valid_cadences=n_valid,
                    n_after_detrend=len(dlc),
                    n_searched=n_searched,
                    segments=gaps,
                    savgol_window_cadences=windows,
                    n_flares=len(fl),
                    note=note,
                )
            )
            for k, (_, f) in enumerate(fl.iterrows()):
                i0, i1 = int(f["istart"]), int(f["istop"])
                seg = next(j for j, (a, b) in enumerate(gaps) if a <= i0 < b)
                ipk = i0 + int(np.argmax(flux[i0 : i1 + 1]))
                med = float(np.nanmedian(it_med[i0 : i1 + 1]))
                dt = np.diff(t[i0 : i1 + 1]) * 86400.0
                ed_err_prop = float(np.sqrt(np.sum((dt * err[i0:i1] / med) ** 2)))
                rows.append(
                    dict(
                        setting=setting,
                        file=basename,
                        mission=mission,
                        target=target,
                        time_system=tsys,
                        detrend_method=detrend_method,
                        savgol_window_cadences=(
                            windows[seg] if len(windows) == len(gaps) else ";".join(map(str, windows))
                        ),
                        n_rows_in_file=n_rows_in_file,
                        n_valid_cadences=n_valid,
                        total_n_valid_data_points=int(f["total_n_valid_data_points"]),
                        n_flares_in_file=len(fl),
                        flare=k,
                        istart=i0,
                        istop=i1,
                        n_cadences=i1 - i0 + 1,
                        cstart=int(cad[i0]),
                        cstop=int(cad[i1]),
                        tstart=float(t[i0]),
                        tstop=float(t[i1]),
                        ipeak=ipk,
                        t_peak=float(t[ipk]),
                        peak_detrended_flux=float(flux[ipk]),
                        it_med=med,
                        ampl_rec=_plain(f["ampl_rec"]),
                        ed_rec=_plain(f["ed_rec"]),
                        ed_rec_err=_plain(f["ed_rec_err"]),
                        ed_err_propagated=ed_err_prop,
                        dur=_plain(f["dur"]),
                        segment=seg,
                        segment_istart=gaps[seg][0],
                        segment_istop=gaps[seg][1] - 1,
                        segment_tstart=float(t[gaps[seg][0]]),
                        segment_tstop=float(t[gaps[seg][1] - 1]),
                        note=note,
                    )
                )
    return rows, summary


# ---------------------------------------------------------------------------
# wotan
# ---------------------------------------------------------------------------


def synthetic_lightcurve():
    """Evenly sampled 2-min lightcurve over 3 d with one 0.6-d gap, a slow sinusoid,
    Gaussian noise and two short flare-like spikes (fixed seed)."""
    rng = np.random.default_rng(SYNTH_SEED)
    cadence = 2.0 / 1440.0
    t0 = 2000.0
    time_all = t0 + np.arange(int(round(3.0 / cadence))) * cadence
    keep = ~((time_all >= t0 + 1.3) & (time_all < t0 + 1.9))  # 0.6 d gap > every window
    t = time_all[keep]
    flux = 1.0 + 0.005 * np.sin(2 * np.pi * (t - t0) / 1.7 + 0.4) + rng.normal(0.0, 5e-4, t.size)
    for t_spike, amp, tau in ((t0 + 0.6208, 0.02, 6.0 / 1440.0), (t0 + 2.4104, 0.008, 4.0 / 1440.0)):
        after = t >= t_spike
        flux[after] += amp * np.exp(-(t[after] - t_spike) / tau)
    return t, flux, cadence


def _brute_force_check(t, flux, window):
    """Check wotan's window definition and biweight against a direct implementation.

    Returns a dict with the largest differences for half-open ``[t-W/2, t+W/2)``
    and closed ``[t-W/2, t+W/2]`` windows (median method, must be exact for the
    right definition) and for the biweight (5 x raw MAD, tolerance 1e-6 x MAD).
    """
    from wotan import flatten

    hw = window / 2
    segs = np.split(np.arange(t.size), np.flatnonzero(np.diff(t) > hw) + 1)
    med_half = np.empty(t.size)
    med_closed = np.empty(t.size)
    biw = np.empty(t.size)
    for seg in segs:
        ts, fs = t[seg], flux[seg]
        for j, i in enumerate(seg):
            w_half = fs[(ts >= ts[j] - hw) & (ts < ts[j] + hw)]
            w_closed = fs[(ts >= ts[j] - hw) & (ts <= ts[j] + hw)]
            med_half[i] = np.median(w_half)
            med_closed[i] = np.median(w_closed)
            m = np.median(w_half)
            mad = np.median(np.abs(w_half - m))
            c = m
            for _ in range(1000):
                u = (w_half - c) / (5.0 * mad)
                w = np.where(np.abs(u) < 1, (1 - u**2) ** 2, 0.0)
                c_new = c + np.sum((w_half - c) * w) / np.sum(w)
                done = abs(c_new - c) <= 1e-6 * mad
                c = c_new
                if done:
                    break
            biw[i] = c
    wmed = flatten(t, flux, method="median", window_length=window, return_trend=True)[1]
    wbiw = flatten(t, flux, method="biweight", window_length=window, return_trend=True)[1]
    return {
        "window": window,
        "median_vs_half_open_max_abs": float(np.max(np.abs(wmed - med_half))),
        "median_vs_closed_max_abs": float(np.max(np.abs(wmed - med_closed))),
        "n_points_half_open_differs_from_closed": int(np.sum(med_half != med_closed)),
        "biweight_vs_direct_max_abs": float(np.max(np.abs(wbiw - biw))),
    }


def wotan_synthetic(vers):
    from wotan import flatten

    t, flux, cadence = synthetic_lightcurve()
    trends = []
    for w in SYNTH_WINDOWS:
        trend = flatten(t, flux, method="biweight", window_length=w, return_trend=True)[1]
        trends.append(trend)
    trends = np.vstack(trends)
    OUT_WOTAN_SYNTH.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        OUT_WOTAN_SYNTH,
        time=t,
        flux=flux,
        windows=np.asarray(SYNTH_WINDOWS, dtype=np.float64),
        trends=trends,  # trends[k] belongs to windows[k]
        cval=np.float64(5.0),
        edge_cutoff=np.float64(0.0),
        break_tolerance=np.asarray(SYNTH_WINDOWS, dtype=np.float64) / 2,
        seed=np.int64(SYNTH_SEED),
        cadence_days=np.float64(cadence),
        wotan_version=np.str_(vers["wotan"]),
        numpy_version=np.str_(vers["numpy"]),
    )
    checks = [_brute_force_check(t, flux, w) for w in SYNTH_WINDOWS]
    return t, flux, trends, checks


def wotan_real(data_dir: Path, vers):
    import lightkurve as lk
    from wotan import flatten

    # warm-up (numba compilation or cache load) outside the timings
    t, f, _ = synthetic_lightcurve()
    flatten(t, f, method="biweight", window_length=0.3, return_trend=True)

    arrays = {
        "windows": np.asarray(REAL_WINDOWS, dtype=np.float64),
        "wotan_version": np.str_(vers["wotan"]),
        "lightkurve_version": np.str_(vers["lightkurve"]),
        "numpy_version": np.str_(vers["numpy"]),
    }
    timings = []
    for basename, _mission, key, tsys in FILES:
        lc = lk.read(str(data_dir / basename)).remove_nans()  # PDCSAP, quality_bitmask="default"
        t = _arr(lc.time.value)
        flux = _arr(lc.flux)
        arrays[f"{key}_file"] = np.str_(basename)
        arrays[f"{key}_time_system"] = np.str_(tsys)
        arrays[f"{key}_time"] = t
        arrays[f"{key}_flux"] = flux
        arrays[f"{key}_cadenceno"] = np.asarray(lc.cadenceno.value, dtype=np.int64)
        for w in REAL_WINDOWS:
            seconds = []
            for _ in range(5):  # timings on a shared 2-core machine are noisy: median and minimum of 5
                t0 = time.perf_counter()
                trend = flatten(t, flux, method="biweight", window_length=w, return_trend=True)[1]
                seconds.append(time.perf_counter() - t0)
            arrays[f"{key}_trend_w{w:g}".replace(".", "p")] = np.asarray(trend, dtype=np.float64)
            timings.append(
                dict(
                    file=basename,
                    n=t.size,
                    window=w,
                    median=float(np.median(seconds)),
                    best=min(seconds),
                    n_nan_trend=int(np.isnan(trend).sum()),
                )
            )
    np.savez_compressed(OUT_WOTAN_REAL, **arrays)
    return timings


# ---------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--quick", action="store_true", help="skip the wotan runs on the real files")
    args = parser.parse_args(argv)

    warnings.simplefilter("ignore")
    logging.getLogger("altaipony").setLevel(logging.WARNING)
    logging.getLogger("lightkurve").setLevel(logging.ERROR)

    vers = versions()
    print("versions:", vers)
    try:
        import numba

        print("numba threads:", numba.config.NUMBA_NUM_THREADS)
    except ImportError:
        pass
    if sys.version_info[:2] != (3, 11):
        print("note: the references were made with Python 3.11")

    t_start = time.perf_counter()
    rows, summary = altaipony_flares(args.data_dir)
    df = pd.DataFrame(rows)
    df.to_csv(OUT_FLARES, index=False)  # full float precision
    print(f"\nAltaiPony: {len(df)} rows -> {OUT_FLARES} ({time.perf_counter() - t_start:.1f} s)")
    for s in summary:
        print(
            f"  {s['file'][:24]:24s} {s['setting']:8s} rows={s['n_rows_in_file']} valid={s['n_valid_cadences']} "
            f"searched={s['n_searched']} savgol_wl={s['savgol_window_cadences']} flares={s['n_flares']}"
            + (" (patched tail loop)" if s["note"] else "")
        )
    cols = ["setting", "mission", "tstart", "tstop", "t_peak", "n_cadences", "ampl_rec", "ed_rec", "ed_rec_err"]
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(df[cols].to_string(index=False))

    t, _flux, trends, checks = wotan_synthetic(vers)
    size = OUT_WOTAN_SYNTH.stat().st_size
    print(f"\nwotan synthetic: n={t.size}, windows={SYNTH_WINDOWS} -> {OUT_WOTAN_SYNTH} ({size} bytes)")
    print(f"  NaN in trends: {int(np.isnan(trends).sum())}")
    for c in checks:
        print("  check:", c)

    if not args.quick:
        timings = wotan_real(args.data_dir, vers)
        print(f"\nwotan real -> {OUT_WOTAN_REAL} ({OUT_WOTAN_REAL.stat().st_size} bytes)")
        for tm in timings:
            print(
                f"  {tm['file'][:24]:24s} n={tm['n']:6d} W={tm['window']:<5g} median {tm['median'] * 1e3:7.1f} ms, "
                f"min {tm['best'] * 1e3:7.1f} ms (of 5), NaN trend={tm['n_nan_trend']}"
            )


if __name__ == "__main__":
    main()
