"""Claims and verdicts: the six verdicts, the rules that decide them, and the chapters' ledgers."""

from effconv.claims.ledger import COLUMNS, HOLM_COLUMNS, KINDS, ClaimsTable, load_ledger
from effconv.claims.multiplicity import ALPHA, holm_adjust, holm_grades, holm_verdict, paired_p_values
from effconv.claims.rules import (DIRECTION, SIZE, Grade, combine, grade_bound, grade_change, grade_count,
                                  grade_effect, grade_equivalence, grade_setting, grade_timing, mean_interval,
                                  paired_differences, round_half_away, t_p_value)
from effconv.claims.verdicts import DEFINITIONS, VERDICTS

__all__ = ["COLUMNS", "HOLM_COLUMNS", "KINDS", "ClaimsTable", "load_ledger", "ALPHA", "holm_adjust", "holm_grades",
           "holm_verdict", "paired_p_values", "DIRECTION", "SIZE", "Grade", "combine", "grade_bound", "grade_change",
           "grade_count", "grade_effect", "grade_equivalence", "grade_setting", "grade_timing", "mean_interval",
           "paired_differences", "round_half_away", "t_p_value", "DEFINITIONS", "VERDICTS"]
