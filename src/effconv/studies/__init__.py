"""One module per book chapter: its experiments, tables, plots and claims.

Chapter notebooks stay thin; they call into these modules. Chapter ids: ``splitting``,
``shufflenet``, ``acnet``, ``dac``, ``versatile``.
"""

CHAPTERS = ("splitting", "shufflenet", "acnet", "dac", "versatile")
