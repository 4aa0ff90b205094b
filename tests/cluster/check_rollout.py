#!/usr/bin/env python3
"""Check one finished rollout of tests/cluster/run.sh against the database.

usage: check_rollout.py SUMMARY.json ASSIGNMENTS EVENTS STAGES DEVICES

SUMMARY.json  suit-sim's summary (what the devices saw acknowledged)
ASSIGNMENTS   psql -At lines "id|state" of the deployment's assignments
EVENTS        psql -At lines "id|type|data" of the deployment's events, by id
STAGES        the number of stages of the rollout
DEVICES       the number of devices in the rollout

Checks: suit-sim met no error other than cut connections and 5xx (which
it retries); every device finished its cycle and the database has each one
confirmed (suit-sim counted a cycle done only after its confirming check-in
was answered, so a missing confirmation is an acknowledged write lost);
each assignment's assignment.* events form one unbroken chain from
`pending` to its current state where every step is a move of the state
machine (docs/design.md, "The transition table"; the server's own moves:
pending -> delivered, any open state -> timed_out/canceled/skipped); each
stage after the first opened exactly once, the deployment completed
exactly once, and it never paused. Prints what is wrong and exits 1.
"""
import json
import sys

FORWARD = ["delivered", "downloading", "downloaded", "installing", "installed"]
FINAL = {"confirmed", "failed"}
SERVER_ENDS = {"timed_out", "canceled", "skipped"}


def valid_move(frm, to):
    if frm == "pending":
        return to == "delivered" or to in SERVER_ENDS
    if frm in FORWARD:
        later = FORWARD[FORWARD.index(frm) + 1:]
        return to in later or to in FINAL or to in SERVER_ENDS
    return False  # confirmed, failed and the server's ends are final here


def main():
    summary_path, assignments_path, events_path, stages, devices = sys.argv[1:6]
    stages, devices = int(stages), int(devices)
    problems = []
    with open(summary_path) as f:
        summary = json.load(f)
    current = {}
    with open(assignments_path) as f:
        for line in f:
            if line.strip():
                aid, state = line.rstrip("\n").split("|", 1)
                current[int(aid)] = state
    chains = {}
    kinds = {}
    with open(events_path) as f:
        for line in f:
            if not line.strip():
                continue
            _eid, kind, data = line.rstrip("\n").split("|", 2)
            if kind.startswith("assignment."):
                d = json.loads(data)
                chains.setdefault(d["assignment"], []).append((d["from"], d["state"]))
            else:
                kinds.setdefault(kind, []).append(json.loads(data))

    # A device retries after a cut connection or a 503 (a node killed, the
    # database restarting), as a real one would: those are expected and
    # counted. Anything else (a digest mismatch, a refused report, a 4xx) is
    # a failure of the cluster.
    errors = summary["errors"]
    for kind, count in errors.items():
        if kind in ("total", "first", "transport"):
            continue
        if kind == "http":
            bad = {k: v for k, v in count.items() if not k.startswith("5")}
            if bad:
                problems.append("suit-sim: HTTP errors %s (%s)" % (bad, errors["first"].get("http")))
        elif count:
            problems.append("suit-sim: %d %s errors (%s)" % (count, kind, errors["first"].get(kind)))

    confirmed = sum(1 for s in current.values() if s == "confirmed")
    if len(current) != devices:
        problems.append("%d assignments, expected %d" % (len(current), devices))
    if summary["cycles_done"] != devices or summary["unfinished"] != 0:
        problems.append("suit-sim: %d cycles done, %d unfinished of %d devices"
                        % (summary["cycles_done"], summary["unfinished"], devices))
    if confirmed < summary["cycles_done"]:
        problems.append("LOST: suit-sim had %d confirmations acknowledged, the database "
                        "has %d confirmed" % (summary["cycles_done"], confirmed))
    if confirmed != devices:
        problems.append("%d of %d assignments confirmed: %s" % (
            confirmed, devices, sorted(set(current.values()))))

    for aid, state in sorted(current.items()):
        at = "pending"
        for frm, to in chains.get(aid, []):
            if frm != at:
                problems.append("assignment %d: event from %s while it was %s (a state "
                                "skipped or repeated)" % (aid, frm, at))
            elif not valid_move(frm, to):
                problems.append("assignment %d: %s -> %s is not a move of the state "
                                "machine" % (aid, frm, to))
            at = to
        if at != state:
            problems.append("assignment %d: events end at %s, the row says %s" % (aid, at, state))
    for aid in set(chains) - set(current):
        problems.append("events of assignment %d, which is not in the deployment" % aid)

    opened = sorted(d.get("stage") for d in kinds.get("deployment.stage_opened", []))
    # Stages count from 0, which opens with the deployment.
    if opened != list(range(1, stages)):
        problems.append("stage openings %s, expected each of 1..%d once" % (opened, stages - 1))
    if len(kinds.get("deployment.completed", [])) != 1:
        problems.append("%d deployment.completed events" % len(kinds.get("deployment.completed", [])))
    if kinds.get("deployment.paused"):
        problems.append("the deployment paused: %s" % kinds["deployment.paused"])

    transitions = sum(len(c) for c in chains.values())
    if problems:
        for p in problems[:40]:
            print("  " + p)
        if len(problems) > 40:
            print("  ... and %d more" % (len(problems) - 40))
        sys.exit(1)
    print("  %d assignments confirmed, %d transitions in valid chains, stages 1..%d opened "
          "once each, completed once, never paused; suit-sim: %d transport errors, HTTP "
          "errors %s" % (confirmed, transitions, stages - 1, errors.get("transport", 0), json.dumps(errors.get("http", {}))))


if __name__ == "__main__":
    main()
