"""One Markdown table row from an h2load --log-file: throughput and latency percentiles.

    summarize.py PATH-LABEL PROTOCOL DURATION-SECONDS LOG-FILE

The log has one line per request: start time (µs since the epoch), HTTP status, duration (µs). A request
still in flight when h2load stops is logged with status 0 (h2load's own summary does not count it): it is
left out, as are requests that got no answer at all, so they show as missing throughput, not as errors.
"""

import sys


def percentile(sorted_values, fraction):
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def main():
    label, protocol, duration, log = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    durations, errors = [], 0
    with open(log) as lines:
        for line in lines:
            _, status, micros = line.split("\t")
            if status == "0":
                continue
            durations.append(int(micros) / 1000)
            errors += not status.startswith("2")
    if not durations:
        sys.exit(f"{label} ({protocol}): no request completed")
    durations.sort()
    row = [label, protocol, f"{len(durations) / duration:,.0f}"]
    row += [f"{percentile(durations, f):.2f} ms" for f in (0.50, 0.75, 0.90, 0.99)]
    row.append(str(errors))
    print("| " + " | ".join(row) + " |")


main()
