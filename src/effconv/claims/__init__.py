"""Claims and verdicts: the six verdicts, the rules that decide them, and the chapters' ledgers."""

from effconv.claims.ledger import COLUMNS, KINDS, ClaimsTable, load_ledger
from effconv.claims.rules import (Grade, combine, grade_bound, grade_change, grade_count, grade_effect,
                                  grade_equivalence, grade_setting, grade_timing, mean_interval)
from effconv.claims.verdicts import DEFINITIONS, VERDICTS

__all__ = ["COLUMNS", "KINDS", "ClaimsTable", "load_ledger", "Grade", "combine", "grade_bound", "grade_change",
           "grade_count", "grade_effect", "grade_equivalence", "grade_setting", "grade_timing", "mean_interval",
           "DEFINITIONS", "VERDICTS"]
