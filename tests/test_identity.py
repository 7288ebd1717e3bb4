"""benchmarks.identity: two records compare equal only when metrics and exports match exactly."""

from benchmarks.identity import compare


def _record(value: float, sha: str = "a") -> dict:
    return {"job": {"metrics": [{"loss": value}], "export_sha256": {"residual.json": sha}, "export_json": {}},
            "meta": {"commit": "x"}}


def test_compare_finds_every_difference_and_ignores_the_meta():
    assert compare(_record(1.0), {**_record(1.0), "meta": {"commit": "y"}}) == []
    assert compare(_record(1.0), _record(1.0 + 1e-7)) == ["job: metrics differs"]
    assert compare(_record(1.0), _record(1.0, sha="b")) == ["job: export_sha256 differs"]
    assert compare(_record(1.0), {"meta": {}}) == ["job: only in one record"]
