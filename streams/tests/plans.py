"""PostgreSQL's plans of the queries a piece of code runs, for tests that a query stays one pass
over its data however large it grows."""

from django.db import connection

EXPLAINED = ("SELECT", "WITH", "DELETE", "UPDATE")


def per_row_subplans(plan: dict) -> list[str]:
    """The subqueries of a plan that run again for every row of their parent (not hashed once):
    `x NOT IN (subquery)`, or `IN` where no join can take it, once the subquery's rows no longer
    fit work_mem as a hash."""
    found = [plan["Subplan Name"]] if plan.get("Parent Relationship") == "SubPlan" else []
    found = [name for name in found if not name.startswith("hashed")]
    return found + [name for child in plan.get("Plans", []) for name in per_row_subplans(child)]


def queries_with_per_row_subplans(captured: list[dict]) -> dict[str, list[str]]:
    """Of the queries captured (`CaptureQueriesContext.captured_queries`), each that plans a
    subquery per row, by the start of its text. Planned, not run (EXPLAIN without ANALYZE)."""
    found = {}
    with connection.cursor() as cursor:
        for query in captured:
            if query["sql"].lstrip().upper().startswith(EXPLAINED):
                cursor.execute(f"EXPLAIN (FORMAT JSON) {query['sql']}")
                if names := per_row_subplans(cursor.fetchone()[0][0]["Plan"]):
                    found[query["sql"][:200]] = names
    return found
