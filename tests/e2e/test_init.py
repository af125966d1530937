"""``vo init`` on three catalog layouts (a Gaia ECSV, a VizieR-style CSV, a FITS table), each config then run offline."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from astropy.table import Table

from virtualobserver.adapters.cli.main import main
from tests.e2e.helpers import vo, vo_json
from tests.e2e.test_real_surveys import ztf_answer
from tests.integration.test_ztf_client import LC_PATH

#: Five targets spread over the sky north of -30 deg (the demo survey observes anything).
POSITIONS = [(10.5, 20.25), (45.125, -12.5), (150.0, 2.2), (210.75, 33.3), (300.0, 60.0)]


def gaia_ecsv(path, ucd: bool = True):
    """An ECSV with the columns, units and UCDs of a Gaia DR3 archive answer (as the shared Gaia file)."""
    n = len(POSITIONS)
    table = Table()
    ids = [4583627001381815936 + i for i in range(n)]
    columns = [  # name, values, unit, ucd: Gaia's own
        ("solution_id", [1636148068921376768] * n, None, "meta.version"),
        ("designation", [f"Gaia DR3 {i}" for i in ids], None, "meta.id;meta.main"),
        ("source_id", ids, None, "meta.id"),
        ("ref_epoch", [2016.0] * n, "yr", "meta.ref;time.epoch"),
        ("ra", [p[0] for p in POSITIONS], "deg", "pos.eq.ra;meta.main"),
        ("ra_error", [0.05] * n, "mas", "stat.error;pos.eq.ra"),
        ("dec", [p[1] for p in POSITIONS], "deg", "pos.eq.dec;meta.main"),
        ("dec_error", [0.04] * n, "mas", "stat.error;pos.eq.dec"),
        ("parallax", [1.5] * n, "mas", "pos.parallax.trig"),
        ("pmra", [3.0] * n, "mas / yr", "pos.pm;pos.eq.ra"),
        ("pmdec", [-2.0] * n, "mas / yr", "pos.pm;pos.eq.dec"),
        ("phot_g_mean_mag", [15.0, 15.5, 16.0, 16.5, 17.0], "mag", "phot.mag;em.opt"),
        ("phot_bp_mean_mag", [15.4, 15.9, 16.4, 16.9, 17.4], "mag", "phot.mag;em.opt.B"),
    ]
    for name, values, unit, column_ucd in columns:
        table[name] = values
        table[name].unit = unit
        if ucd:
            table[name].meta["ucd"] = column_ucd
    table.write(path, format="ascii.ecsv", overwrite=True)
    return path


def vizier_csv(path, header="ID,RAJ2000,DEJ2000,Gmag", rows=None):
    rows = rows or [(f"Star-{i}", ra, dec, 16.0) for i, (ra, dec) in enumerate(POSITIONS)]
    path.write_text(header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))
    return path


def fits_table(path):
    table = Table({"source_id": np.arange(1001, 1001 + len(POSITIONS), dtype=np.int64),
                   "RA_ICRS": [p[0] for p in POSITIONS], "DE_ICRS": [p[1] for p in POSITIONS],
                   "Vmag": [14.0, 14.5, 15.0, 15.5, 16.0]})
    table["RA_ICRS"].unit = table["DE_ICRS"].unit = "deg"
    table["Vmag"].unit = "mag"
    table.write(path, format="fits")
    return path


def init(*args, capsys) -> tuple[int, str, str]:
    code = main(["init", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def catalog_block(config) -> dict:
    return yaml.safe_load(config.read_text())["catalog"]


def test_a_gaia_ecsv_is_recognised_by_its_ucds_and_its_config_runs(tmp_path, monkeypatch, capsys,
                                                                   empty_database_url):
    monkeypatch.chdir(tmp_path)
    catalog = gaia_ecsv(tmp_path / "gaia.ecsv")
    code, out, err = init(catalog, "--survey", "demo", capsys=capsys)
    assert code == 0, err
    config = tmp_path / "configs" / "gaia.yaml"
    # designation is Gaia's meta.id;meta.main, source_id only meta.id; ra, dec, pmra, pmdec, parallax are standard
    # names; G (not BP) is the magnitude; the epoch is the ref_epoch column's.
    assert catalog_block(config) == {"path": "../gaia.ecsv", "columns": {"name": "designation",
                                     "mag": "phot_g_mean_mag"}, "epoch": 2016.0, "selection": ""}
    assert "wrote configs/gaia.yaml (surveys: demo); next: vo run configs/gaia.yaml" in out
    run = vo_json("run", str(config), data_dir=tmp_path / "data", database_url=empty_database_url)
    assert run["status"]["analysed"] == len(POSITIONS) and run["status"]["failed"] == 0
    sources = tmp_path / "sources.ecsv"
    done = vo("export", str(config), "--what", "sources", "--out", str(sources), data_dir=tmp_path / "data",
              database_url=empty_database_url)
    assert done.returncode == 0, done.stderr
    exported = Table.read(sources, format="ascii.ecsv")
    exported.sort("ra")
    assert list(exported["source"]) == [f"Gaia DR3 {4583627001381815936 + i}" for i in range(len(POSITIONS))]
    np.testing.assert_allclose(exported["dec"], [p[1] for p in POSITIONS])
    np.testing.assert_allclose(exported["mag"], [15.0, 15.5, 16.0, 16.5, 17.0])
    np.testing.assert_allclose(exported["pmra"], 3.0)  # the proper motions came along under their own names
    np.testing.assert_allclose(exported["epoch"], 2016.0)


def test_a_vizier_csv_with_raj2000_dej2000_and_id_runs_against_the_ztf_archive(tmp_path, monkeypatch, capsys,
                                                                              fake_archive, empty_database_url):
    monkeypatch.chdir(tmp_path)
    catalog = vizier_csv(tmp_path / "targets.csv")
    # Before `vo init`: a configuration without catalog.columns names the key to set and the columns it means.
    bare = tmp_path / "bare.yaml"
    bare.write_text("project: {name: bare, surveys: [demo]}\ncatalog: {path: targets.csv}\n")
    done = vo("run", str(bare), data_dir=tmp_path / "data", database_url=empty_database_url)
    assert done.returncode == 2
    assert ("field 'name': missing required column (have: ID, RAJ2000, DEJ2000, Gmag); set catalog.columns.name to "
            "the file's column, e.g. catalog.columns: {name: ID, ra: RAJ2000, dec: DEJ2000}") in done.stderr

    code, out, err = init(catalog, "--survey", "ztf", "--out", "configs/mine.yaml", capsys=capsys)
    assert code == 0, err
    config = tmp_path / "configs" / "mine.yaml"
    assert catalog_block(config) == {"path": "../targets.csv", "columns": {
        "name": "ID", "ra": "RAJ2000", "dec": "DEJ2000", "mag": "Gmag"}, "epoch": 2000.0, "selection": ""}
    document = yaml.safe_load(config.read_text())
    assert document["project"] == {"name": "mine", "surveys": ["ztf"], "batch_size": 100}
    assert document["observatories"]["ztf"]["download"]["offline"] is False

    fake_archive.route(LC_PATH, ztf_answer)
    run = vo_json("run", str(config), "--set", f"observatories.ztf.download.base_url={fake_archive.url}",
                  "--set", "observatories.ztf.download.rate_limit_per_s=0",
                  data_dir=tmp_path / "data", database_url=empty_database_url)
    assert run["status"]["analysed"] == len(POSITIONS) and run["status"]["failed"] == 0
    assert run["status"]["lightcurves"] == 2 * len(POSITIONS)  # a zg and a zr object at every position
    asked = sorted(tuple(map(float, r.query["POS"][0].split()[1:3])) for r in fake_archive.requests
                   if r.path == LC_PATH)
    assert asked == sorted(POSITIONS)  # each target's RAJ2000/DEJ2000 (epoch 2000, no proper motion)


def test_a_fits_table_with_icrs_columns_and_a_chosen_epoch_runs(tmp_path, monkeypatch, capsys, empty_database_url):
    monkeypatch.chdir(tmp_path)
    catalog = fits_table(tmp_path / "stars.fits")
    code, out, err = init(catalog, "--survey", "demo", "--epoch", "2016.0", "--name", "fits-stars", capsys=capsys)
    assert code == 0, err
    config = tmp_path / "configs" / "stars.yaml"
    assert catalog_block(config) == {"path": "../stars.fits", "columns": {
        "name": "source_id", "ra": "RA_ICRS", "dec": "DE_ICRS", "mag": "Vmag"}, "epoch": 2016.0, "selection": ""}
    run = vo_json("run", str(config), data_dir=tmp_path / "data", database_url=empty_database_url)
    assert run["status"]["project"] == "fits-stars"
    assert run["status"]["analysed"] == len(POSITIONS) and run["status"]["failed"] == 0
    top = vo_json("top", str(config), "--limit", "10", data_dir=tmp_path / "data", database_url=empty_database_url)
    assert sorted(row["source"] for row in top) == [str(1001 + i) for i in range(len(POSITIONS))]


@pytest.mark.parametrize("header, rows, flags, message", [
    ("ID,RAJ2000,RA_ICRS,DEJ2000", [("a", 1.0, 1.0, 2.0)], (),
     "field 'ra': 2 columns could be the right ascension (RAJ2000, RA_ICRS: a common right ascension name); "
     "choose one with --ra-column"),
    ("ID,x,y", [("a", 1.0, 2.0)], (),
     "field 'ra': no column recognised as the right ascension (have: ID, x, y); choose one with --ra-column"),
    ("ra,dec,mag_r", [(1.0, 2.0, 3.0)], (),
     "field 'name': no column recognised as the source names (have: ra, dec, mag_r); choose one with --name-column"),
    ("ID,ra,dec,Vmag,Jmag", [("a", 1.0, 2.0, 3.0, 4.0)], (),
     "field 'mag': 2 columns could be the magnitude (Vmag, Jmag: a common magnitude name); choose one with "
     "--mag-column"),
    ("ID,RAJ2000,DEJ2000", [("a", "05 34 31.9", "+22 00 52")], (),
     "field 'ra': column 'RAJ2000' (right ascension) holds text, not numbers: vo needs decimal degrees"),
    ("ID,RAJ2000,DEJ2000", [("a", 1.0, 2.0)], ("--ra-column", "RA"),
     "field '--ra-column': no column 'RA' (have: ID, RAJ2000, DEJ2000)"),
    ("ID,RAJ2000,DEJ2000", [("a", 1.0, 2.0), ("a", 3.0, 4.0)], (),
     "row 3, field 'name': duplicate name 'a' (also row 2)"),
    ("ID,RAJ2000,DEJ2000", [("a", 400.0, 2.0)], (),
     "row 2, field 'ra': ra must be in [0, 360) degrees, got 400.0"),
])
def test_an_ambiguous_missing_or_invalid_column_is_refused_and_nothing_is_written(tmp_path, monkeypatch, capsys,
                                                                                 header, rows, flags, message):
    monkeypatch.chdir(tmp_path)
    catalog = vizier_csv(tmp_path / "t.csv", header, rows)
    code, out, err = init(catalog, "--survey", "demo", *flags, capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "configs" / "t.yaml").exists()
    assert not list(tmp_path.glob("configs/*")), "a temporary file was left behind"


def test_the_flags_choose_among_candidates_and_none_drops_the_magnitude(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    catalog = vizier_csv(tmp_path / "t.csv", "ID,RAJ2000,RA_ICRS,DEJ2000,DE_ICRS,Vmag,Jmag",
                         [("a", 1.0, 1.1, 2.0, 2.1, 3.0, 4.0)])
    code, _, err = init(catalog, "--ra-column", "RA_ICRS", "--dec-column", "DE_ICRS", "--mag-column", "none",
                        capsys=capsys)
    assert code == 0, err
    block = catalog_block(tmp_path / "configs" / "t.yaml")
    assert block["columns"] == {"name": "ID", "ra": "RA_ICRS", "dec": "DE_ICRS"}
    # The epoch is not taken from RAJ2000 when the positions chosen are not those.
    assert block["epoch"] == 2000.0 and "assumed" in (tmp_path / "configs" / "t.yaml").read_text()


def test_an_hourangle_column_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    table = Table({"name": ["a"], "RAh": [5.5], "DEJ2000": [20.0]})
    table["RAh"].unit, table["DEJ2000"].unit = "hourangle", "deg"
    table.write(tmp_path / "t.ecsv", format="ascii.ecsv")
    code, _, err = init(tmp_path / "t.ecsv", "--ra-column", "RAh", capsys=capsys)
    assert code == 2 and "column 'RAh' (right ascension) is in hourangle: vo needs degrees" in err


def test_an_existing_configuration_is_kept_unless_forced(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    catalog = vizier_csv(tmp_path / "t.csv")
    out = tmp_path / "configs" / "t.yaml"
    out.parent.mkdir()
    out.write_text("# mine\n")
    code, _, err = init(catalog, capsys=capsys)
    assert code == 2 and "'--out': configs/t.yaml exists; use --force to overwrite it" in err
    assert out.read_text() == "# mine\n"
    code, printed, err = init(catalog, "--force", capsys=capsys)
    assert code == 0, err
    assert "the survey is ztf by default; --survey chooses (demo, k2, kepler, tess, ztf, repeated for several)" in printed
    assert catalog_block(out)["columns"]["ra"] == "RAJ2000"
    assert yaml.safe_load(out.read_text())["project"]["surveys"] == ["ztf"]  # the default survey


@pytest.mark.parametrize("name", ["gaia_dr3_cone_search_5rows_astroquery.ecsv",
                                  "gaia_dr3_gaia_source_2rows_astroquery.vot"])
def test_the_real_gaia_files_are_recognised(tmp_path, monkeypatch, capsys, shared_data, name):
    monkeypatch.chdir(tmp_path)
    code, out, err = init(shared_data / name, "--survey", "demo", "--out", "g.yaml", capsys=capsys)
    assert code == 0, err
    block = catalog_block(tmp_path / "g.yaml")
    assert block["columns"] == {"name": "designation", "mag": "phot_g_mean_mag"} and block["epoch"] == 2016.0
    rows = len(Table.read(shared_data / name))
    assert f"read {rows} rows" in out


def test_a_vizier_table_at_j2000_with_its_epoch_column_and_proper_motions_in_other_units(tmp_path, monkeypatch,
                                                                                       capsys):
    monkeypatch.chdir(tmp_path)
    # VizieR's Gaia DR3 table: RAJ2000/DEJ2000 computed for J2000 beside an Epoch column of 2016.0.
    table = Table({"Source": [1, 2], "RAJ2000": [10.0, 11.0], "DEJ2000": [5.0, 6.0], "Epoch": [2016.0, 2016.0],
                   "pmRA": [0.003, 0.004], "pmDE": [1.0, 2.0], "Plx": [1.2, 0.8], "Gmag": [15.0, 16.0]})
    for name, unit in (("RAJ2000", "deg"), ("DEJ2000", "deg"), ("Epoch", "yr"), ("pmRA", "arcsec / yr"),
                       ("pmDE", "mas / yr"), ("Plx", "mas"), ("Gmag", "mag")):
        table[name].unit = unit
    table.write(tmp_path / "vizier.ecsv", format="ascii.ecsv")
    code, out, err = init(tmp_path / "vizier.ecsv", "--survey", "demo", capsys=capsys)
    assert code == 0, err
    config = tmp_path / "configs" / "vizier.yaml"
    block = catalog_block(config)
    assert block["epoch"] == 2000.0  # the positions chosen are J2000, whatever the file's Epoch column says
    assert block["columns"] == {"name": "Source", "ra": "RAJ2000", "dec": "DEJ2000", "mag": "Gmag", "pmdec": "pmDE",
                                "parallax": "Plx"}
    assert "pmRA (proper motion in RA) is in arcsec / yr, not mas / yr: not used" in out
    assert "# pmRA (proper motion in RA) is in arcsec / yr, not mas / yr: not used" in config.read_text()


def test_the_file_epoch_is_used_for_positions_that_are_not_j2000(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    vizier_csv(tmp_path / "icrs.csv", "ID,RA_ICRS,DE_ICRS,Epoch", [("a", 1.0, 2.0, 2016.0), ("b", 3.0, 4.0, 2016.0)])
    code, out, err = init(tmp_path / "icrs.csv", "--survey", "demo", capsys=capsys)
    assert code == 0, err
    assert catalog_block(tmp_path / "configs" / "icrs.yaml")["epoch"] == 2016.0
    assert "the file's Epoch column" in out
