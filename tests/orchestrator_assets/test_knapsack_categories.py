"""knapsack.categories naming a category no article has fails the knapsack step before
anything is solved, naming the parameter and the known categories (issue 13 point 4: it
used to end in a ColumnNotFoundError on an empty plan)."""

import dagster as dg

from orchestrator_assets.definitions import build_definitions
from orchestrator_assets.run_parameters import run_config_for
from tests.conftest import HANDMADE_DAY, write_handmade_dataset
from tests.orchestrator_assets.pipeline_runs import run_partition, warehouse_root


def test_an_unknown_category_fails_naming_the_parameter_and_the_known_categories(project_env):
    write_handmade_dataset(project_env, [HANDMADE_DAY])
    assets = list(build_definitions(project_env, warehouse_root(project_env)).assets)
    config = run_config_for({"knapsack": {"categories": ["FIBRE", "FIBER"]}}, assets)
    result = run_partition(project_env, HANDMADE_DAY.isoformat(), dg.DagsterInstance.ephemeral(),
                           run_config=config, raise_on_error=False)
    assert not result.success
    failures = {event.step_key: event for event in result.get_step_failure_events()}
    assert set(failures) == {"knapsack"}
    message = failures["knapsack"].step_failure_data.user_failure_data.description
    assert message == (
        f"knapsack.categories: unknown category FIBER; the categories of raw.articles on {HANDMADE_DAY} are CUIVRE, FIBRE"
    )
