"""`preflight profile check-engines`: the profile against the engines' code, read statically.

scan (ast -> facts with file:line) -> reach (what the app's entry module runs) -> compare
(facts + profile -> differences, pure) -> render (text, JSON). The engines' code is parsed,
never imported or run. This package uses only `preflight.contract.profile` and the standard library.
"""
