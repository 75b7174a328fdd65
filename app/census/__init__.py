"""The census a bureau signs: whose records it covers (scope) and how its figures are counted (counting).

docs/census.md explains the rules in words.
"""
