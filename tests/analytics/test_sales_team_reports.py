"""Issue 17: cohorts and retention, basket affinity, RFM segments, repeat customers and
lifetime figures. Every answer is compared with an independent computation in plain Python
over the completed sale lines (``tests.analytics.conftest.lines``), on the generated history
with cancellations, edits, deletes and imports."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest

from analytics.models import CustomerLifetime
from analytics.services import rollups_rebuild
from sales.models import Sale
from sales.services import SaleLine, sale_cancel, sale_create, sale_delete, sale_update
from tests.analytics.conftest import at, build_dataset, lines, q2
from tests.factories import make_customer, make_product, make_sale

pytestmark = [pytest.mark.usefixtures("fast_password_hasher")]


def lifetime_rows() -> list[tuple]:
    return sorted(
        (
            row.customer_id,
            row.first_day,
            row.last_day,
            row.orders,
            f"{row.revenue:.2f}",
            row.second_day,
        )
        for row in CustomerLifetime.objects.all()
    )


def oracle_lifetimes() -> list[tuple]:
    per_customer: dict[int, dict] = {}
    sales_of: dict[int, dict] = defaultdict(dict)  # sale id -> its local day
    for line in lines():
        if line.customer_id is None:
            continue
        row = per_customer.setdefault(
            line.customer_id, {"first": line.day, "last": line.day, "revenue": Decimal(0)}
        )
        row["first"], row["last"] = min(row["first"], line.day), max(row["last"], line.day)
        row["revenue"] += line.revenue
        sales_of[line.customer_id][line.sale_id] = line.day
    result = []
    for cid, r in per_customer.items():
        days = sorted(sales_of[cid].values(), reverse=True)
        second = days[1] if len(days) >= 2 else None  # the second-latest sale's day
        result.append((cid, r["first"], r["last"], len(days), f"{q2(r['revenue']):.2f}", second))
    return sorted(result)


@pytest.mark.django_db
@pytest.mark.embedded
def test_lifetimes_kept_in_the_sale_transaction_equal_the_sales_and_a_rebuild(local_time_zone):
    data = build_dataset(size=40)
    rng = random.Random(17)
    for _ in range(30):  # a random sequence of writes on top of the generated history
        sales = list(Sale.objects.order_by("pk"))
        action = rng.choice(["create", "cancel", "delete", "customer", "day", "lines"])
        sale = rng.choice(sales)
        customer = rng.choice([*data.customers, None])
        if action == "create":
            product = rng.choice(data.products)
            sale_create(
                lines=[SaleLine(product.pk, rng.randint(1, 3))],
                customer_id=customer.pk if customer else None,
                sold_at=at(data.first_day + timedelta(days=rng.randint(0, 60)), 12),
            )
        elif action == "cancel" and sale.status == "completed":
            sale_cancel(sale=sale)
        elif action == "delete":
            sale_delete(sale=sale)
        elif action == "customer" and sale.status == "completed":
            sale_update(sale=sale, customer_id=customer.pk if customer else None)
        elif action == "day" and sale.status == "completed":
            sale_update(sale=sale, sold_at=at(data.first_day + timedelta(rng.randint(0, 60)), 9))
        elif action == "lines" and sale.status == "completed":
            sale_update(sale=sale, lines=[SaleLine(rng.choice(data.products).pk, 2)])
    kept = lifetime_rows()
    assert kept, "no lifetime rows"
    assert kept == oracle_lifetimes()
    CustomerLifetime.objects.all().delete()
    CustomerLifetime.objects.create(
        customer=data.customers[0],
        first_day=date(2000, 1, 1),
        last_day=date(2000, 1, 1),
        orders=1,
        revenue=1,
    )
    stats = rollups_rebuild()
    assert stats.fixed >= len(kept)
    assert lifetime_rows() == kept


# --- Cohorts ------------------------------------------------------------------------------------


@pytest.fixture
def analyst(client_for):
    return client_for("analyst")


def get(client, path, **params):
    response = client.get(f"/api/analytics/{path}/", params)
    assert response.status_code == 200, response.content
    return response.json()


def start_of(day: date, interval: str) -> date:
    return day - timedelta(days=day.weekday()) if interval == "week" else day.replace(day=1)


def oracle_cohorts(date_from: date, date_to: date, interval: str, **only) -> list[dict]:
    all_lines = lines()
    first_day: dict[int, date] = {}
    for line in all_lines:
        if line.customer_id is not None:
            first_day[line.customer_id] = min(first_day.get(line.customer_id, line.day), line.day)
    members = {
        cid: start_of(day, interval)
        for cid, day in first_day.items()
        if date_from <= day <= date_to
    }
    if "country" in only:
        keep = {line.customer_id for line in all_lines if line.country == only["country"]}
        members = {cid: c for cid, c in members.items() if cid in keep}
    active: dict[tuple, set] = defaultdict(set)
    revenue: dict[tuple, Decimal] = defaultdict(Decimal)
    for line in all_lines:
        if line.customer_id in members and line.day <= date_to:
            key = (members[line.customer_id], start_of(line.day, interval))
            active[key].add(line.customer_id)
            revenue[key] += line.revenue
    results = []
    for cohort in sorted(set(members.values())):
        size = sum(1 for c in members.values() if c == cohort)
        periods, start, offset = [], cohort, 0
        while start <= start_of(date_to, interval):
            count = len(active[(cohort, start)])
            periods.append(
                {
                    "offset": offset,
                    "start": start.isoformat(),
                    "active_customers": count,
                    "revenue": str(q2(revenue[(cohort, start)])),
                    "retention_pct": str(q2(Decimal(count) * 100 / size)),
                }
            )
            offset += 1
            start = (
                start + timedelta(days=7)
                if interval == "week"
                else ((start + timedelta(days=32)).replace(day=1))
            )
        results.append({"start": cohort.isoformat(), "customers": size, "periods": periods})
    return results


@pytest.mark.django_db
@pytest.mark.parametrize("interval", ["month", "week"])
@pytest.mark.embedded
def test_cohorts_equal_an_independent_computation(analyst, dataset, interval):
    data = dataset
    # Spread the customers' first sales: a few more customers start later.

    for n in range(4):
        customer = make_customer()
        for k in range(n + 1):
            sale_create(
                lines=[SaleLine(data.products[n].pk, 1 + k)],
                customer_id=customer.pk,
                sold_at=at(data.first_day + timedelta(days=5 + 9 * n + 4 * k), 11),
            )
    last = Sale.objects.order_by("-sold_at").first()
    sale_cancel(sale=last)
    for date_from, date_to in [
        (data.first_day, data.first_day + timedelta(days=60)),
        (data.first_day + timedelta(days=3), data.first_day + timedelta(days=30)),
    ]:
        answer = get(analyst, "cohorts", date_from=date_from, date_to=date_to, interval=interval)
        expected = oracle_cohorts(date_from, date_to, interval)
        assert expected
        assert [
            {k: c[k] for k in ("start", "customers", "periods")} for c in answer["results"]
        ] == expected
        assert answer["results"][0]["periods"][0]["retention_pct"] == "100.00"
        label = answer["results"][0]["cohort"]
        assert label.startswith("2025-") and (("W" in label) == (interval == "week"))
    fr = get(analyst, "cohorts", date_from=data.first_day, date_to=data.last_day, country="FR")
    assert [c["customers"] for c in fr["results"]] == [
        c["customers"] for c in oracle_cohorts(data.first_day, data.last_day, "month", country="FR")
    ]


@pytest.mark.django_db
def test_cohorts_csv_has_the_same_numbers(analyst, dataset):
    params = {"date_from": dataset.first_day, "date_to": dataset.last_day, "interval": "week"}
    answer = get(analyst, "cohorts", **params)
    response = analyst.get("/api/analytics/cohorts/", {**params, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = response.content.decode().splitlines()
    assert rows[0] == (
        "cohort,cohort_start,customers,offset,start,active_customers,revenue,retention_pct"
    )
    expected = [
        ",".join(
            str(v)
            for v in (
                c["cohort"],
                c["start"],
                c["customers"],
                p["offset"],
                p["start"],
                p["active_customers"],
                p["revenue"],
                p["retention_pct"],
            )
        )
        for c in answer["results"]
        for p in c["periods"]
    ]
    assert rows[1:] == expected and expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, field",
    [
        ({"interval": "day"}, "interval"),
        ({"product": 1}, "product"),
        ({"date_from": "2025-01-10", "date_to": "2025-01-01"}, "date_to"),
    ],
)
def test_cohorts_refuse_bad_input_in_the_one_error_shape(analyst, params, field):
    from tests.factories import make_product

    make_product()
    response = analyst.get("/api/analytics/cohorts/", {**params, "format": "csv"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert field in str(response.json())


# --- Basket affinity ----------------------------------------------------------------------------


def oracle_basket(date_from, date_to, product, limit, **only) -> dict:
    products_of: dict[int, set] = defaultdict(set)
    for line in lines():
        if not date_from <= line.day <= date_to:
            continue
        if "country" in only and line.country != only["country"]:
            continue
        products_of[line.sale_id].add(line.product_id)
    with_product = [ps for ps in products_of.values() if product in ps]
    together: dict[int, int] = defaultdict(int)
    for ps in with_product:
        for other in ps - {product}:
            together[other] += 1
    ranked = sorted(together.items(), key=lambda item: (-item[1], item[0]))[:limit]
    results = []
    for other, orders in ranked:
        confidence = Decimal(orders) / len(with_product)
        share = Decimal(sum(1 for ps in products_of.values() if other in ps)) / len(products_of)
        results.append(
            {
                "product_id": other,
                "orders": orders,
                "confidence": str(confidence.quantize(Decimal("0.0001"))),
                "lift": str(q2(confidence / share)),
            }
        )
    return {"orders": len(with_product), "sales": len(products_of), "results": results}


@pytest.mark.django_db
@pytest.mark.parametrize("only", [{}, {"country": "FR"}])
@pytest.mark.embedded
def test_basket_equals_an_independent_computation(analyst, dataset, only):
    date_from, date_to = dataset.first_day + timedelta(days=2), dataset.last_day
    for product in dataset.products[:4]:
        for limit in (3, 100):
            params = {"date_from": date_from, "date_to": date_to, "product": product.pk}
            answer = get(analyst, "basket", **params, limit=limit, **only)
            expected = oracle_basket(date_from, date_to, product.pk, limit, **only)
            assert expected["results"]
            got = {
                "orders": answer["orders"],
                "sales": answer["sales"],
                "results": [
                    {k: r[k] for k in ("product_id", "orders", "confidence", "lift")}
                    for r in answer["results"]
                ],
            }
            assert got == expected
            assert all(r["sku"] and r["name"] for r in answer["results"])
    csv = analyst.get("/api/analytics/basket/", {**params, "format": "csv", **only})
    rows = csv.content.decode().splitlines()
    assert rows[0] == "product_id,sku,name,orders,confidence,lift"
    assert [row.split(",")[0] for row in rows[1:]] == [
        str(r["product_id"]) for r in answer["results"]
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, field",
    [({}, "product"), ({"product": 1, "limit": 101}, "limit"), ({"product": 999999}, "product")],
)
def test_basket_refuses_bad_input(analyst, params, field):
    from tests.factories import make_product

    make_product()
    response = analyst.get("/api/analytics/basket/", params)
    assert response.status_code == 400
    assert field in str(response.json())


# --- RFM ----------------------------------------------------------------------------------------

GRID = {  # the documented grid, written out again: R row, F column
    5: ["new", "potential_loyalists", "potential_loyalists", "champions", "champions"],
    4: ["new", "potential_loyalists", "potential_loyalists", "loyal", "champions"],
    3: ["hibernating", "potential_loyalists", "loyal", "loyal", "loyal"],
    2: ["lost", "hibernating", "at_risk", "at_risk", "cant_lose"],
    1: ["lost", "lost", "hibernating", "at_risk", "cant_lose"],
}


def quintiles(values: dict[int, object]) -> dict[int, int]:
    """NTILE(5) by hand: sort by (value, id); the first n % 5 groups get one more."""
    ordered = sorted(values, key=lambda cid: (values[cid], cid))
    size, extra = divmod(len(ordered), 5)
    scores, index = {}, 0
    for score in range(1, 6):
        for _ in range(size + (1 if score <= extra else 0)):
            scores[ordered[index]] = score
            index += 1
    return scores


def oracle_rfm(date_from, date_to) -> dict[int, dict]:
    per: dict[int, dict] = {}
    for line in lines():
        if line.customer_id is None or not date_from <= line.day <= date_to:
            continue
        row = per.setdefault(line.customer_id, {"last": line.day, "sales": set(), "rev": 0})
        row["last"] = max(row["last"], line.day)
        row["sales"].add(line.sale_id)
        row["rev"] += line.revenue
    r = quintiles({cid: row["last"] for cid, row in per.items()})
    f = quintiles({cid: len(row["sales"]) for cid, row in per.items()})
    m = quintiles({cid: row["rev"] for cid, row in per.items()})
    return {
        cid: {
            "customer_id": cid,
            "last_sale_day": row["last"].isoformat(),
            "recency_days": (date_to - row["last"]).days,
            "orders": len(row["sales"]),
            "revenue": str(q2(row["rev"])),
            "r": r[cid],
            "f": f[cid],
            "m": m[cid],
            "segment": GRID[r[cid]][f[cid] - 1],
        }
        for cid, row in per.items()
    }


@pytest.mark.django_db
@pytest.mark.embedded
@pytest.mark.parametrize("end_shift", [3, -10])  # after every last sale / before some
def test_rfm_equals_an_independent_computation(analyst, dataset, end_shift):

    # More customers than quintiles, with ties on every value.
    for n in range(12):
        customer = make_customer()
        for k in range(1 + n % 3):
            sale_create(
                lines=[SaleLine(dataset.products[n % 3].pk, 1 + n % 2)],
                customer_id=customer.pk,
                sold_at=at(dataset.first_day + timedelta(days=3 * (n % 5) + k), 10),
            )
    date_from, date_to = dataset.first_day, dataset.last_day + timedelta(days=end_shift)
    expected = oracle_rfm(date_from, date_to)
    answer = get(analyst, "rfm", date_from=date_from, date_to=date_to)
    assert answer["customers"] == len(expected) >= 15
    by_segment = {row["segment"]: row for row in answer["segments"]}
    assert len(by_segment) == 8
    for segment, row in by_segment.items():
        members = [e for e in expected.values() if e["segment"] == segment]
        assert row["customers"] == len(members)
        assert row["revenue"] == str(q2(sum(Decimal(e["revenue"]) for e in members)))
        assert row["share_pct"] == str(q2(Decimal(len(members)) * 100 / len(expected)))
        listed, page = [], 1
        while True:
            params = {"date_from": date_from, "date_to": date_to, "segment": segment}
            chunk = get(analyst, "rfm/customers", **params, page=page, page_size=2)
            assert chunk["count"] == len(members)
            listed += chunk["results"]
            if not chunk["results"]:
                break
            page += 1
        members.sort(key=lambda e: (-Decimal(e["revenue"]), e["customer_id"]))
        assert [
            {
                k: c[k]
                for k in (
                    "customer_id",
                    "last_sale_day",
                    "recency_days",
                    "orders",
                    "revenue",
                    "r",
                    "f",
                    "m",
                )
            }
            for c in listed
        ] == [{k: v for k, v in e.items() if k != "segment"} for e in members]
    assert sum(1 for row in answer["segments"] if row["customers"]) >= 3


@pytest.mark.django_db
def test_rfm_csv_and_bad_input(analyst, dataset):
    params = {"date_from": dataset.first_day, "date_to": dataset.last_day}
    answer = get(analyst, "rfm", **params)
    rows = analyst.get("/api/analytics/rfm/", {**params, "format": "csv"}).content.decode()
    assert rows.splitlines()[1:] == [
        f"{s['segment']},{s['label']},{s['customers']},{s['revenue']},{s['share_pct'] or ''}"
        for s in answer["segments"]
    ]
    best = max(answer["segments"], key=lambda s: s["customers"])["segment"]
    listed = get(analyst, "rfm/customers", **params, segment=best, page_size=500)
    csv = analyst.get("/api/analytics/rfm/customers/", {**params, "segment": best, "format": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    assert [line.split(",")[0] for line in csv.content.decode().splitlines()[1:]] == [
        str(c["customer_id"]) for c in listed["results"]
    ]
    for bad in ({"segment": "vip"}, {}, {"segment": "lost", "page_size": 100000}):
        response = analyst.get("/api/analytics/rfm/customers/", {**params, **bad})
        assert response.status_code == 400, bad


# --- Repeat, new and returning customers; lifetime ---------------------------------------------


@pytest.mark.django_db
@pytest.mark.embedded
def test_new_and_repeat_customers_from_rollups_equal_the_sales_tables(analyst, dataset):
    from analytics.selectors import AnalyticsFilters, analytics_summary

    newcomer = make_customer(country="FR")
    for day in (20, 21):
        sale_create(
            lines=[SaleLine(dataset.products[1].pk, 1)],
            customer_id=newcomer.pk,
            sold_at=at(dataset.first_day + timedelta(days=day), 10),
        )
    start = dataset.first_day + timedelta(days=15)
    seen = set()
    for only in (
        {},
        {"country": "FR"},
        {"customer": newcomer.pk},
        {"product": dataset.products[1].pk},
    ):
        filters = AnalyticsFilters(date_from=start, date_to=start + timedelta(days=14), **only)
        fast = analytics_summary(filters=filters)
        slow = analytics_summary(filters=filters, source="sales")
        for key in ("current", "previous"):
            figures = {
                k: fast[key][k]
                for k in ("repeat_customer_rate", "new_customers", "returning_customers")
            }
            assert figures == {k: slow[key][k] for k in figures}, (only, key)
            seen.add((figures["new_customers"] > 0, figures["returning_customers"] > 0))
    assert (True, True) in seen or {(True, False), (False, True)} <= seen
    body = get(
        analyst,
        "summary",
        date_from=start,
        date_to=start + timedelta(days=14),
        customer=newcomer.pk,
    )
    assert (
        body["current"]["new_customers"] == 1
        and body["current"]["repeat_customer_rate"] == "100.00"
    )


@pytest.mark.django_db
def test_customer_lifetime_endpoint(analyst, dataset):
    expected = {row[0]: row for row in oracle_lifetimes()}
    for customer in dataset.customers:
        body = get(analyst, f"customers/{customer.pk}")
        cid, first, last, orders, revenue, _second = expected[customer.pk]
        assert body == {
            "currency": "USD",
            "customer_id": cid,
            "first_sale_day": first.isoformat(),
            "last_sale_day": last.isoformat(),
            "orders": orders,
            "revenue": revenue,
            "average_order_value": str(q2(Decimal(revenue) / orders)),
        }

    never = make_customer()
    body = get(analyst, f"customers/{never.pk}")
    assert (body["orders"], body["first_sale_day"], body["average_order_value"]) == (0, None, None)
    assert analyst.get("/api/analytics/customers/99999999/").status_code == 404


# --- CSV of every report ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path, params, rows_of",
    [
        (
            "summary",
            {},
            lambda b, h: [
                [k, b["current"][k], b["previous"][k], b["change_pct"][k]] for k in b["current"]
            ],
        ),
        ("revenue", {"interval": "week"}, lambda b, h: [[p[c] for c in h] for p in b["points"]]),
        ("top-products", {"limit": 5}, lambda b, h: [[r[c] for c in h] for r in b["results"]]),
        ("top-customers", {"by": "orders"}, lambda b, h: [[r[c] for c in h] for r in b["results"]]),
        (
            "breakdown",
            {"dimension": "country"},
            lambda b, h: [[r[c] for c in h] for r in b["results"]],
        ),
        ("cohorts", {}, None),
        ("rfm", {}, lambda b, h: [[x[c] for c in h] for x in b["segments"]]),
    ],
)
def test_every_report_downloads_as_csv_with_the_same_numbers(
    analyst, dataset, path, params, rows_of
):
    import csv
    import io

    params = {"date_from": dataset.first_day, "date_to": dataset.last_day, **params}
    body = get(analyst, path, **params)
    response = analyst.get(f"/api/analytics/{path}/", {**params, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(table) > 1
    if rows_of is None:  # cohorts: checked cell by cell above
        return
    expected = [["" if v is None else str(v) for v in row] for row in rows_of(body, table[0])]
    assert table[1:] == expected


# --- Dashboard sections -------------------------------------------------------------------------


@pytest.mark.django_db
def test_dashboard_shows_retention_rfm_and_bought_together(dataset):
    from tests.analytics.test_dashboard import staff_client

    client = staff_client()
    params = {"date_from": dataset.first_day, "date_to": dataset.last_day}
    page = client.get("/dashboard/", params)
    html = page.content.decode()
    assert page.status_code == 200
    cohorts = get(client, "cohorts", **params)
    assert "Retention by monthly cohort" in html
    for cohort in cohorts["results"]:
        assert f'<td>{cohort["cohort"]}</td><td class="num">{cohort["customers"]}</td>' in html
    assert "Customer segments (RFM)" in html and "Can&#x27;t lose" in html
    assert "Bought together" not in html  # only with a product chosen
    product = dataset.products[0]
    html = client.get("/dashboard/", {**params, "product": product.pk}).content.decode()
    basket = get(client, "basket", **params, product=product.pk)
    assert "Bought together with this product" in html
    assert basket["results"] and all(row["sku"] in html for row in basket["results"])
    assert "Retention by monthly cohort" not in html  # per customer: not with a product filter


@pytest.mark.django_db
def test_admin_lists_customer_lifetimes_read_only(dataset):
    from tests.analytics.test_dashboard import staff_client

    client = staff_client()
    page = client.get("/admin/analytics/customerlifetime/")
    assert page.status_code == 200
    html = page.content.decode()
    for row in oracle_lifetimes():
        assert row[4] in html.replace(",", "")  # revenue
    row = CustomerLifetime.objects.first()
    assert client.get(f"/admin/analytics/customerlifetime/{row.pk}/change/").status_code == 200
    assert (
        client.post(
            f"/admin/analytics/customerlifetime/{row.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert client.get("/admin/analytics/customerlifetime/add/").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["summary", "cohorts", "rfm", "basket"])
def test_an_unknown_format_is_a_400_naming_it(analyst, path):
    response = analyst.get(f"/api/analytics/{path}/", {"format": "xlsx"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "format" in str(response.json())


@pytest.mark.django_db
def test_cohorts_survive_a_lifetime_table_out_of_step(analyst, dataset):
    """Written behind the services' back (until rebuild_rollups): an answer, not a 500."""
    early = dataset.first_day - timedelta(days=60)
    CustomerLifetime.objects.filter(customer=dataset.customers[0]).update(first_day=early)
    body = get(analyst, "cohorts", date_from=early, date_to=dataset.last_day)
    stray = body["results"][0]
    assert stray["start"] == early.replace(day=1).isoformat()
    assert stray["customers"] == 0 and stray["periods"][0]["retention_pct"] is None
    rollups_rebuild()  # puts the row right again
    assert lifetime_rows() == oracle_lifetimes()


@pytest.mark.django_db
@pytest.mark.embedded
def test_second_day_follows_the_two_latest_completed_sales(local_time_zone):
    """CustomerLifetime.second_day: the second-latest completed sale's day, the last day itself
    when two sales share it, none with a single sale; kept through cancels, moves, deletes."""
    product = make_product(price="10.00", cost="4.00", stock=1_000)
    customer = make_customer()

    def second_day():
        return CustomerLifetime.objects.get(customer=customer).second_day

    def sell(day):
        return make_sale(items=[(product, 1)], customer=customer, sold_at=at(day, 12))

    first = sell(date(2025, 3, 1))
    assert second_day() is None
    latest = sell(date(2025, 3, 9))
    assert second_day() == date(2025, 3, 1)
    same_day = sell(date(2025, 3, 9))
    assert second_day() == date(2025, 3, 9)  # two sales on the last day
    sale_cancel(sale=same_day)
    assert second_day() == date(2025, 3, 1)
    sell(date(2025, 3, 5))
    assert second_day() == date(2025, 3, 5)
    sale_update(sale=latest, sold_at=at(date(2025, 3, 2), 12))  # no longer the latest
    assert second_day() == date(2025, 3, 2)
    sale_delete(sale=first)
    assert second_day() == date(2025, 3, 2)
    sale_delete(sale=latest)
    assert second_day() is None
    assert lifetime_rows() == oracle_lifetimes()
