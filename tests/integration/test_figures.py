"""Figures: a source's lightcurves (brighter up, flagged epochs apart, detections marked) and the efficiency map."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from virtualobserver.adapters.figures.efficiency import draw_efficiency, plot_efficiency  # noqa: E402
from virtualobserver.adapters.figures.lightcurves import draw_lightcurves, plot_lightcurves, spread_intervals  # noqa: E402
from virtualobserver.adapters.figures.style import paper_figure  # noqa: E402
from virtualobserver.domain.analysis.quality import CUTS  # noqa: E402
from virtualobserver.domain.detection import Detection  # noqa: E402
from virtualobserver.domain.errors import DataError  # noqa: E402
from virtualobserver.domain.histograms import Axis, Histograms  # noqa: E402
from virtualobserver.domain.injection import Injection  # noqa: E402
from virtualobserver.domain.lightcurve import Lightcurve  # noqa: E402
from virtualobserver.domain.source import Source  # noqa: E402
from virtualobserver.services.products import SourceProducts  # noqa: E402
from virtualobserver.services.triage import DetectionRow  # noqa: E402


def item(scale="utc"):
    n = 40
    mjd = 59000.0 + np.arange(n, dtype=float)
    mag = np.full(n, 18.0)
    mag[20] = 17.0  # a flare: brighter
    flag = np.zeros(n, int)
    flag[[5, 6, 7]] = 32768
    lc = Lightcurve("demo", "g", 0, {"mjd": mjd, "flux": 10 ** (-0.4 * (mag - 25)), "fluxerr": np.full(n, 50.0),
                                     "mag": mag, "magerr": np.full(n, 0.02), "flag": flag,
                                     "exptime": np.full(n, 30.0)}, source_name="S1", time_scale=scale)
    lc.id = 1
    flare = Detection("brightening", 59020.0, 59019.0, 59021.0, 12.0, 250000.0, -1.0, 3, 100000.0)
    dip = Detection("dimming", 59030.0, 59030.0, 59031.0, -6.0, 50000.0, 0.5, 2, 100000.0, is_simulated=True)
    for i, d in enumerate((flare, dip), start=1):
        d.id, d.lightcurve_id = i, 1
    rows = [DetectionRow(flare, "S1", "demo", "g", 0, "real"), DetectionRow(dip, "S1", "demo", "g", 0, None)]
    return SourceProducts(Source("S1", 10.0, 20.0), "demo", [lc], rows)


def test_magnitudes_brighter_up_flagged_apart_detections_marked():
    with paper_figure(7, 3) as figure:
        axes = draw_lightcurves(figure, item("tdb"))
        assert axes.yaxis_inverted()  # brighter (smaller magnitude) up
        flagged = [line for line in axes.get_lines() if line.get_label() == "flagged"]
        assert len(flagged) == 1 and len(flagged[0].get_xdata()) == 3 and flagged[0].get_marker() == "x"
        spans = [p for p in axes.patches if p.get_gid() == "detection"]
        assert len(spans) == 2
        texts = [t.get_text() for t in axes.texts]
        assert "brightening S/N 12.0 [real]" in texts and "dimming S/N -6.0 sim" in texts
        assert axes.get_xlabel() == "MJD (TDB) [d]" and axes.get_ylabel() == "Magnitude [mag]"
        assert axes.get_title() == "S1 (demo)"
    with paper_figure(7, 3) as figure:
        axes = draw_lightcurves(figure, item(), flux=True, flux_label="Flux [e-/s]")
        assert not axes.yaxis_inverted() and axes.get_ylabel() == "Flux [e-/s]"


def products_of(lc, *, trend=True):
    """Per-epoch products as the analysis saves them: bit 1 (flag) at the flagged epochs, bit 3 (limiting_mag)
    at epochs 7, 10 and 11 (7 fails both), and the baseline flux of an 18th-magnitude star."""
    quality = np.where(lc.flag != 0, 1 << CUTS.index("flag"), 0)
    quality[[7, 10, 11]] |= 1 << CUTS.index("limiting_mag")
    table = {"mjd": lc.mjds, "quality_flag": quality}
    if trend:
        table["trend"] = np.full(lc.mjds.size, 10 ** (-0.4 * (18.0 - 25)))
    return {lc.key: table}


def cut_artists(axes):
    """The cut epochs' artists, by the cut named in their gid, read back from the axes."""
    return {line.get_gid().removeprefix("cut:"): line for line in axes.get_lines()
            if (line.get_gid() or "").startswith("cut:")}


@pytest.mark.parametrize("flux", [False, True])
def test_cut_epochs_apart_by_cut_with_the_trend(flux):
    source = item()
    (lc,) = source.lightcurves
    lc.key = "demo/g/0"
    with paper_figure(7, 3) as figure:
        axes = draw_lightcurves(figure, source, flux=flux, scores=products_of(lc))
        cuts = cut_artists(axes)
        assert set(cuts) == {"flag", "limiting_mag"}  # only the cuts that removed an epoch shown
        assert cuts["flag"].get_label() == "cut: flag" and cuts["flag"].get_marker() == "x"
        assert sorted(cuts["flag"].get_xdata()) == [59005.0, 59006.0, 59007.0]
        assert cuts["limiting_mag"].get_label() == "cut: limiting_mag" and cuts["limiting_mag"].get_marker() == "v"
        assert sorted(cuts["limiting_mag"].get_xdata()) == [59007.0, 59010.0, 59011.0]
        assert cuts["limiting_mag"].get_markerfacecolor() == "none"  # open markers, apart from the data
        used = axes.containers[0].lines[0]  # the errorbar points: every epoch no cut removed
        assert len(used.get_xdata()) == 40 - 5 and not {5.0, 6.0, 7.0, 10.0, 11.0} & set(used.get_xdata() - 59000)
        assert not [line for line in axes.get_lines() if line.get_label() == "flagged"]
        (trend,) = [line for line in axes.get_lines() if line.get_gid() == "trend"]
        assert len(trend.get_xdata()) == 40
        expected = 10 ** (-0.4 * (18.0 - 25)) if flux else 18.0  # in magnitudes through the lightcurve's zero point
        np.testing.assert_allclose(trend.get_ydata(), expected, rtol=1e-9)
        legend = [t.get_text() for t in axes.get_legend().get_texts()]
        assert legend == ["g", "trend", "cut: flag", "cut: limiting_mag"]
        spans = [p for p in axes.patches if p.get_gid() == "detection"]
        assert len(spans) == 2 and spans[0].get_x() == 59019.0 and spans[0].get_width() == 2.0  # start to end


def test_without_a_trend_or_products_for_the_lightcurve():
    source = item()
    (lc,) = source.lightcurves
    lc.key = "demo/g/0"
    with paper_figure(7, 3) as figure:
        axes = draw_lightcurves(figure, source, scores=products_of(lc, trend=False))
        assert set(cut_artists(axes)) == {"flag", "limiting_mag"}
        assert not [line for line in axes.get_lines() if line.get_gid() == "trend"]
    with paper_figure(7, 3) as figure:  # products of another lightcurve (or none): the survey's flags
        axes = draw_lightcurves(figure, source, scores={"other/key": products_of(lc)[lc.key]})
        assert not cut_artists(axes)
        (flagged,) = [line for line in axes.get_lines() if line.get_label() == "flagged"]
        assert len(flagged.get_xdata()) == 3


def test_detections_carry_their_equivalent_duration_or_depth():
    source = item()
    flare, dip = (row.detection for row in source.detections)
    flare.equivalent_duration, flare.equivalent_duration_err, flare.amplitude = 812.4, 31.0, 1.5
    dip.amplitude = -0.42
    with paper_figure(7, 3) as figure:
        texts = [t.get_text() for t in draw_lightcurves(figure, source).texts]
    assert texts == ["brightening S/N 12.0 ED 812±31 s [real]", "dimming S/N -6.0 depth 42% sim"]


def crowded(n=14):
    """item() with n more flares 0.15 d apart around MJD 59010 (their labels, 5.5 pt tall, would overlap on a
    7-inch, 40-day axis: 0.15 d is about 1.6 pt there) and one alone at MJD 59035."""
    source = item()
    lc = source.lightcurves[0]
    for i, peak in enumerate([59010.0 + 0.15 * k for k in range(n)] + [59035.0], start=10):
        d = Detection("brightening", peak, peak - 0.05, peak + 0.05, 8.0 + i, 200000.0, -0.8, 2, 100000.0)
        d.id, d.lightcurve_id = i, lc.id
        source.detections.append(DetectionRow(d, "S1", "demo", "g", 0, None))
    return source


def label_boxes(figure, axes):
    """The detection labels' text boxes (their leaders left out) as the renderer draws them."""
    from matplotlib.text import Text

    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    labels = [t for t in axes.texts if t.get_gid() == "detection-label"]
    return labels, [Text.get_window_extent(t, renderer) for t in labels]


@pytest.mark.parametrize("dpi", [100, 300])
def test_close_detection_labels_never_overlap(dpi):
    source = crowded()
    with paper_figure(7, 3) as figure:
        figure.set_dpi(dpi)
        axes = draw_lightcurves(figure, source)
        labels, boxes = label_boxes(figure, axes)
        assert len(boxes) == len(source.detections) == 17
        # Without moving them they would overlap: the peaks are closer than a label is wide.
        peaks_px = axes.transData.transform([(59010.0, 0.0), (59010.15, 0.0)])[:, 0]
        assert peaks_px[1] - peaks_px[0] < 0.5 * boxes[0].width
        for i, a in enumerate(boxes):
            for j, b in enumerate(boxes[:i]):
                assert not a.overlaps(b), (labels[i].get_text(), labels[j].get_text(), a, b)
        # A label with room stays against its own peak line (right edge at the peak, to the pixel).
        alone = next(i for i, t in enumerate(labels) if t.xy[0] == 59035.0)
        assert abs(boxes[alone].x1 - axes.transData.transform((59035.0, 0.0))[0]) <= 1.0


def test_spread_intervals_moves_the_least():
    # Two 10-wide intervals wanted at right edges 100 and 105 (overlapping by 5): each moves 2.5 apart.
    assert np.allclose(spread_intervals([105.0, 100.0], [10.0, 10.0]), [107.5, 97.5])
    # Three at the same place with gap 1: the middle one stays, the others move one width and gap away.
    assert np.allclose(spread_intervals([50.0, 50.0, 50.0], [4.0, 4.0, 4.0], gap=1.0), [45.0, 50.0, 55.0])
    assert np.allclose(spread_intervals([0.0, 100.0], [10.0, 10.0]), [0.0, 100.0])  # apart already: unmoved


@pytest.mark.parametrize("flux", [False, True])
def test_injected_events_are_drawn_as_their_model(flux):
    # A Gaussian bump of amplitude 0.5 and sigma 1 d at MJD 59012 injected into the 18th-magnitude lightcurve
    # (flux 10**(-0.4 (18 - 25)) at every good epoch): at the peak the flux is 1.5 times the baseline,
    # 18 - 2.5 log10(1.5) = 17.5598 mag; one sigma away 1 + 0.5 exp(-1/2).
    source = item()
    lc = source.lightcurves[0]
    bump = Injection("gaussian_bump", 59012.0, 59008.0, 59016.0, 0.5, 10.0, 1.0)
    bump.lightcurve_id = lc.id
    elsewhere = Injection("gaussian_bump", 59030.0, 59026.0, 59034.0, 0.5, 10.0, 1.0)
    elsewhere.lightcurve_id = 99  # another lightcurve's: not drawn on this one's baseline
    with paper_figure(7, 3) as figure:
        axes = draw_lightcurves(figure, source, injections=[bump, elsewhere], flux=flux)
        (line,) = [line for line in axes.get_lines() if line.get_gid() == "injection"]
        t, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        assert t.min() < 59008.0 and t.max() > 59016.0  # over the whole span
        baseline = 10 ** (-0.4 * (18.0 - 25.0))
        expected = baseline * (1 + 0.5 * np.exp(-0.5 * (t - 59012.0) ** 2))
        if not flux:
            expected = 18.0 - 2.5 * np.log10(expected / baseline)
        assert np.allclose(y, expected, rtol=1e-9)
        assert np.isclose(np.interp(59012.0, t, y), baseline * 1.5 if flux else 17.5598, atol=1e-3 * (
            baseline if flux else 1.0))
        assert "injected" in axes.get_legend_handles_labels()[1]


def test_lightcurve_figures_are_written_as_png_and_reproducible_pdf(tmp_path):
    assert plot_lightcurves(item(), tmp_path / "lc.png").read_bytes().startswith(b"\x89PNG")
    first = plot_lightcurves(item(), tmp_path / "a.pdf").read_bytes()
    assert first.startswith(b"%PDF") and plot_lightcurves(item(), tmp_path / "b.pdf").read_bytes() == first
    with pytest.raises(DataError, match=r"lc\.jpg: figures are written as \.png, \.pdf, \.svg"):
        plot_lightcurves(item(), tmp_path / "lc.jpg")
    empty = SourceProducts(Source("S2", 1.0, 2.0), "demo")
    with pytest.raises(DataError, match="source 'S2' has no demo lightcurves"):
        plot_lightcurves(empty, tmp_path / "none.png")


def efficiency():
    h = Histograms({"kind": Axis.categorical(["flare", "box_dip", "microlensing"]),
                    "snr_amplitude": Axis.numeric(0.0, 30.0, 1.0),
                    "width": Axis.from_edges(10.0 ** np.arange(-3.0, 3.01, 0.25))},
                   variables=("injected", "recovered"))
    h.fill("injected", kind=["flare"] * 4 + ["box_dip"] * 2 + ["flare"], snr_amplitude=[5.5] * 4 + [10.5, 10.5, 99.0],
           width=[0.5] * 4 + [3.0, 3.0, 0.5])
    h.fill("recovered", kind=["flare"] * 3 + ["box_dip"], snr_amplitude=[5.5] * 3 + [10.5], width=[0.5] * 3 + [3.0])
    return h


def test_efficiency_map_one_panel_per_kind_with_counts(tmp_path):
    with paper_figure(7, 4) as figure:
        grid = draw_efficiency(figure, efficiency())
        visible = [panel for panel in grid.flat if panel.get_visible()]
        assert [panel.get_title() for panel in visible] == ["flare (3/4)", "box_dip (1/2)"]  # no injected microlensing
        assert [t.get_text() for t in visible[0].texts] == ["3/4"]
        assert [t.get_text() for t in visible[1].texts] == ["1/2"]
        assert visible[0].get_yscale() == "log" and visible[0].get_ylabel() == "Width [d]"
        assert visible[0].get_xlabel() == "Injected amplitude [noise σ]"
        assert "1 injections outside the plotted range" in figure.get_suptitle()
        assert any(ax.get_ylabel() == "recovered / injected" for ax in figure.axes)  # the colour bar
    assert plot_efficiency(efficiency(), tmp_path / "eff.pdf").read_bytes().startswith(b"%PDF")
    nothing = Histograms(efficiency().axes, variables=("injected", "recovered"))
    with pytest.raises(DataError, match="nothing was injected"):
        plot_efficiency(nothing, tmp_path / "none.png")
