"""Parse a gcloud config file the way gcloud does, offline, and say what it would not take.

    <gcloud's python> gcloud_parse.py logging.LogMetric FILE
    <gcloud's python> gcloud_parse.py monitoring.AlertPolicy FILE

Run with the Google Cloud CLI's own interpreter and PYTHONPATH=<sdk>/lib (the test does).
`gcloud logging metrics create --config-from-file` and `gcloud monitoring policies create
--policy-from-file` turn the YAML into these same apitools messages (DictToMessage /
PyValueToMessage); apitools keeps a field it does not know, or an enum value it does not
know, as "unrecognized" instead of failing, and the API would then reject or drop it.
This prints one line per such field (empty output: the file is what gcloud sends) and
exits 1 when there is any, 2 when the file does not parse at all.
"""

from __future__ import annotations

import json
import sys

# Only in the Google Cloud CLI's own lib/ (PYTHONPATH), never installed in the venv.
from apitools.base.protorpclite import messages  # type: ignore[import-not-found]
from apitools.base.py import encoding  # type: ignore[import-not-found]
from googlecloudsdk.core import yaml  # type: ignore[import-not-found]

MODULES = {
    "logging": "googlecloudsdk.generated_clients.apis.logging.v2.logging_v2_messages",
    "monitoring": "googlecloudsdk.generated_clients.apis.monitoring.v3.monitoring_v3_messages",
}


def problems(message: messages.Message, where: str) -> list[str]:
    found: list[str] = []
    for name in message.all_unrecognized_fields():
        found.append(f"{where}.{name}: not a field of {type(message).__name__}")
    for field in message.all_fields():
        value = message.get_assigned_value(field.name)
        if value is None:
            continue
        values = value if field.repeated else [value]
        for index, item in enumerate(values):
            path = f"{where}.{field.name}" + (f"[{index}]" if field.repeated else "")
            if isinstance(item, messages.Message):
                found.extend(problems(item, path))
    return found


def main() -> int:
    service, _, type_name = sys.argv[1].partition(".")
    module = __import__(MODULES[service], fromlist=[type_name])
    message_type = getattr(module, type_name)
    with open(sys.argv[2], encoding="utf-8") as stream:
        data = yaml.load(stream.read())
    try:
        message = encoding.PyValueToMessage(message_type, data)
    except Exception as error:  # what gcloud reports as "Could not parse YAML or JSON"
        print(f"does not parse as {type_name}: {error}")
        return 2
    found = problems(message, type_name)
    for line in found:
        print(line)
    print(json.dumps(encoding.MessageToPyValue(message)), file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
