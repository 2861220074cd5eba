"""A `--set` value must have its field's type as Dagster's run config checks it: refused
before the run (exit 2, one line) rather than by Dagster with a traceback."""

import pytest
from dagster._config import validate_config

from orchestrator_assets.cli import main
from orchestrator_assets.run_parameters import PARAMETER_GROUPS, ParameterError, overrides_from_mapping, parse_overrides


def test_a_float_for_an_integer_parameter_is_refused():
    with pytest.raises(ParameterError, match=r"stock\.horizon_days: expected int, got float 30\.0"):
        parse_overrides(["stock.horizon_days=30.0"])


@pytest.mark.parametrize(
    "assignment",
    ["stock.horizon_days=true", "knapsack.alternatives=1", 'knapsack.categories=[1]', "stock.history_days=\"90\""],
)
def test_values_pydantic_would_coerce_are_refused(assignment):
    with pytest.raises(ParameterError):
        parse_overrides([assignment])


def test_an_integer_is_a_valid_float():
    assert parse_overrides(["stock.alpha=1"]) == {"stock": {"alpha": 1}}


def test_reassort_run_refuses_a_float_horizon_with_one_line_and_exit_2(project_env, capsys):
    status = main(["run", "--date", "2026-01-01", "--set", "stock.horizon_days=30.0"])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.strip().splitlines() == [
        "reassort run: invalid value: stock.horizon_days: expected int, got float 30.0"
    ]
    assert "Traceback" not in captured.out + captured.err


CANDIDATES = [0, 1, 30, 30.0, 0.5, 1e-9, True, False, "14", "greedy", "sba", "highs", "FIBRE", ["FIBRE"], [1], None]


@pytest.mark.parametrize("group", sorted(PARAMETER_GROUPS))
def test_every_value_accepted_here_is_accepted_by_dagster_run_config(group):
    """The refusal happens here or nowhere: Dagster's own config check never sees a value we let through."""
    schema = PARAMETER_GROUPS[group].to_config_schema().config_type
    for field in PARAMETER_GROUPS[group].model_fields:
        for value in CANDIDATES:
            try:
                overrides = overrides_from_mapping({f"{group}.{field}": value})
            except ParameterError:
                continue
            verdict = validate_config(schema, overrides[group])
            assert verdict.success, f"{group}.{field}={value!r} passed here but Dagster refuses it: {verdict.errors}"
