"""bench/suite.py's pure parts: the figures read from each benchmark's JSON (samples shaped as
each script writes them), the Markdown, and the regeneration between the markers. The suite
itself (seeding, subprocesses) is never run by the tests."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

SUITE_PATH = Path(__file__).resolve().parent.parent / "bench" / "suite.py"


@pytest.fixture(scope="module")
def suite():
    # Loaded from its file: bench/ is not put on sys.path (bench/analytics.py would shadow the
    # analytics app for the rest of the session).
    spec = importlib.util.spec_from_file_location("bench_suite_under_test", SUITE_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def wrk_median(rps, p50=5.0, p99=20.0, errors=0):
    return {
        "requests_per_s": rps,
        "p50": p50,
        "p90": p50 * 2,
        "p99": p99,
        "max": p99 * 2,
        "errors": errors,
        "requests": int(rps * 10),
        "cpu_cores": {
            "gunicorn": 1.2,
            "redis": 0.1,
            "postgres": 0.4,
            "postgres_bg": 0.0,
            "machine_busy_pct": 95.0,
            "wrk": 0.2,
            "others": 0.05,
        },
    }


def scenario(by_connections, profile=None):
    result = {
        "paths": 12,
        "example": "/api/x/",
        "connections": {
            str(c): {"median": median, "runs": [median]} for c, median in by_connections.items()
        },
    }
    if profile:
        result["profile"] = profile
    return result


HTTP_READS = {
    "benchmark": "http_reads",
    "date": "2026-11-21T10:00:00+00:00",
    "settings": {
        "connection_list": [16, 64],
        "duration": 10,
        "runs": 3,
        "warmup": 3,
        "workers": 5,
        "worker_class": "sync",
        "threads": 2,
        "wrk_threads": 2,
        "profile": 10,
    },
    "results": {
        "sales_list": scenario(
            {16: wrk_median(450.0, p99=250.0), 64: wrk_median(470.0, p99=900.0)},
            profile={
                "samples": 12345,
                "inclusive_pct": [[f"module.py:function{i}", 100.0 - i] for i in range(25)],
                "self_pct": [],
                "connections": 16,
                "requests_per_s_while_sampled": 430.5,
            },
        ),
        "analytics_summary": scenario({16: wrk_median(1500.0), 64: wrk_median(1480.0)}),
        "health_live": scenario({16: wrk_median(3000.0), 64: wrk_median(2900.0)}),
        "analytics_summary_uncached": scenario({16: wrk_median(300.0), 64: wrk_median(290.0)}),
    },
    "ratios": [
        {"scenario": "sales_list", "baseline": "health_live", "connections": 16, "ratio": 0.15},
        {"scenario": "sales_list", "baseline": "health_live", "connections": 64, "ratio": 0.162},
        {
            "scenario": "analytics_summary",
            "baseline": "health_live",
            "connections": 16,
            "ratio": 0.5,
        },
        {
            "scenario": "analytics_summary",
            "baseline": "analytics_summary_uncached",
            "connections": 16,
            "ratio": 5.0,
        },
    ],
    "targets": [],
}

SEED_DEMO = {
    "benchmark": "seed_demo",
    "sales": 1_000_000,
    "sale_lines": 2_550_475,
    "customers": 100_000,
    "products": 5_000,
    "elapsed_seconds": 61.7,
    "sales_per_second": 16207,
    "lines_per_second": 41337,
    "target_seconds": 120.0,
    "within_target": True,
}


def analytics_row(endpoint, params, uncached, group_by, cached, informational=False):
    return {
        "endpoint": f"/api/analytics/{endpoint}/",
        "params": params,
        "source": "rollups",
        "uncached_p50_ms": uncached,
        "group_by_p50_ms": group_by,
        "ratio": round(group_by / uncached, 1),
        "cached_p50_ms": cached,
        "same_answer": True,
        "informational": informational,
    }


ANALYTICS = {
    "benchmark": "analytics",
    "sales": 1_000_000,
    "runs": 15,
    "rows": [
        analytics_row("summary", {}, 29.19, 6161.52, 2.38),
        analytics_row("revenue", {"interval": "day"}, 10.95, 1915.17, 12.5),
        analytics_row("summary", {"country": "FR"}, 265.7, 1118.34, 1.98, informational=True),
    ],
    "rebuild": {
        "two_years_s": 18.19,
        "rows": "915253",
        "apply_100k_minus_s": 4.71,
        "apply_100k_plus_s": 4.07,
    },
    "reports": [
        {
            "endpoint": "/api/analytics/cohorts/",
            "params": {"interval": "month"},
            "uncached_p50_ms": 89.15,
            "plain_sql_p50_ms": 527.82,
            "ratio": 5.9,
            "target_ms": 300.0,
            "met": True,
        },
        {
            "endpoint": "/api/analytics/rfm/customers/",
            "params": {"segment": "champions"},
            "uncached_p50_ms": 341.0,
            "plain_sql_p50_ms": 546.0,
            "ratio": 1.6,
            "target_ms": 500.0,
            "met": True,
        },
        {
            "endpoint": "/api/analytics/summary/ (with repeat/new/returning customers)",
            "params": {},
            "uncached_p50_ms": 106.0,
            "plain_sql_p50_ms": 4734.0,
            "ratio": 44.7,
            "target_ms": 200.0,
            "met": True,
        },
        {
            "endpoint": "/api/analytics/rfm/",
            "params": {},
            "uncached_p50_ms": 559.22,
            "plain_sql_p50_ms": 427.23,
            "ratio": 0.8,
            "target_ms": 500.0,
            "met": False,
        },
    ],
    "targets": {"uncached_ms": 200.0, "ratio": 10.0, "cached_ms": 10.0, "rebuild_s": 60.0},
    "missed": ["/api/analytics/revenue/ {'interval': 'day'}"],
}

SALES_LOAD = {
    "benchmark": "sales_load",
    "settings": {"runs": 3, "duration": 20, "connection_list": [16]},
    "target": {
        "sales_per_s": 150.0,
        "p95_ms": 150.0,
        "connections": 16,
        "result": {"sales_per_s": 183.0, "p95_ms": 107.7, "met": True},
    },
    "results": [
        {
            "mode": mode,
            "catalog": catalog,
            "connections": {
                "16": {
                    "median": {
                        "sales_per_s": sales,
                        "requests_per_s": sales,
                        "p50": 85.7,
                        "p95": p95,
                        "p99": 125.5,
                        "errors": 0,
                        "requests": 100,
                        "cpu_cores": {},
                        "cpu_ms_per_sale": 10.3,
                    },
                    "runs": [],
                }
            },
            "correctness": {"passed": passed, "problems": []},
        }
        for mode, catalog, sales, p95, passed in (
            ("local", "LocalCatalog", 183.0, 107.7, True),
            ("http", "HttpCatalog", 30.6, 660.7, False),
        )
    ],
}

IMPORT_EXPORT = {
    "benchmark": "import_export",
    "sales_seeded": 400_000,
    "export": {"seconds": 8.62, "peak_mb": 99.5, "lines": 1_018_794, "lines_per_second": 118190},
    "plain_copy": {"seconds": 1.19, "rows": 1_018_794, "lines_per_second": 853420},
    "import": {
        "seconds": 55.9,
        "peak_mb": 127.9,
        "lines": 1_018_794,
        "lines_per_second": 18235,
        "copy_ratio": 0.021,
    },
    "round_trip_identical": True,
    "import_small": {"seconds": 6.34, "peak_mb": 109.2, "lines": 100_000},
    "products": {
        "rows": 20000,
        "command_seconds": 2.05,
        "command_peak_mb": 99.4,
        "service_seconds": 0.97,
        "admin_preview_seconds": 0.5,
        "admin_confirm_seconds": 0.78,
        "admin_seconds": 1.28,
    },
    "targets": {
        "export_lines_per_second": 100_000,
        "export_peak_mb": 200,
        "import_lines_per_second": 50_000,
        "import_peak_mb": 300,
        "import_copy_ratio": 0.25,
        "admin_products_seconds": 10.0,
    },
}

BULK_PRODUCTS = {
    "benchmark": "POST /api/products/bulk/",
    "items": 10000,
    "runs": 5,
    "figures": {
        "create": {
            "median_s": 0.955,
            "items_per_s": 10471,
            "runs_s": [0.955],
            "engine_median_s": 0.881,
            "target_items_per_s": 5000.0,
            "met": True,
        },
        "update": {
            "median_s": 2.5,
            "items_per_s": 4000,
            "runs_s": [2.5],
            "engine_median_s": 2.4,
            "target_items_per_s": 5000.0,
            "met": False,
        },
    },
}

CACHE_PURGE = {
    "keys": 1_000_000,
    "purge": {
        "seconds": 11.15,
        "result": {"deleted": 1_000_000},
        "during": {"reads": 5000, "p50_ms": 0.138, "p99_ms": 4.36, "max_ms": 13.0},
        "keys_per_second": 89689,
    },
    "baseline_keys_del": {
        "seconds": 6.5,
        "result": {"deleted": 1_000_000, "keys_seconds": 3.44},
        "during": {"reads": 4000, "p50_ms": 0.093, "p99_ms": 0.62, "max_ms": 1398.0},
        "keys_per_second": 153846,
    },
    "correct": True,
    "target_max_ms": 50.0,
    "target_met": True,
}

EXPLAIN_FILTERS = {
    "database": "sales_bench",
    "max_ms": 200.0,
    "runs": 3,
    "queries": [
        {
            "case": f"sales: case {i}",
            "kind": "page",
            "execution_ms": float(i * 10),
            "seq_scan": ["sales_sale"] if i == 0 else [],
            "ok": i != 0 and i * 10 <= 200,
        }
        for i in range(15)
    ],
    "failed": [],
}


def by_figure(rows):
    return {row["figure"]: row for row in rows}


def test_seed_demo_rows(suite):
    rows = by_figure(suite.extract_rows("seed_demo", SEED_DEMO)[0])
    seed = rows["seed_demo --reset, 1,000,000 sales, 2,550,475 lines"]
    assert (seed["value"], seed["unit"], seed["runs"]) == (61.7, "s", 1)
    assert (seed["target"], seed["met"]) == ("≤ 120 s", True)
    assert rows["sale lines loaded per second"]["value"] == 41337


def test_http_reads_rows(suite):
    rows = by_figure(suite.extract_rows("http_reads", HTTP_READS)[0])
    sales16 = rows["sales_list, 16 connections"]
    assert (sales16["value"], sales16["unit"], sales16["runs"]) == (450.0, "req/s", 3)
    assert (sales16["baseline"], sales16["baseline_value"]) == ("health_live", 3000.0)
    assert sales16["ratio"] == 0.15  # taken from the JSON's "ratios"
    assert (sales16["target"], sales16["met"]) == ("≥ 400 req/s", True)
    p99 = rows["sales_list, 16 connections: p99"]
    assert (p99["value"], p99["target"], p99["met"]) == (250.0, "≤ 200 ms", False)
    assert rows["sales_list, 64 connections"]["target"] is None
    cached = rows["analytics_summary (cached), 16 connections"]
    assert (cached["baseline"], cached["baseline_value"], cached["ratio"]) == (
        "analytics_summary_uncached",
        300.0,
        5.0,
    )
    summary = rows["analytics_summary, 16 connections"]
    assert (summary["ratio"], summary["target"], summary["met"]) == (0.5, "≥ 1,000 req/s", True)
    # a ratio missing from the JSON is computed from the medians
    assert rows["analytics_summary (cached), 64 connections"]["ratio"] == round(1480 / 290, 3)
    health = rows["health_live, 16 connections"]
    assert health["baseline"] is None and health["ratio"] is None


def test_http_reads_details_table_and_profile(suite):
    text = "\n".join(suite.http_reads_details(HTTP_READS))
    assert "| sales_list | 16 | 450 | 5.00 | 250 | 0 | 1.20 | 0.40 | 0.10 | 0.20 | 0.05 |" in text
    assert "Profile of `sales_list` (py-spy, 12,345 samples" in text
    assert "`module.py:function9`" in text and "`module.py:function10`" not in text


def test_analytics_rows(suite):
    rows = by_figure(suite.extract_rows("analytics", ANALYTICS)[0])
    summary = rows["summary: uncached p50"]
    assert (summary["value"], summary["runs"], summary["baseline_value"]) == (29.19, 15, 6161.52)
    assert summary["ratio"] == 211.1 and summary["met"] is True
    assert rows["revenue interval=day: cached p50"]["met"] is False  # 12.5 ms > 10 ms
    assert not any("country=FR" in figure for figure in rows)  # informational rows left out
    assert rows["rollups_rebuild of two years"]["target"] == "≤ 60 s"
    assert rows["rollups_apply_sales of the last ≤ 100,000 sales, +1"]["value"] == 4.07
    cohorts = rows["cohorts interval=month: uncached p50 (sales team report)"]
    assert (cohorts["baseline"], cohorts["baseline_value"]) == ("plain SQL p50", 527.82)
    assert (cohorts["ratio"], cohorts["target"], cohorts["met"]) == (5.9, "≤ 300 ms", True)
    assert rows["rfm: uncached p50 (sales team report)"]["met"] is False
    assert rows["rfm/customers segment=champions: uncached p50 (sales team report)"]["met"]
    assert rows["summary: uncached p50 (sales team report)"]["ratio"] == 44.7


def test_sales_load_rows(suite):
    rows = by_figure(suite.extract_rows("sales_load", SALES_LOAD)[0])
    local = rows["LocalCatalog, 16 clients: sales recorded"]
    assert (local["value"], local["runs"], local["met"]) == (183.0, 3, True)
    assert rows["LocalCatalog, 16 clients: p95"]["met"] is True
    assert rows["HttpCatalog, 16 clients: sales recorded"]["target"] is None
    assert rows["HttpCatalog: books checked after the load"]["met"] is False


def test_import_export_rows(suite):
    rows = by_figure(suite.extract_rows("import_export", IMPORT_EXPORT)[0])
    imported = rows["import_data sales, 1,018,794 lines"]
    assert (imported["baseline"], imported["baseline_value"]) == ("plain COPY of the file", 853420)
    assert imported["ratio"] == 0.021 and imported["met"] is False
    assert rows["export_data sales, 1,018,794 lines"]["met"] is True
    assert rows["admin import, 20,000 products (preview + confirm)"]["met"] is True
    assert rows["export → import → export"]["value"] == "identical"


def test_bulk_and_cache_purge_rows(suite):
    bulk = by_figure(suite.extract_rows("bulk_products", BULK_PRODUCTS)[0])
    assert bulk["POST /api/products/bulk/, 10,000 items, create"]["met"] is True
    assert bulk["POST /api/products/bulk/, 10,000 items, update"]["met"] is False
    purge = suite.extract_rows("cache_purge", CACHE_PURGE)[0]
    latency = purge[0]
    assert (latency["value"], latency["baseline_value"]) == (13.0, 1398.0)
    assert latency["ratio"] == round(1398 / 13, 3) and latency["met"] is True
    duration = by_figure(purge)["purge duration"]
    assert duration["ratio"] == round(6.5 / 11.15, 3)


def test_explain_filters_rows(suite):
    rows = suite.extract_rows("explain_filters", EXPLAIN_FILTERS)[0]
    assert rows[0]["value"] == 14 and rows[0]["met"] is False
    # the ten slowest, then the failed ones not among them
    assert [row["value"] for row in rows[1:]] == [140.0 - 10 * i for i in range(10)] + [0.0]
    assert rows[-1]["figure"] == "sales: case 0 (page), seq scan: sales_sale"


def test_unexpected_shape_is_reported_not_raised(suite):
    rows, error = suite.extract_rows("bulk_products", {"figures": {"create": {}}, "items": 1})
    assert rows == [] and "KeyError" in error
    assert suite.extract_rows("analytics", None) == ([], None)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1234567, "1,234,567"),
        (1234.56, "1,235"),
        (183.0, "183"),
        (29.19, "29.2"),
        (2.384, "2.38"),
        (0.0123, "0.0123"),
        (None, "—"),
        (True, "yes"),
        ("PASS", "PASS"),
    ],
)
def test_number(suite, value, text):
    assert suite.number(value) == text


def test_rows_table(suite):
    rows = suite.extract_rows("http_reads", HTTP_READS)[0]
    lines = suite.rows_table(rows)
    assert lines[0] == "| figure | median | runs | baseline (same run) | ratio | target | met |"
    assert (
        "| sales_list, 16 connections | **450 req/s** | 3 | health_live: 3,000 req/s | 0.15x | "
        "≥ 400 req/s | met |"
    ) in lines
    assert (
        "| sales_list, 16 connections: p99 | **250 ms** | 3 | — | — | ≤ 200 ms | **missed** |"
        in (lines)
    )


def suite_report(suite, benchmarks):
    return {
        "command": ".venv/bin/python bench/suite.py --quick",
        "started": "2026-11-21T10:00:00+00:00",
        "finished": "2026-11-21T10:30:00+00:00",
        "duration_s": 1800.0,
        "code": {"commit": "abc1234", "changed_files": 0},
        "machine": {"cores": 2, "cpu_model": "AMD EPYC", "memory_gib": 23.5, "python": "3.11.7"},
        "data_set": {"database": "sales_bench", "how": "reused", "sales": 1_000_000},
        "benchmarks": benchmarks,
    }


def test_render_reports_a_failure_and_the_others(suite):
    ok_rows, _ = suite.extract_rows("seed_demo", SEED_DEMO)
    text = suite.render(
        suite_report(
            suite,
            [
                {"name": "seed_demo", "status": "ok", "command": "seed", "rows": ok_rows},
                {
                    "name": "sales_load",
                    "status": "failed",
                    "command": "load",
                    "exit_status": 2,
                    "failure": "exit status 2",
                    "stderr_tail": ["Traceback", "wrk is missing"],
                    "log": "bench/results/suite-logs/sales_load.log",
                    "rows": [],
                },
            ],
        )
    )
    assert "- **Commit:** `abc1234`" in text
    assert "1,000,000 sales" in text
    assert "- **Failed:** sales_load" in text
    assert "**Failed** (exit status 2; exit status 2)" in text or "**Failed**" in text
    assert "```\nTraceback\nwrk is missing\n```" in text
    assert "| seed_demo --reset, 1,000,000 sales, 2,550,475 lines | **61.7 s** |" in text


def test_replace_marked_keeps_the_text_outside(suite):
    before = "# Performance\n\nHand-written intro.\n\n"
    after = "\n\n## Scaling notes\n\nMine, do not touch.\n"
    text = before + suite.BEGIN + "\nold figures\n" + suite.END + after
    new = suite.replace_marked(text, "new figures\n")
    assert new == before + suite.BEGIN + "\nnew figures\n" + suite.END + after
    assert suite.replace_marked(new, "new figures") == new  # idempotent


def test_replace_marked_new_file_and_missing_markers(suite):
    created = suite.replace_marked(None, "GENERATED")
    assert created.index(suite.BEGIN) < created.index("GENERATED") < created.index(suite.END)
    assert created.index(suite.END) < created.index("## Scaling notes")
    text = "# Perf\n\nintro\n\n## Scaling notes\n\nnotes\n"
    added = suite.replace_marked(text, "figures")
    assert (
        added
        == f"# Perf\n\nintro\n\n{suite.BEGIN}\nfigures\n{suite.END}\n\n## Scaling notes\n\nnotes\n"
    )
    with pytest.raises(ValueError):
        suite.replace_marked(f"intro\n{suite.BEGIN}\nno end", "figures")


def test_write_doc(suite, tmp_path):
    doc = tmp_path / "PERFORMANCE.md"
    suite.write_doc(doc, "first")
    doc.write_text(doc.read_text().replace("_To be written._", "My notes."))
    suite.write_doc(doc, "second")
    text = doc.read_text()
    assert "second" in text and "first" not in text and "My notes." in text


REPLICA_READS = {
    "sales": 100_000,
    "clients": 4,
    "primary_cpu_freed_pct": 92.0,
    "phases": {
        "primary_only": {"requests_per_s": 50.0, "cpu_ms_per_request": {"primary": 1.5}},
        "with_replica": {"requests_per_s": 55.0, "cpu_ms_per_request": {"primary": 0.12}},
    },
}


def test_replica_reads_rows(suite):
    rows, error = suite.extract_rows("replica_reads", REPLICA_READS)
    assert error is None
    cpu, freed, rate = rows
    assert (cpu["value"], cpu["baseline_value"], cpu["ratio"]) == (0.12, 1.5, 12.5)
    assert freed["value"] == 92.0
    assert rate["ratio"] == 1.1


def test_selection_sizes_and_reuse(suite):
    available = [name for name in suite.BENCHMARKS if name != "explain_filters"]
    assert suite.select("", "", available) == available
    assert suite.select("analytics,http_reads", "", available) == ["http_reads", "analytics"]
    assert "cache_purge" not in suite.select("", "cache_purge", available)
    with pytest.raises(ValueError):
        suite.select("nope", "", available)
    args = argparse.Namespace(quick=False, sales=None, customers=None, products=None)
    suite.resolve_sizes(args)
    assert (args.sales, args.customers, args.products) == (1_000_000, 100_000, 5_000)
    args = argparse.Namespace(quick=True, sales=None, customers=None, products=None)
    suite.resolve_sizes(args)
    assert args.sales == 20_000
    counts = {"sales": 20_000, "sale_lines": 51_000, "customers": 10_000, "products": 500}
    assert suite.dataset_matches(counts, 20_000, 10_000, 500)
    assert not suite.dataset_matches(counts, 1_000_000, 100_000, 5_000)
    assert not suite.dataset_matches(None, 20_000, 10_000, 500)


def test_plan(suite, tmp_path):
    args = suite.parse_args(
        ["--quick", "--database-url", "postgres://postgres@127.0.0.1:5432/sales_bench_x"]
    )
    steps = {step.name: step for step in suite.build_plan(args, list(suite.BENCHMARKS), tmp_path)}
    assert steps["http_reads"].command[-2:] == ["--output", str(tmp_path / "http_reads.json")]
    assert "--wait-quiet" in steps["http_reads"].command
    assert steps["analytics"].env["DATABASE_URL"].endswith("/sales_bench_x")
    assert steps["replica_reads"].command[1] == "bench/replica_reads.py"
    assert "--duration" in steps["replica_reads"].command
    assert steps["bulk_products"].env["DATABASE_URL"].endswith("/sales_bench_bulk")
    assert steps["import_export"].command[steps["import_export"].command.index("--sales") + 1] == (
        str(round(20_000 / 2.55))
    )
    with pytest.raises(SystemExit):
        suite.parse_args(["--database-url", "postgres://postgres@127.0.0.1:5432/salesproject"])
