"""Survey campaigns: plans, units and assignees, 踏查 routes, plots and quadrats, coverage.

See docs/surveys.md.
"""
