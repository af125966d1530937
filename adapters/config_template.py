"""The commented project configuration ``vo init`` writes, in the style of ``configs/*.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ProjectDraft", "render_config", "SURVEY_BLOCKS"]


@dataclass(frozen=True)
class ProjectDraft:
    """What ``vo init`` learnt and chose, to be written as a configuration.

    Attributes
    ----------
    name : str
        Project name.
    catalog_path : str
        The catalog, relative to the configuration's folder.
    columns : dict
        Standard role -> (file column, why it was chosen), for the roles whose column is not the standard name.
    standard : list of str
        Roles found under their standard name (no mapping needed).
    epoch : float
        Julian year of the positions.
    epoch_reason : str
        Why that epoch.
    surveys : list of str
        Surveys to search.
    offline : bool
        Whether the real surveys only use answers already cached or ingested.
    source : str
        The catalog file as given, and what it holds (for the header).
    selected : int
        Rows of the catalog.
    """

    name: str
    catalog_path: str
    columns: dict
    standard: list
    epoch: float
    epoch_reason: str
    surveys: list
    offline: bool = False
    source: str = ""
    selected: int = 0
    notes: list = field(default_factory=list)


_FLARES_SIMULATION = """\
    simulation:                        # injection-recovery for flare rates: vo simulate, vo rate --kind flare
      enabled: false                   # true to measure the efficiency with every run
      injections_per_source: 100
      kinds: [flare]                   # the Davenport et al. (2014) template
      width_min: {width_min}{pad}# t_half of the flares (days), drawn log-uniformly between these
      width_max: {width_max}
      amplitude_min: 3.0               # peak S/N of the injected flare, in the finder's single-epoch noise
      amplitude_max: 50.0
"""

_MISSION_QUALITY = """\
    reduction:
      min_epochs: 100
    quality:
      max_offset_sigma: 0.0            # pipeline lightcurves have no per-cadence sky position
      use_limiting_mag: false
"""

#: Per survey, its block under ``observatories:`` (``{offline}`` is filled in), as in configs/<survey>.yaml.
SURVEY_BLOCKS = {
    "demo": """\
  demo:                                # the synthetic survey: no network, the same data on every machine
    download:
      num_points: 200
      filters: [g, r]
      duration_days: 1000.0
      latency: 0.0
    quality:
      bad_flag_mask: 32768             # like ZTF catflags: bad image
      max_chi: 4.0
    analysis:
      widths_days: [2.0, 8.0]          # matched filter for events longer than one epoch
""",
    "ztf": """\
  ztf:                                 # IRSA light-curve API (public data release)
    download:
      collection: ztf_dr23             # 'ztf' = proprietary; credentials from VO_IRSA_USER/VO_IRSA_PASSWORD or VO_CREDENTIALS
      radius_arcsec: 2.0
      bad_catflags_mask: 32768         # bad image or calibration; flagged epochs are kept and marked
      objects: best                    # per filter, the matching ZTF object with most epochs
      rate_limit_per_s: 5.0            # be kind to IRSA
      offline: {offline}
    quality:
      max_offset_sigma: 5.0
      max_chi: 4.0                     # PSF-fit chi of ZTF epochs
    analysis:
      widths_days: [2.0, 8.0]          # events of days to weeks
""",
    "tess": """\
  tess:                                # SPOC 2-minute lightcurves from MAST
    download:
      cadences: ["120"]                # add "20" for 20-second data where it exists
      flux_column: pdcsap              # or sap
      quality_bitmask: default         # lightkurve's presets: default, hard, hardest, none
      sectors: []                      # empty: every sector
      offline: {offline}
""" + _MISSION_QUALITY + """\
    analysis:
      widths_days: [0.01, 0.05]        # flares last minutes to an hour: 7 to 36 two-minute cadences
      # detrend: biweight (window 0.3 d) is the TESS default: rotation and drifts are removed first
""" + _FLARES_SIMULATION.format(width_min="0.003", width_max="0.3", pad=" " * 17),
    "kepler": """\
  kepler:                              # Kepler pipeline lightcurves from MAST
    download:
      cadences: ["long"]               # add "short" for 1-minute data where it exists
      flux_column: pdcsap              # or sap
      quarters: []                     # empty: every quarter
      offline: {offline}
""" + _MISSION_QUALITY + """\
    analysis:
      min_consecutive: 3               # three cadences in a row at 3 sigma (AltaiPony's N3): not one outlier
      widths_days: [0.04, 0.08]        # long cadence is 29.4 min: flares of 2 to 4 cadences
      direction: brightening           # a flare search (both: dips too)
    histograms:
      exptime: [0.0, 30.0, 90.0, 1000.0, 2000.0]   # short and long cadence in bins of their own
""" + _FLARES_SIMULATION.format(width_min="0.02", width_max="1.0", pad=" " * 18),
    "k2": """\
  k2:                                  # K2 pipeline lightcurves from MAST
    download:
      cadences: ["long"]               # add "short" for 1-minute data where it exists
      flux_column: pdcsap              # or sap
      campaigns: []                    # empty: every campaign
      offline: {offline}
""" + _MISSION_QUALITY + """\
    analysis:
      min_consecutive: 3               # three cadences in a row at 3 sigma (AltaiPony's N3): not one outlier
      widths_days: [0.04, 0.08]        # long cadence is 29.4 min: flares of 2 to 4 cadences
      direction: brightening           # what PDC leaves of K2's 6-hour pointing sawtooth makes dips
    histograms:
      exptime: [0.0, 30.0, 90.0, 1000.0, 2000.0]   # short and long cadence in bins of their own
""" + _FLARES_SIMULATION.format(width_min="0.02", width_max="1.0", pad=" " * 18),
}


def _scalar(value) -> str:
    # Column names and paths as YAML scalars: quoted where plain YAML would misread them ("1", "yes", "a: b").
    import yaml  # here, not at the top: `vo --help` reads SURVEY_BLOCKS and should not load the YAML parser

    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def _commented(entry: str, comment: str) -> str:
    # Comments start in one column, as in configs/*.yaml.
    return f"{entry:<36} # {comment}"


def render_config(draft: ProjectDraft, config_path: str) -> str:
    """Return the YAML text of a project configuration, commented.

    Parameters
    ----------
    draft : ProjectDraft
        What to write.
    config_path : str
        Where it goes (named in the header's command).

    Returns
    -------
    str
        The configuration; every survey of ``draft.surveys`` gets its block from :data:`SURVEY_BLOCKS`.
    """
    lines = [f"# Written by `vo init {draft.source}`: {draft.selected} targets.",
             f"# Run it:  vo run {config_path}   (the README's \"Search your own targets\" walks through it)"]
    if draft.offline:
        lines.append("# offline: true below: only answers already cached or ingested (`vo ingest`) are used;"
                     " set false to download.")
    lines += ["project:",
              f"  name: {_scalar(draft.name)}",
              f"  surveys: [{', '.join(draft.surveys)}]",
              "  batch_size: 100                    # sources per batch (one transaction per step and batch)",
              "",
              "catalog:",
              _commented(f"  path: {_scalar(draft.catalog_path)}",
                         "the catalog file" if draft.catalog_path.startswith("/") else "relative to this file")]
    if draft.columns:
        lines.append(_commented("  columns:", "standard name: the file's column"))
        for role, (column, reason) in draft.columns.items():
            lines.append(_commented(f"    {role}: {_scalar(column)}", reason))
    if draft.standard:
        lines.append(f"  # read under their own names: {', '.join(draft.standard)}")
    lines += [_commented(f"  epoch: {draft.epoch}", f"Julian year of the positions: {draft.epoch_reason}"),
              _commented('  selection: ""', 'e.g. "mag < 18 and dec > -30"; empty: every row')]
    for note in draft.notes:
        lines.append(f"  # {note}")
    lines += ["",
              "observatories:",
              "  # General blocks apply to every survey; each survey's block below overrides them.",
              "  analysis:",
              "    threshold: 5.0                   # |S/N| that seeds a detection",
              "    extent_threshold: 2.0            # |S/N| of the epochs around it that belong to the event"]
    for survey in draft.surveys:
        lines.append(SURVEY_BLOCKS[survey].format(offline="true" if draft.offline else "false").rstrip("\n"))
    return "\n".join(lines) + "\n"
