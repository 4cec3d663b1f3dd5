"""Benchmarks for preflight: `python -m bench.run [--quick] [--out DIR]`.

Everything runs against real local infrastructure (Google's Firestore emulator and a moto
S3 server, started by `tests.servers`) and is reported as ratios measured in the same run.
"""
