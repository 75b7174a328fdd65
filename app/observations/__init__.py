"""Field observations (调查记录): presence and absence records, their checks, flags and review."""
