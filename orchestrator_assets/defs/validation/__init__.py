"""VALIDATION_FINALE (SPEC §6): the asset checks of every input and output table.

Where each part lives:

- check_registry.py  every check of a table, both kinds, in one list (`declarations`):
                     its GX checks, then its cross-table checks (`CROSS_CHECKS`, with
                     their adapters); start here to find a check by name;
- suites.py          the GX suites (`TABLE_SUITES`) and the GX check names with their
                     descriptions (`CHECK_DESCRIPTIONS`): each rule names its check;
- cross_checks.py    the cross-table comparisons, plain Polars;
- check_inputs.py    what a check sees on one day (its rows, the other tables, thresholds);
- check_results.py   one check's outcome and the history table validation.check_results;
- config.py          the thresholds of the soft checks (`ValidationConfig`);
- checks.py          the Dagster wiring: one multi-asset-check op per table.
"""
