"""In-memory fakes of the ports, for domain and service unit tests only; each subclasses its port."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import zlib

import numpy as np

from virtualobserver.domain.catalog import Catalog, CatalogSpec
from virtualobserver.domain.errors import SurveyError
from virtualobserver.domain.lightcurve import Lightcurve
from virtualobserver.domain.parameters import Param, Parameters
from virtualobserver.domain.rawdata import RawData
from virtualobserver.domain.reduction import reduce_photometry
from virtualobserver.domain.source import Source
from virtualobserver.domain.astrometry import angular_separation_deg
from virtualobserver.domain.rates import Candidate, Exposure, InjectionCounts
from virtualobserver.domain.summary import SourceSummary
from virtualobserver.services import ports
from virtualobserver.services.rate_ports import RateRepository


class FakeState:
    """The 'database' the fake repositories share; copied on commit, restored on rollback."""

    def __init__(self):
        self.sources: dict[tuple[str, str], Source] = {}
        self.raw: dict[tuple[str, str, str], RawData] = {}
        self.lightcurves: list[Lightcurve] = []
        self.detections: list = []
        self.steps: dict[tuple[int, str, str, str], int] = {}
        self.failures: dict[tuple[int, str, str], tuple[str, str]] = {}
        self.injections: dict[tuple[int, str, int], object] = {}  # by (source_id, version, sequence)
        self.summaries: dict[tuple[int, str, str], SourceSummary] = {}
        self.histogram_parts: list[tuple[str, str, str, str, str]] = []  # (project, survey, version, kind, key)
        self.labels: dict[int, str] = {}  # triage labels by detection id
        self.scores_files: dict[tuple[int, str, str], str | None] = {}  # per-epoch products file by summary key
        self.ids = itertools.count(1)

    def source_names(self, project):
        """Source names of ``project`` by id."""
        return {s.id: s.name for (p, _), s in self.sources.items() if p == project}


class FakeSourceRepository(ports.SourceRepository):
    def __init__(self, state: FakeState):
        self.state = state

    def add_many(self, project, sources):
        new = 0
        for s in sources:
            if (project, s.name) not in self.state.sources:
                stored = copy.copy(s)
                stored.project, stored.id = project, next(self.state.ids)
                self.state.sources[(project, s.name)] = stored
                new += 1
            s.project, s.id = project, self.state.sources[(project, s.name)].id
        return new

    def get_many(self, project, names):
        return {n: self.state.sources[(project, n)] for n in names if (project, n) in self.state.sources}

    def list(self, project, *, limit=None, offset=0):
        found = sorted((s for (p, _), s in self.state.sources.items() if p == project), key=lambda s: s.name)
        return found[offset: None if limit is None else offset + limit]

    def cone(self, project, ra, dec, radius_deg):
        mine = [s for (p, _), s in self.state.sources.items() if p == project]
        found = [(s, float(angular_separation_deg(ra, dec, s.ra, s.dec))) for s in mine]
        return sorted([(s, d) for s, d in found if d <= radius_deg], key=lambda pair: (pair[1], pair[0].name))

    def count(self, project):
        return sum(1 for p, _ in self.state.sources if p == project)


class FakeRawDataRepository(ports.RawDataRepository):
    def __init__(self, state: FakeState):
        self.state = state

    def get_many(self, survey, version, names):
        return {n: self.state.raw[(survey, n, version)] for n in names if (survey, n, version) in self.state.raw}

    def add_many(self, raws):
        for raw in raws:
            key = (raw.survey, raw.source_name, raw.version)
            if key not in self.state.raw:
                raw.id = next(self.state.ids)
                self.state.raw[key] = raw

    def count_for_project(self, project, survey, version):
        names = {n for p, n in self.state.sources if p == project}
        return sum(1 for (s, n, v) in self.state.raw if s == survey and v == version and n in names)

    def names_for_project(self, project, survey, version):
        names = {n for p, n in self.state.sources if p == project}
        return {n for (s, n, v) in self.state.raw if s == survey and v == version and n in names}


class FakeLightcurveRepository(ports.LightcurveRepository):
    def __init__(self, state: FakeState):
        self.state = state

    def add_many(self, lightcurves):
        for lc in lightcurves:
            lc.id = next(self.state.ids)
            self.state.lightcurves.append(lc)

    def for_sources(self, source_ids, survey, version):
        out = {}
        for lc in self.state.lightcurves:
            if lc.source_id in source_ids and lc.survey == survey and lc.version == version:
                out.setdefault(lc.source_id, []).append(lc)
        return out

    def count(self, project, version=None):
        ids = {s.id for (p, _), s in self.state.sources.items() if p == project}
        return sum(1 for lc in self.state.lightcurves if lc.source_id in ids and version in (None, lc.version))


class FakeDetectionRepository(ports.DetectionRepository):
    def __init__(self, state: FakeState):
        self.state = state

    @staticmethod
    def _identity(d):
        return d.lightcurve_id, d.version, d.peak_mjd, d.is_simulated, getattr(d, "injection_id", None)

    def add_many(self, detections):
        # Like the database: a detection with the identity of a stored one replaces it and keeps its id.
        for d in detections:
            for k, old in enumerate(self.state.detections):
                if self._identity(old) == self._identity(d):
                    d.id = old.id
                    self.state.detections[k] = d
                    break
            else:
                d.id = next(self.state.ids)
                self.state.detections.append(d)

    def list(self, project, version=None, *, include_simulated=False):
        ids = {s.id for (p, _), s in self.state.sources.items() if p == project}
        return [d for d in self.state.detections if d.source_id in ids and version in (None, d.version)
                and (include_simulated or not d.is_simulated)]

    def count(self, project, version=None, *, include_simulated=False):
        return len(self.list(project, version, include_simulated=include_simulated))

    def for_sources(self, source_ids, version, *, include_simulated=False):
        found = {}
        for d in sorted(self.state.detections, key=lambda d: d.peak_mjd):
            if d.source_id in source_ids and d.version == version and (include_simulated or not d.is_simulated):
                found.setdefault(d.source_id, []).append(d)
        return found


class FakeStepRepository(ports.StepRepository):
    def __init__(self, state: FakeState):
        self.state = state

    def done(self, stage, survey, version, source_ids):
        return {i for i in source_ids if (i, stage, survey, version) in self.state.steps}

    def mark_done(self, stage, survey, version, counts):
        for i, n in counts.items():
            self.state.steps.setdefault((i, stage, survey, version), n)

    def count_done(self, project, stage, survey, version):
        ids = {s.id for (p, _), s in self.state.sources.items() if p == project}
        return sum(1 for (i, st, su, v) in self.state.steps if i in ids and (st, su, v) == (stage, survey, version))

    def record_failures(self, stage, survey, version, messages):
        for i, message in messages.items():
            self.state.failures[(i, stage, survey)] = (version, message)

    def clear_failures(self, stage, survey, source_ids):
        for i in source_ids:
            self.state.failures.pop((i, stage, survey), None)

    def done_names(self, project, stage, survey, version):
        names = self.state.source_names(project)
        return {names[i] for (i, st, su, v) in self.state.steps if i in names and (st, su, v) == (stage, survey, version)}

    def failures(self, project):
        by_id = {s.id: s.name for (p, _), s in self.state.sources.items() if p == project}
        return [(by_id[i], stage, survey, version, msg)
                for (i, stage, survey), (version, msg) in self.state.failures.items() if i in by_id]


class FakeInjectionRepository(ports.InjectionRepository):
    """Stores a copy of each injection (detection detached) and its detection among the detections."""

    def __init__(self, state: FakeState):
        self.state = state

    def add_many(self, injections):
        for inj in injections:
            if inj.source_id is None or inj.version is None:
                raise ValueError(f"{inj!r} needs source_id and version before it is stored")
        for inj in injections:
            key = (inj.source_id, inj.version, inj.sequence)
            stored = self.state.injections.get(key)
            det = inj.detection
            if stored is not None:
                inj.id = stored.id
                if det is not None:
                    det.is_simulated, det.injection_id = True, stored.id
                    det.id = next((d.id for d in self.state.detections if d.injection_id == stored.id), None)
                continue
            inj.id = next(self.state.ids)
            stored = copy.copy(inj)
            stored.detection = None
            stored.params = copy.deepcopy(inj.params)
            self.state.injections[key] = stored
            if det is not None:
                det.is_simulated, det.injection_id = True, inj.id
                for name in ("source_id", "lightcurve_id", "version"):
                    if getattr(det, name, None) is None:
                        setattr(det, name, getattr(inj, name))
                det.id = next(self.state.ids)
                self.state.detections.append(det)

    def list(self, project, version):
        names = self.state.source_names(project)
        found = [i for i in self.state.injections.values() if i.source_id in names and i.version == version]
        found.sort(key=lambda i: (names[i.source_id], i.sequence))
        return [copy.copy(i) for i in found]

    def count(self, project, version, *, recovered=None):
        return sum(1 for i in self.list(project, version) if recovered is None or i.recovered == bool(recovered))


_SUMMARY_FIELDS = tuple(f.name for f in dataclasses.fields(SourceSummary))


class FakeSummaryRepository(ports.SummaryRepository):
    def __init__(self, state: FakeState):
        self.state = state

    def upsert_many(self, summaries, *, scores_file=None):
        for summary in summaries:
            key = (summary.source_id, summary.survey, summary.version)
            self.state.summaries[key] = copy.copy(summary)
            self.state.scores_files[key] = scores_file

    def scores_file(self, source_id, survey, version):
        return self.state.scores_files.get((source_id, survey, version))

    def list(self, project, survey, version, *, order_by="best_snr", limit=None):
        if order_by not in _SUMMARY_FIELDS:
            raise ValueError(f"cannot order summaries by {order_by!r}; choose one of {', '.join(_SUMMARY_FIELDS)}")
        names = self.state.source_names(project)
        found = [(names[s.source_id], copy.copy(s)) for (i, su, v), s in self.state.summaries.items()
                 if i in names and (su, v) == (survey, version)]
        found.sort(key=lambda pair: pair[0])  # ties by name
        # Descending with NULLs last: a stable sort of the present values, then the missing ones.
        size = abs if order_by == "best_snr" else (lambda value: value)  # the signed S/N ranks by |S/N|
        present = sorted((p for p in found if getattr(p[1], order_by) is not None),
                         key=lambda p: size(getattr(p[1], order_by)), reverse=True)
        ranked = present + [p for p in found if getattr(p[1], order_by) is None]
        return ranked if limit is None else ranked[:limit]


class FakeHistogramPartRepository(ports.HistogramPartRepository):
    def __init__(self, state: FakeState):
        self.state = state

    def add(self, project, survey, version, kind, key):
        if all(part[4] != key for part in self.state.histogram_parts):
            self.state.histogram_parts.append((project, survey, version, kind, key))

    def keys(self, project, survey, version, kind):
        return [p[4] for p in self.state.histogram_parts if p[:4] == (project, survey, version, kind)]

    def replace(self, project, survey, version, kind, old, new):
        product, old = (project, survey, version, kind), set(old)
        self.state.histogram_parts = [p for p in self.state.histogram_parts if not (p[:4] == product and p[4] in old)]
        self.add(project, survey, version, kind, new)


class FakeTriageRepository(ports.TriageRepository):
    """Labels by detection id, beside the detections (so re-adding a detection keeps its label)."""

    def __init__(self, state: FakeState):
        self.state = state

    def set_labels(self, labels):
        known = {d.id for d in self.state.detections}
        changed = 0
        for detection_id, label in labels.items():
            if detection_id not in known:
                continue
            changed += 1
            if label is None:
                self.state.labels.pop(detection_id, None)
            else:
                self.state.labels[detection_id] = label
        return changed

    def labels(self, detection_ids):
        return {i: self.state.labels[i] for i in detection_ids if i in self.state.labels}

    def rows(self, project, version, *, include_simulated=False):
        names = self.state.source_names(project)
        lightcurves = {lc.id: lc for lc in self.state.lightcurves}
        found = [d for d in self.state.detections if d.source_id in names and d.version == version
                 and (include_simulated or not d.is_simulated)]
        found.sort(key=lambda d: (names[d.source_id], d.peak_mjd, d.id))
        out = []
        for d in found:
            lc = lightcurves.get(d.lightcurve_id)
            out.append((d, names[d.source_id], lc.filter if lc else None, lc.season if lc else None,
                        self.state.labels.get(d.id)))
        return out


class FakeProjectRepository(ports.ProjectRepository):
    """Projects as the sources name them (the fake has no project table)."""

    def __init__(self, state: FakeState):
        self.state = state

    def list(self):
        records = []
        for name in sorted({p for p, _ in self.state.sources}):
            ids = set(self.state.source_names(name))
            steps: dict[tuple[str, str, str], int] = {}
            for (i, stage, survey, version) in self.state.steps:
                if i in ids:
                    steps[(survey, stage, version)] = steps.get((survey, stage, version), 0) + 1
            detections: dict[str, int] = {}
            for d in self.state.detections:
                if d.source_id in ids and not d.is_simulated:
                    detections[d.version] = detections.get(d.version, 0) + 1
            records.append(ports.ProjectRecord(
                name, None, len(ids), [(*k, n) for k, n in sorted(steps.items())], detections,
                sum(1 for (i, _, _) in self.state.failures if i in ids)))
        return records


class FakeRateRepository(RateRepository):
    """The counts of rates computed in Python over the fake state, as the SQL aggregates compute them."""

    def __init__(self, state: FakeState):
        self.state = state

    def injection_counts(self, project, version):
        names = self.state.source_names(project)
        counts: dict[str, list[int]] = {}
        for i in self.state.injections.values():
            if i.source_id in names and i.version == version:
                c = counts.setdefault(i.kind, [0, 0, 0, 0])
                c[0] += 1
                c[1] += bool(i.recovered)
                c[2] += getattr(i, "covered", 1) == 0
                c[3] += bool(getattr(i, "overlaps_real", False))
        return {kind: InjectionCounts(*c) for kind, c in counts.items()}

    def candidates(self, project, version, kind):
        names = self.state.source_names(project)
        lightcurves = {lc.id: lc for lc in self.state.lightcurves}
        found = []
        for d in sorted(self.state.detections, key=lambda d: (d.source_id, d.peak_mjd)):
            if d.source_id in names and d.version == version and not d.is_simulated and d.kind == kind:
                lc = lightcurves.get(d.lightcurve_id)
                n = getattr(lc, "num_epochs", None) or 0
                step = (lc.mjd_end - lc.mjd_start) / (n - 1) if n > 1 else 0.0
                start = d.peak_mjd if d.start_mjd is None else d.start_mjd
                end = d.peak_mjd if d.end_mjd is None else d.end_mjd
                found.append(Candidate(d.source_id, d.lightcurve_id, start, end, self.state.labels.get(d.id), step))
        return found

    def exposure(self, project, survey, reduction_version, *, stage, version, min_good_epochs):
        names = self.state.source_names(project)
        analysed = {i for (i, st, su, v) in self.state.steps if i in names and (st, su, v) == (stage, survey, version)}
        mine = [lc for lc in self.state.lightcurves if lc.source_id in analysed and lc.survey == survey
                and lc.version == reduction_version and lc.mjd_start is not None and lc.mjd_end is not None]
        searched = [lc for lc in mine if (lc.num_good or 0) >= min_good_epochs]
        spans: dict[int, tuple[float, float]] = {}
        for lc in mine:
            if (lc.num_good or 0) >= 2:
                first, last = spans.get(lc.source_id, (lc.mjd_start, lc.mjd_end))
                spans[lc.source_id] = (min(first, lc.mjd_start), max(last, lc.mjd_end))
        return Exposure(sources=len(analysed), observed_sources=sum(1 for a, b in spans.values() if b > a),
                        source_days=float(sum(b - a for a, b in spans.values())), lightcurves=len(searched),
                        good_epochs=sum(lc.num_good for lc in searched),
                        lightcurve_days=float(sum(lc.mjd_end - lc.mjd_start for lc in searched)))


class FakeUnitOfWork(ports.AbstractUnitOfWork):
    """Shares a committed FakeState; works on a copy until commit."""

    def __init__(self, committed: FakeState):
        self.committed_state = committed
        self.commits = 0

    def __enter__(self):
        self._begin()
        return self

    def _begin(self):
        self.state = copy.deepcopy(self.committed_state)
        self.sources = FakeSourceRepository(self.state)
        self.raw_data = FakeRawDataRepository(self.state)
        self.lightcurves = FakeLightcurveRepository(self.state)
        self.detections = FakeDetectionRepository(self.state)
        self.steps = FakeStepRepository(self.state)
        self.injections = FakeInjectionRepository(self.state)
        self.summaries = FakeSummaryRepository(self.state)
        self.histogram_parts = FakeHistogramPartRepository(self.state)
        self.triage = FakeTriageRepository(self.state)
        self.projects = FakeProjectRepository(self.state)
        self.rates = FakeRateRepository(self.state)

    def commit(self):
        self.committed_state.__dict__.update(copy.deepcopy(self.state).__dict__)
        self.commits += 1

    def rollback(self):
        self._begin()


class FakeDataStore(ports.DataStore):
    """Arrays in a dict; counts writes and reads so tests can see skipped work and what was read back."""

    def __init__(self):
        self.files: dict[str, dict] = {}
        self.writes = 0
        self.reads = 0

    def save_raw(self, raw):
        raw.file, raw.key = f"raw/{raw.survey}/{raw.version}/{raw.source_name}", "raw"
        self.files[raw.file] = {k: np.array(v) for k, v in raw.columns.items()}
        self.writes += 1

    def load_raw(self, raw):
        raw.columns = self.files[raw.file]
        self.reads += 1
        return raw

    def save_lightcurves(self, project, source_name, version, lightcurves):
        for lc in lightcurves:
            lc.file, lc.key = f"{project}/{version}/{source_name}", f"{lc.filter}_{lc.season}"
            self.files[f"{lc.file}#{lc.key}"] = {k: np.array(v) for k, v in lc.columns.items()}
        self.writes += 1

    def load_lightcurve(self, lightcurve):
        lightcurve.columns = self.files[f"{lightcurve.file}#{lightcurve.key}"]
        self.reads += 1
        return lightcurve

    def save_epoch_scores(self, project, source_name, version, tables):
        self.files[f"scores/{project}/{version}/{source_name}"] = {
            k: {c: np.array(v) for c, v in t.items()} for k, t in tables.items()}
        self.writes += 1

    def load_epoch_scores(self, project, source_name, version):
        return self.files.get(f"scores/{project}/{version}/{source_name}", {})

    def save_stamps_many(self, project, version, items):
        if not items:
            return None, []
        file = f"stamps/{project}/{version}/{len(self.files)}"
        self.files[file] = {f"s{i}": stamps for i, (*_, stamps) in enumerate(items)}
        self.writes += 1
        return file, list(self.files[file])

    def load_stamps(self, file, key):
        self.reads += 1
        return self.files[file][key]


class FakeHistogramStore(ports.HistogramStore):
    """Histograms in a dict (deep copies, so later changes to either side don't leak); counts writes."""

    def __init__(self):
        self.files: dict[str, object] = {}
        self.writes = 0

    def save(self, key, histograms):
        self.files[key] = copy.deepcopy(histograms)
        self.writes += 1
        return f"{key}.nc"

    def load(self, key):
        if key not in self.files:
            raise KeyError(f"no histograms saved under {key!r}")
        return copy.deepcopy(self.files[key])

    def exists(self, key):
        return key in self.files

    def delete(self, key):
        self.files.pop(key, None)


class FakeCatalogReader(ports.CatalogReader):
    """Returns a fixed catalog whatever the spec."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def read(self, spec: CatalogSpec) -> Catalog:
        return self.catalog


class FakeSurveyParameters(Parameters):
    SPECS = {
        "num_points": Param(60, int, "Epochs per source."),
        "noise": Param(0.01, float, "Gaussian magnitude noise."),
    }


class FakeSurveyClient(ports.SurveyClient):
    """Flat lightcurves with Gaussian noise; names in ``failing`` raise SurveyError; counts downloads."""

    name = "fake"
    parameters_class = FakeSurveyParameters
    failing: set[str] = set()
    downloads: list[str] = []

    def download(self, source):
        if source.name in self.failing:
            raise SurveyError(f"no data for {source.name}")
        type(self).downloads.append(source.name)
        n = self.parameters.num_points
        # crc32, not hash(): str hashes change with every process (PYTHONHASHSEED), the data must not.
        rng = np.random.default_rng(zlib.crc32(source.name.encode()))
        mjd = 59000 + np.sort(rng.uniform(0, 100, n))
        columns = {
            "mjd": mjd, "mag": 18 + rng.normal(0, self.parameters.noise, n),
            "magerr": np.full(n, self.parameters.noise), "filter": np.array(["g"] * n),
            "flag": np.zeros(n, int), "exptime": np.full(n, 30.0),
        }
        return RawData(self.name, source.name, "", columns, ra=source.ra, dec=source.dec)

    def reduce(self, raw, parameters):
        return reduce_photometry(raw.columns, parameters, survey=self.name, source_name=raw.source_name)

    def parse_file(self, path):
        """Read an ``.npz`` answer: its epoch columns plus scalar ``ra`` and ``dec``."""
        try:
            with np.load(path) as answer:
                columns = {k: answer[k] for k in answer.files if k not in ("ra", "dec")}
                ra, dec = float(answer["ra"]), float(answer["dec"])
        except (OSError, ValueError, KeyError) as exc:
            raise SurveyError(f"{path}: not a fake survey answer ({exc})") from None
        return RawData(self.name, "", "", columns, ra=ra, dec=dec, meta={"file": str(path)})


class RecordingProgress(ports.ProgressSink):
    """A progress sink that records every event: ``("start", stage, total)``, ``("advance", stage, done,
    skipped, failed)``, ``("finish", stage)``, ``("message", text)``."""

    def __init__(self):
        self.events: list[tuple] = []

    def start(self, stage: str, total: int) -> None:  # noqa: D102
        self.events.append(("start", stage, total))

    def advance(self, stage: str, done: int = 1, *, skipped: int = 0, failed: int = 0) -> None:  # noqa: D102
        self.events.append(("advance", stage, done, skipped, failed))

    def message(self, text: str) -> None:  # noqa: D102
        self.events.append(("message", text))

    def finish(self, stage: str) -> None:  # noqa: D102
        self.events.append(("finish", stage))
