"""VALIDATION_FINALE (SPEC §6): the asset checks of every input and output table.

Where each part lives:

- check_registry.py  every check of a table, both kinds, in one list (`declarations`):
                     its suite checks, then its cross-table checks (`CROSS_CHECKS`, with
                     their adapters); start here to find a check by name;
- suites.py          the suites (`TABLE_SUITES`), their rules as GX expectations
                     (`expectation_rules`) and the suite check names with their
                     descriptions (`CHECK_DESCRIPTIONS`): each rule names its check;
- polars_rules.py    the suites' rules in Polars: the default engine;
- gx_rules.py        the suites' rules in great-expectations: the reference engine
                     (`validation.engine=great_expectations`), same verdicts;
- rule_verdicts.py   a suite's failing rules grouped into its checks' outcomes (both engines);
- cross_checks.py    the cross-table comparisons, plain Polars;
- check_inputs.py    what a check sees on one day (its rows, the other tables, thresholds);
- check_results.py   one check's outcome and the history table validation.check_results;
- config.py          the thresholds of the soft checks and the engine (`ValidationSettings`);
- checks.py          the Dagster wiring: check specs of each asset, evaluated in its step.
"""
