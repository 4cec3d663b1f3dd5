"""How things are observed: thin I/O against Google auth, Firestore and S3.

Each function here makes one kind of call with an explicit timeout and returns plain
data; judging what came back is the checks' business, in pure functions.
"""
