"""Reads /metrics text from stdin with the Prometheus project's own parsers
(prometheus_client: the OpenMetrics parser, strict, and the classic text
parser) and prints the samples as JSON: {"name{labels}": value, ...}.
Exits non-zero, with the parser's message, on anything they refuse."""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as classic

text = sys.stdin.read()
samples = {}
for family in openmetrics(text):
    for sample in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
        samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
# The classic parser (what older scrapers use) must read it too.
classic_count = sum(len(family.samples) for family in classic(text))
if classic_count == 0:
    sys.exit("the classic parser found no samples")
json.dump(samples, sys.stdout)
