"""crd.printing: Table columns and cells from additionalPrinterColumns (upstream's
CRD table convertor)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pyk8s.api.crd import printing
from pyk8s.api.printers import descriptions

from .crd_examples import CRONTAB, cron

JSON = dict[str, Any]
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_crontab_columns() -> None:
    table = printing.table_for_version(CRONTAB, "v1")
    assert table.column_definitions() == [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": descriptions.NAME,
            "priority": 0,
        },
        {
            "name": "Spec",
            "type": "string",
            "format": "",
            "description": "The cron spec defining the interval a CronJob is run",
            "priority": 0,
        },
        {
            "name": "Replicas",
            "type": "integer",
            "format": "",
            "description": "The number of jobs launched by the CronJob",
            "priority": 0,
        },
        {
            "name": "Ready",
            "type": "string",
            "format": "",
            "description": 'Custom resource definition column (in JSONPath format): .status.conditions[?(@.type=="Ready")].status',
            "priority": 0,
        },
        {
            "name": "Age",
            "type": "date",
            "format": "",
            "description": "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp",
            "priority": 0,
        },
    ]


def test_crontab_cells() -> None:
    obj = cron({"cronSpec": "* * * * */5", "replicas": 2})
    obj["metadata"]["creationTimestamp"] = ago(330)
    obj["status"] = {
        "conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]
    }
    assert printing.table_for_version(CRONTAB, "v1").row_cells(obj, NOW) == [
        "my-new-cron-object",
        "* * * * */5",
        2,
        "True",
        "5m30s",
    ]


def test_missing_values_are_null() -> None:
    obj = cron({})
    assert printing.table_for_version(CRONTAB, "v1").row_cells(obj, NOW) == [
        "my-new-cron-object",
        None,
        None,
        None,
        None,
    ]


def test_default_columns_are_name_and_age() -> None:
    table = printing.table_for([])
    assert [(c["name"], c["type"], c["description"]) for c in table.column_definitions()] == [
        ("Name", "string", descriptions.NAME),
        ("Age", "date", descriptions.CREATION_TIMESTAMP),
    ]
    obj = cron()
    obj["metadata"]["creationTimestamp"] = ago(3 * 86400 + 7200)
    assert table.row_cells(obj, NOW) == ["my-new-cron-object", "3d2h"]


@pytest.mark.parametrize(
    ("type_", "value", "cell"),
    [
        pytest.param("string", "x", "x", id="string"),
        pytest.param("string", 3, "3", id="string-of-int"),
        pytest.param("string", 1.5, "1.5", id="string-of-float"),
        pytest.param("string", True, "true", id="string-of-bool"),
        pytest.param("string", None, "<no value>", id="string-of-null"),
        pytest.param(
            "string",
            {"b": 1, "a": "<x>"},
            '{"a":"\\u003cx\\u003e","b":1}',
            id="string-of-object-json",
        ),
        pytest.param("string", [1, 2], "[1,2]", id="string-of-list-json"),
        pytest.param("integer", 3, 3, id="integer"),
        pytest.param("integer", 3.9, 3, id="integer-truncates-float"),
        pytest.param("integer", "3", None, id="integer-of-string"),
        pytest.param("integer", True, None, id="integer-of-bool"),
        pytest.param("number", 3, 3.0, id="number-of-int"),
        pytest.param("boolean", False, False, id="boolean"),
        pytest.param("boolean", "true", None, id="boolean-of-string"),
        pytest.param("date", ago(45), "45s", id="date"),
        pytest.param("date", "", "<unknown>", id="date-empty"),
        pytest.param("date", "0001-01-01T00:00:00Z", "<unknown>", id="date-zero"),
        pytest.param("date", "yesterday", "<invalid>", id="date-garbage"),
        pytest.param("date", 5, None, id="date-of-int"),
    ],
)
def test_cells_by_type(type_: str, value: Any, cell: Any) -> None:
    table = printing.table_for([{"name": "V", "type": type_, "jsonPath": ".spec.v"}])
    obj = cron({"v": value})
    assert table.row_cells(obj, NOW)[1] == cell


def test_priority_and_format_are_kept() -> None:
    table = printing.table_for(
        [
            {
                "name": "Img",
                "type": "string",
                "format": "password",
                "priority": 1,
                "jsonPath": ".spec.image",
            }
        ]
    )
    [_, col] = table.column_definitions()
    assert (col["format"], col["priority"]) == ("password", 1)


def test_unparseable_column_path() -> None:
    with pytest.raises(printing.ColumnError, match="unrecognized column definition"):
        printing.table_for([{"name": "X", "type": "string", "jsonPath": ".spec[?(@.a =~ /x/)]"}])
