"""PeerBot's benchmarks in one run: the floor and PeerBot side by side, the broadcast, and
PeerBot at scale; all against the fake Bot API server (nothing reaches Telegram).

    python -m bench.run            (or: python bench/run.py)
    python -m bench.run --quick    (small sizes, for a try-out; the figures mean little)
    python -m bench.run --json results.json

Prints each part's lines as it goes, then a summary in Markdown (the figures of
BENCHMARKS.md) with every target and whether it was met. Takes about four minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import broadcast, flood, latency, scale
from bench.common import table
from bot.clock import SystemClock

TARGETS = {
    "p50_ratio": 2.0,  # per-update p50 at most 2x the floor
    "p99_ms": 50.0,
    "memory_ratio": 2.0,
    "start_seconds": 3.0,  # at scale
    "command_ms": 200.0,  # at scale
}


def machine(now: datetime) -> dict[str, Any]:
    """The machine the figures were taken on, and when (`now`, from the caller's clock)."""
    total_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "date": now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "memory_gib": round(total_kb / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run_all(quick: bool = False) -> dict[str, Any]:
    # A benchmark's figures are of this machine at this moment: the real clock.
    results: dict[str, Any] = {"machine": machine(SystemClock().now()), "quick": quick}
    print("1. The floor and PeerBot side by side", flush=True)
    sizes = (
        latency.Sizes(people=60, greetings=40, polls=30, taps=30, tappers=10, baseline=20)
        if quick
        else latency.Sizes()
    )
    results["side_by_side"] = latency.main(sizes)
    print("2. Broadcast", flush=True)
    results["broadcast"] = broadcast.main(recipients=100 if quick else 1000, baselines=True)
    print("3. A flood of 40 messages beside a volunteer's /pause", flush=True)
    results["flood"] = flood.main(samples=3 if quick else 5)
    print("4. Scale", flush=True)
    results["scale"] = (
        scale.main(volunteers=1000, matches=500, samples=5) if quick else scale.main()
    )
    return results


def _ok(met: bool) -> str:
    return "yes" if met else "**no**"


def summary(results: dict[str, Any]) -> str:
    """The figures as Markdown, with the targets."""
    m = results["machine"]
    side = results["side_by_side"]
    floor, ours = side["floor"], side["peerbot"]
    lines = [
        f"Run {m['date']} on {m['cpus']} CPUs, {m['memory_gib']} GiB, Python {m['python']} "
        f"({m['platform']}){' - QUICK sizes' if results.get('quick') else ''}.",
        "",
        "**The floor and PeerBot side by side** (each a process; people act one at a time at "
        f"{side['pace_per_second']:.0f} updates a second, each greeting from another of "
        f"{side['sizes']['people']} group members)",
        "",
    ]
    rows = [
        [
            "start to first getUpdates",
            f"{floor['start_seconds']:.2f} s",
            f"{ours['start_seconds']:.2f} s",
            f"{ours['start_seconds'] / floor['start_seconds']:.1f}x",
            "",
            "",
        ],
        [
            "memory (RSS) after start",
            f"{floor['rss_start_mb']:.0f} MiB",
            f"{ours['rss_start_mb']:.0f} MiB",
            f"{ours['rss_start_mb'] / floor['rss_start_mb']:.1f}x",
            "",
            "",
        ],
    ]
    memory_ratio = ours["rss_end_mb"] / floor["rss_end_mb"]
    rows.append(
        [
            f"memory after {floor['updates_handled']:,} / {ours['updates_handled']:,} updates",
            f"{floor['rss_end_mb']:.0f} MiB",
            f"{ours['rss_end_mb']:.0f} MiB",
            f"{memory_ratio:.1f}x",
            f"<= {TARGETS['memory_ratio']:.0f}x",
            _ok(memory_ratio <= TARGETS["memory_ratio"]),
        ]
    )
    for key, label in (
        ("greeting", "/start (floor: /ping)"),
        ("poll_answer", "poll answer, then /ping"),
        ("button_tap", "button tap"),
        ("follow_up_alone", "/ping alone (PeerBot: its fallback)"),
    ):
        f, o = floor[key], ours[key]
        p50_ratio = o["p50_ms"] / f["p50_ms"] if f["p50_ms"] else 0.0
        rows.append(
            [
                f"{label}, p50 ({o['count']} updates)",
                f"{f['p50_ms']:.1f} ms",
                f"{o['p50_ms']:.1f} ms",
                f"{p50_ratio:.1f}x",
                f"<= {TARGETS['p50_ratio']:.0f}x",
                _ok(p50_ratio <= TARGETS["p50_ratio"]),
            ]
        )
        rows.append(
            [
                f"{label}, p99",
                f"{f['p99_ms']:.1f} ms",
                f"{o['p99_ms']:.1f} ms",
                f"{o['p99_ms'] / f['p99_ms']:.1f}x" if f["p99_ms"] else "-",
                f"< {TARGETS['p99_ms']:.0f} ms",
                _ok(o["p99_ms"] < TARGETS["p99_ms"]),
            ]
        )
    f, o = floor["poll_answer_alone_estimate"], ours["poll_answer_alone_estimate"]
    rows.append(
        [
            "poll answer alone, estimated p50 / p99",
            f"{f['p50_ms']:.1f} / {f['p99_ms']:.1f} ms",
            f"{o['p50_ms']:.1f} / {o['p99_ms']:.1f} ms",
            "",
            "",
            "",
        ]
    )
    lines.append(
        table(rows, ["", "floor (bare PTB)", "PeerBot", "ratio", "target", "met"]),
    )
    lines += ["", "**Broadcast** (fake Bot API enforcing Telegram's flood limits)", ""]
    lines.append(
        table(
            [
                [
                    b["name"],
                    str(b["recipients"]),
                    f"{b['wall_seconds']:.1f} s",
                    f"{b['per_second']:.1f}/s",
                    f"{b['of_ceiling']:.0%}",
                    str(b["too_many_requests"]),
                    str(b["lost"]),
                    str(b["duplicated"]),
                ]
                for b in results["broadcast"]
            ],
            ["", "recipients", "time", "rate", "of 30/s", "429s", "lost", "duplicated"],
        )
    )
    for b in results["broadcast"]:
        if b.get("reply_seconds"):
            before, during = b["reply_seconds"]
            lines += [
                "",
                f"A volunteer's `/help` during {b['name']}: answered in "
                f"{during * 1000:.0f} ms ({before * 1000:.0f} ms before it started).",
            ]
    f = results.get("flood") or {}
    lines += [] if not f else [
        "",
        f"**Fair handling** (`peerbot run`; a volunteer's `/pause` while someone sends "
        f"{flood.FLOOD} messages at once; target: delayed by less than "
        f"{flood.PROMISED_SECONDS:.0f} s)",
        "",
        table(
            [
                ["no flood (median of samples)", f"{f['quiet_p50_s'] * 1000:.0f} ms", "", ""],
                *[
                    [
                        f"a {who}'s flood",
                        f"{f[f'{who}_flood_s'] * 1000:.0f} ms",
                        f"+{(f[f'{who}_flood_s'] - f['quiet_p50_s']) * 1000:.0f} ms",
                        _ok(f[f"{who}_flood_s"] - f["quiet_p50_s"] < flood.PROMISED_SECONDS),
                    ]
                    for who in ("stranger", "member")
                ],
            ],
            ["", "answer to /pause", "delay", "met"],
        ),
    ]
    s = results["scale"]
    rows_total = sum(s["rows"].values())
    lines += [
        "",
        f"**Scale** ({s['volunteers']:,} volunteers, {s['matches']:,} matches, a year of "
        f"meetings: {rows_total:,} rows, {s['database_mb']} MiB of SQLite, seeded in "
        f"{s['seed_seconds']} s)",
        "",
    ]
    matches = s["matches_overview"]
    command_rows = [
        [
            "`peerbot run`: start to first getUpdates",
            f"{s['start_seconds']:.2f} s",
            f"< {TARGETS['start_seconds']:.0f} s",
            _ok(s["start_seconds"] < TARGETS["start_seconds"]),
        ],
        ["memory (RSS) after start", f"{s['rss_start_mb']:.0f} MiB", "", ""],
        [
            "memory after the commands (peak)",
            f"{s['rss_end_mb']:.0f} MiB ({s['peak_rss_mb']:.0f})",
            "",
            "",
        ],
        [
            "scheduling pass, first (plans 8 weeks for every match, arms reminders, retention)",
            f"{s['first_pass_seconds']:.2f} s",
            "",
            "",
        ],
        ["scheduling pass, usual", f"{s['usual_pass_seconds'] * 1000:.0f} ms", "", ""],
    ]
    for key in ("meetings", "mydata"):
        c = s[key]
        command_rows.append(
            [
                f"`/{key}` p50 / p99 ({c['count']} volunteers)",
                f"{c['p50_ms']:.0f} / {c['p99_ms']:.0f} ms",
                f"< {TARGETS['command_ms']:.0f} ms",
                _ok(c["p99_ms"] < TARGETS["command_ms"]),
            ]
        )
    command_rows.append(
        [
            "`/matches` (coordinator), first message",
            f"{matches['first_ms']:.0f} ms",
            f"< {TARGETS['command_ms']:.0f} ms",
            _ok(matches["first_ms"] < TARGETS["command_ms"]),
        ]
    )
    command_rows.append(
        [
            f"`/matches`: messages it takes (sent in the first {matches['watched_seconds']:.0f} s)",
            f"about {matches['messages_needed']} ({matches['messages']})",
            "",
            "",
        ]
    )
    if matches.get("document_ms") is not None:
        command_rows.append(
            [
                "`/matches`: the whole overview as a document",
                f"{matches['document_ms']:.0f} ms",
                "",
                "",
            ]
        )
    meanwhile = matches["volunteer_meanwhile_ms"]
    command_rows.append(
        [
            "a volunteer's `/meetings` sent just after `/matches`",
            f"{meanwhile:.0f} ms"
            if meanwhile is not None
            else f"not answered within {matches['watched_seconds']:.0f} s",
            f"< {TARGETS['command_ms']:.0f} ms",
            _ok(meanwhile is not None and meanwhile < TARGETS["command_ms"]),
        ]
    )
    lines.append(table(command_rows, ["", "PeerBot", "target", "met"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a try-out")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    arguments = parser.parse_args(argv)
    results = run_all(arguments.quick)
    print()
    print(summary(results))
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2, default=str))
    return results


if __name__ == "__main__":
    main()
