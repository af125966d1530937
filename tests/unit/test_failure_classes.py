"""Failures grouped by kind for `vo run`'s summary: one line per kind, URLs reduced to hosts, cut at a word."""

from virtualobserver.adapters.cli.failure_classes import failure_classes, failure_lines

URL = "ztf: {name}: http://***@127.0.0.1:8123/cgi-bin/nph_light_curves?POS=CIRCLE+{ra}+20+0.0003&FORMAT=ipac_table"


def test_sources_failing_the_same_way_share_one_line_and_other_kinds_get_their_own():
    failures = {name: URL.format(name=name, ra=ra) + ": HTTP 503; gave up after 3 attempt(s)"
                for name, ra in (("T01", 10.0), ("T02", 10.5), ("T03", 11.0), ("T04", 11.5))}
    failures["S1"] = "demo survey has no data for 'S1' (simulated failure)"
    failures["Other"] = "ztf: Other: not available offline (offline mode makes no requests)"
    assert failure_classes(failures) == [
        ("ztf: SOURCE: 127.0.0.1:8123: HTTP 503; gave up after 3 attempt(s)", ["T01", "T02", "T03", "T04"]),
        ("demo survey has no data for SOURCE (simulated failure)", ["S1"]),
        ("ztf: SOURCE: not available offline (offline mode makes no requests)", ["Other"]),
    ]
    lines = failure_lines(failures)
    assert lines[0] == "4 sources failed (T01, T02, T03, …): ztf: SOURCE: 127.0.0.1:8123: HTTP 503; gave up after 3 attempt(s)"
    assert lines[1] == "1 source failed (S1): demo survey has no data for SOURCE (simulated failure)"


def test_a_name_inside_another_word_is_not_replaced():
    # "a" is in "irsa" and "data": only the name standing alone is the source's.
    assert failure_classes({"a": "irsa data for a: missing"}) == [("irsa data for SOURCE: missing", ["a"])]


def test_a_long_message_is_cut_at_a_word_never_inside_one():
    words = " ".join(f"word{i:03d}" for i in range(60))
    line = failure_lines({"X": words})[0]
    assert line.endswith(" …") and len(line) < 200
    kept = line.split(": ", 1)[1][:-2].split()
    assert kept == words.split()[:len(kept)]  # whole words only, in order
