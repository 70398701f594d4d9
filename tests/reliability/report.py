#!/usr/bin/env python3
"""Writes RELIABILITY.md from the figures the reliability scenarios and the fuzz run leave
in target/reliability/ (`make reliability`). Standard library only."""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

SCENARIOS = [
    ("scenario-1-duplicates", "1. Duplicate deliveries"),
    ("scenario-2-out-of-order", "2. Out-of-order deliveries"),
    ("scenario-3-faults", "3. Injected faults with Lambda's retries"),
    ("scenario-4-crash-points", "4. Crash points"),
    ("scenario-5-invalid-events", "5. Hostile input"),
    ("scenario-6-approvals", "6. Approval attacks under concurrency"),
    ("scenario-7-emulator-stopped", "7. The emulator stopped mid-run"),
    ("scenario-8-slack-ack", "8. Slack's 3-second acknowledgement at a cold start, with AWS-like latency"),
    ("scenario-9-release-group", "9. A release group under faults"),
    ("scenario-9-crash-points", "9. A release group killed after each write"),
]

# What these scenarios found, and how the code changed (not the tests).
DEFECTS = [
    ("4", "Killed after RegisterTaskDefinition, the replay registered a second revision.",
     "Every revision is tagged `slipway:deployment=<id>`; a deployment taken over from an "
     "earlier attempt looks for its tagged revision among the family's latest before "
     "registering. The SDK no longer retries RegisterTaskDefinition by itself (an attempt "
     "whose answer was lost may have registered): Slipway retries, after looking."),
    ("4", "Killed after UpdateService (or after the rollouts write that follows it), the replay "
     "answered `already-running` and left the deployment `planned` with its starting marker: "
     "ECS's events for that rollout could never be matched to it.",
     "A push whose image the service already runs completes its own interrupted deployment: "
     "the ECS deployment id is taken from the service's PRIMARY deployment, the rollouts and "
     "the record are written, the head settled."),
    ("3, 7", "AWS calls had no time limit: an endpoint that accepts a request and never answers "
     "held the invocation until Lambda killed it, with no error logged and no lease released.",
     "Every call has limits (connect 3 s, attempt 6 s, call with retries 20 s), well inside "
     "the functions' 60 s: a stuck call becomes a retryable error. A failed attempt spends at "
     "most 5 s (never past its deadline) releasing its lease, so its error reaches Lambda."),
    ("3", "A transient failure left no trace on the deployment: an event that failed all its "
     "retries (dead-lettered) left a `planned` record with nothing saying why.",
     "The attempt that stops on a transient error writes it into the record with the lease "
     "release; the rollout clears it."),
    ("3", "A push whose earlier attempts failed after claiming it, replayed once a newer push "
     "had rolled, answered `older` and left its deployment `planned` for good.",
     "The replay closes the deployment an earlier attempt left planned as `superseded`, with "
     "the reason."),
    ("5", "ECR push events with tags, repository names, ids, accounts or regions that no AWS event "
     "carries (20 000-character tags, right-to-left overrides, NUL bytes, homoglyphs) were "
     "accepted and cost 6 AWS reads each before failing.",
     "They are refused when parsed, naming the field and showing its value escaped and "
     "shortened; nothing is called."),
    ("5", "An S3 upload event under `deploy/../../prod/` parsed as a deploy for a target named "
     "`..` (the deployer then found no such target).",
     "A key whose target segment cannot be a target name is turned away when the event is "
     "parsed."),
    ("5", "Fuzzing (slack_signature) found an arithmetic overflow in Slack's timestamp check: "
     "a timestamp near i64::MIN panicked in a debug build and wrapped into a small skew in a "
     "release one; the form nonce's age had the same flaw.",
     "Both subtract saturating and compare magnitudes; unit tests keep the inputs, and the "
     "crashing input is a fuzz seed."),
    ("6", "An approver who lost the race while the winner's rollout was in flight was told "
     "\"it was approved\" without by whom, and the attempt was not audited.",
     "The answer names the decision (\"already approved by … at …\") and the attempt is "
     "audited like every other."),
]


def load(directory, name):
    path = os.path.join(directory, f"{name}.json")
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: run `make reliability` (it runs every scenario first)")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def yes(value):
    return "yes" if value else "**no**"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |")
    return "\n".join(lines)


def summary_rows(f):
    s1, s2, s3, s4, s5, s6, s7, s8, s9, s9c, fuzz = (f[k] for k, _ in SCENARIOS + [("fuzz", "")])
    group_crash_ok = all(p["tasks_started"] == 1 and p["update_service"] == ["worker", "web"]
                         and p["duplicate_revisions"] == 0 and p["run"] == "succeeded"
                         for p in s9c["points"])
    lost = f["scenario-4-lost-registration"]
    crash_ok = lost["register_task_definition"] == 1 and lost["duplicate_revisions"] == 0 and all(p["runs_pushed_image"] and p["duplicate_revisions"] == 0
                   and p["register_task_definition"] == 1 and p["ledger"]["state"] == "rolling"
                   and p["ledger"]["ecs_deployment_known"] and not p["ledger"]["starting_marker_left"]
                   and not p["ledger"]["lease_left"] for p in s4["points"])
    fuzz_inputs = sum(t["inputs"] for t in fuzz["targets"])
    fuzz_failed = [t["target"] for t in fuzz["targets"] if t["status"] != "ok"]
    race = s6["race"]
    return [
        ("1", "100 deliveries of one push, 20 at a time → 1 RegisterTaskDefinition, 1 UpdateService",
         f"{s1['register_task_definition']} Register, {s1['update_service']} Update",
         s1["register_task_definition"] == 1 and s1["update_service"] == 1),
        ("2", "20 digests in random order → ends on the newest, never steps back, ≤ 20 revisions",
         f"ends on newest: {yes(s2['ends_on_newest'])}; {s2['steps_back']} steps back; "
         f"{s2['revisions_registered']} revisions",
         s2["ends_on_newest"] and s2["steps_back"] == 0 and s2["revisions_registered"] <= 20),
        ("3", f"{s3['fault_rate']:.0%} of calls failing, {s3['pushes']} pushes / {s3['targets']} targets, "
              "Lambda's 2 retries → newest or recorded; 0 duplicates; 0 lost",
         f"{sum(s3['faults_injected'].values())} faults in {s3['calls']} calls; "
         f"{s3['duplicate_revisions']} duplicate revisions; {s3['pushes_lost_without_record']} lost; "
         f"{s3['events_dead_lettered']} dead-lettered; at 60%: "
         f"{f['scenario-3-dead-letters']['events_dead_lettered']} dead-lettered, all converged on redrive",
         s3["duplicate_revisions"] == 0 and s3["pushes_lost_without_record"] == 0
         and s3["acknowledged_but_left_planned"] == 0
         and f["scenario-3-dead-letters"]["after_redrive_targets_on_newest"] == f["scenario-3-dead-letters"]["targets"]
         and f["scenario-3-dead-letters"]["after_redrive_left_planned"] == 0
         and bool(f["scenario-3-error-recorded"]["error_in_the_ledger"])),
        ("4", "Killed after each write, event replayed → converges, no duplicates",
         f"{s4['crash_points']} crash points, all converged: {yes(crash_ok)}", crash_ok),
        ("5", "Fuzzing → 0 panics, 0 hangs; ≥ 30 invalid events → clear error, no write, acknowledged",
         f"{fuzz_inputs:,} fuzz inputs, failures: {', '.join(fuzz_failed) or 'none'}; "
         f"{s5['events']} invalid events, {sum(r['aws_writes'] for r in s5['rows'])} writes",
         not fuzz_failed and s5["events"] >= 30 and all(r["aws_writes"] == 0 for r in s5["rows"])),
        ("6", "50 simultaneous POSTs → one decision; approve racing reject → one wins, the other sees it",
         f"{s6['simultaneous_posts']['decisions_taken']} decision of 50; race: "
         f"{race['decisions_taken']} winner ({race['winner']}), {race['losers_told_the_outcome']} of 19 told",
         s6["simultaneous_posts"]["decisions_taken"] == 1 and race["decisions_taken"] == 1
         and s6["simultaneous_posts"]["tampered_refused_403"] == s6["simultaneous_posts"]["tampered_token_posts"]
         and race["losers_told_the_outcome"] == 19),
        ("7", "Emulator stopped mid-run → retryable errors meanwhile, nothing half-written after",
         f"first attempts: {', '.join(f'{v} {k}' for k, v in s7['first_attempts'].items())}; "
         f"{s7['half_written_after_retry']} half-written",
         s7["half_written_after_retry"] == 0 and set(s7["first_attempts"]) == {"retryable error"}),
        ("8", "Cold start, every AWS call AWS-slow → Slack's click answered in < 3 s",
         f"{s8['rounds']} cold starts: answered in {s8['handed_over']['median_ms']} ms median, "
         f"{s8['handed_over']['max_ms']} ms max (rolling in the request instead: "
         f"{s8['rolled_in_the_request']['median_ms']} ms median, {s8['rolled_in_the_request']['max_ms']} ms max)",
         s8["handed_over"]["max_ms"] < s8["limit_ms"]),
        ("9", f"A release group (migrate, worker, web): {s9['deliveries']} deliveries of its push with "
              f"{s9['fault_rate']:.0%} of calls failing, events at least once; killed after each write "
              "→ 1 RunTask, 1 UpdateService per service in order",
         f"{s9['faults_injected']} faults: {s9['tasks_started']} task, UpdateService "
         f"{' then '.join(s9['update_service'])}, run {s9['run']}; {s9c['played']} of "
         f"{s9c['crash_points']} crash points played, all converged: {yes(group_crash_ok)}",
         s9["tasks_started"] == 1 and s9["update_service"] == ["worker", "web"]
         and s9["run"] == "succeeded" and group_crash_ok),
    ]


def render(f, commit):
    out = []
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out.append("# Reliability\n")
    out.append(
        "Generated by `make reliability` (tests/reliability/report.py) — do not edit by hand. "
        f"Commit `{commit}`, {now}, {platform.machine()}, {os.cpu_count()} CPUs.\n")
    out.append(
        "Each scenario is an automated test against moto, with Slipway's AWS clients behind a "
        "fault-injecting proxy (`tests/common/faults.rs`) that counts every call and, at a chosen "
        "rate, answers with throttling (400 `ThrottlingException`, 429, S3's 503 `SlowDown`), 500, "
        "503, an answer held past the client's timeout (the emulator has applied the call), or a "
        "dropped connection (it has not). Lambda is played by the test: an invocation is dropped "
        "at its deadline; a failed one is retried twice, each retry after the previous attempt's "
        "deadline; an event that fails all three goes to an SQS dead-letter queue. A crash is the "
        "function's real binary (`target/debug/image-push`, under a stand-in of Lambda's Runtime "
        "API, `tests/common/runtime.rs`) killed with SIGKILL the moment the emulator has applied "
        "the chosen write. Tests run with short limits (attempt 0.8 s, call 4 s, "
        "function 8 s) so that a held answer costs a second, not six. `make test` runs the same "
        "scenarios smaller where that saves minutes (scenario 3: 20 pushes) and fuzzes 10 s per "
        "target.\n")
    out.append("## Summary\n")
    out.append(table(["#", "Claim", "Measured", "Held"],
                     [(n, claim, measured, yes(ok)) for n, claim, measured, ok in summary_rows(f)]))
    out.append("\n## Defects these scenarios found (fixed in the code)\n")
    out.append(table(["Scenario", "Defect", "Fix"], DEFECTS))

    s1 = f["scenario-1-duplicates"]
    out.append(f"\n## {SCENARIOS[0][1]}\n")
    out.append(f"{s1['deliveries']} deliveries of the same push event, {s1['concurrency']} at a time, "
               f"in {s1['seconds']:.1f} s. What each delivery answered:\n")
    out.append(table(["Result", "Deliveries"], sorted(s1["results"].items())))
    out.append(f"\nRegisterTaskDefinition calls: **{s1['register_task_definition']}**; UpdateService "
               f"calls: **{s1['update_service']}**; the service runs the pushed image: "
               f"{yes(s1['runs_pushed_image'])}; ledger: `{json.dumps(s1['ledger'])}`.\n")

    s2 = f["scenario-2-out-of-order"]
    out.append(f"\n## {SCENARIOS[1][1]}\n")
    out.append(f"Versions 1.0.1 … 1.0.20 (semver target), delivered in this order, {s2['concurrency']} "
               f"at a time: {', '.join(s2['delivery_order'])}.\n")
    out.append(f"UpdateService calls, in the order ECS received them: "
               f"{' → '.join(s2['update_service_sequence'])}. Steps back: **{s2['steps_back']}**; "
               f"revisions registered: **{s2['revisions_registered']}** (≤ 20); ends on 1.0.20: "
               f"{yes(s2['ends_on_newest'])}; dead-lettered: {s2['dead_lettered']}. Older versions "
               "arriving after a newer one was accepted are answered `older` or `superseded`; none "
               "reaches ECS.\n")

    s3 = f["scenario-3-faults"]
    out.append(f"\n## {SCENARIOS[2][1]}\n")
    out.append(f"{s3['pushes']} pushes across {s3['targets']} targets (ordered by ECR's push time), "
               f"shuffled, 10 at a time; {s3['fault_rate']:.0%} of all {s3['calls']} calls faulted; "
               f"{s3['seconds']:.1f} s. Size: {s3['size']}.\n")
    out.append(table(["Fault", "Injected"], sorted(s3["faults_injected"].items())))
    out.append("\n" + table(["Figure", "Value"], [
        ("invocations (incl. Lambda's retries)", s3["invocations"]),
        ("events that needed a retry", s3["events_retried_by_lambda"]),
        ("events dead-lettered", s3["events_dead_lettered"]),
        ("messages in the dead-letter queue", s3["dead_letter_queue_messages"]),
        ("duplicate revisions (same image twice in a family)", s3["duplicate_revisions"]),
        ("pushes lost without a record", s3["pushes_lost_without_record"]),
        ("acknowledged pushes whose deployment was left planned", s3["acknowledged_but_left_planned"]),
    ]))
    if s3["dead_letter_reasons"]:
        out.append("\nWhy the dead-lettered events failed their last attempt:\n")
        out.extend(f"- `{reason[:200]}`" for reason in s3["dead_letter_reasons"])
    out.append("\n" + table(["Target", "Ends on its newest push", "Newest dead-lettered", "Newest in the ledger"],
                            [(t["target"], yes(t["ends_on_newest"]), t["newest_dead_lettered"],
                              t["newest_in_ledger"]) for t in s3["per_target"]]))

    er = f["scenario-3-error-recorded"]
    out.append(f"\nOne push whose UpdateService is throttled on every call: after {er['attempts']} "
               f"attempts it is dead-lettered ({yes(er['dead_lettered'])}), its deployment "
               f"`{er['state_while_dead_lettered']}` with no lease left and the error recorded:\n")
    out.append(f"> {er['error_in_the_ledger']}\n")
    out.append(f"Redriven once ECS answers: `{er['after_redrive']['state']}`, error cleared "
               f"({yes(not er['after_redrive']['error_recorded'])}), {er['revisions']} revisions in "
               "the family (the base and one new).\n")

    dl = f["scenario-3-dead-letters"]
    out.append(f"\nAt 20% the SDK's three attempts and Lambda's retries absorb every fault, so the "
               f"dead-letter path is shown at {dl['fault_rate']:.0%}: {dl['pushes']} pushes across "
               f"{dl['targets']} targets, {dl['faults_injected']} faults in {dl['calls']} calls.\n")
    out.append(table(["Figure", "Value"], [
        ("events dead-lettered (all three attempts failed)", dl["events_dead_lettered"]),
        ("messages in the dead-letter queue", dl["dead_letter_queue_messages"]),
        ("… whose deployment records the error", dl["dead_lettered_with_their_error_in_the_ledger"]),
        ("… that failed before any deployment was recorded", dl["dead_lettered_before_any_record"]),
        ("… whose deployment stayed planned without the error (that write failed too, or Lambda's "
         "timeout struck first; the lease expires)", dl["dead_lettered_planned_without_error"]),
        ("`slipway dlq redrive`, first try (every invoke of one event refused): exit code, messages left",
         f"{dl.get('redrive_first_exit', '?')}, {dl.get('redrive_first_failed', '?')}"),
        ("`slipway dlq redrive`, second try: exit code", dl.get("redrive_second_exit", "?")),
        ("after redriving the queue: targets on their newest push", f"{dl['after_redrive_targets_on_newest']} of {dl['targets']}"),
        ("after redriving: duplicate revisions", dl["after_redrive_duplicate_revisions"]),
        ("after redriving: deployments left planned", dl["after_redrive_left_planned"]),
    ]))

    s4 = f["scenario-4-crash-points"]
    out.append(f"\n## {SCENARIOS[3][1]}\n")
    out.append(f"One push; the image-push process killed (SIGKILL) after each of the "
               f"{s4['crash_points']} writes of an uninterrupted deploy (in order; two of them run "
               "concurrently), then the event replayed by a fresh process after the killed "
               "attempt's deadline (3 s here). Counts are over both attempts.\n")
    out.append(table(["Killed after", "Replay answered", "Register", "Update", "Runs the image",
                      "Duplicates", "Ledger after"],
                     [(p["killed_after"].replace("PutObject ", "PutObject `") + ("`" if p["killed_after"].startswith("PutObject") else ""),
                       p["replay"], p["register_task_definition"], p["update_service"],
                       yes(p["runs_pushed_image"]), p["duplicate_revisions"],
                       f"{p['ledger']['state']}; ECS id known: {p['ledger']['ecs_deployment_known']}; "
                       f"marker left: {p['ledger']['starting_marker_left']}; lease left: {p['ledger']['lease_left']}; "
                       f"head settled: {p['ledger']['head_settled']}")
                      for p in s4["points"]]))
    lost = f["scenario-4-lost-registration"]
    out.append(f"\nThe first crash point's ambiguity without a crash: every RegisterTaskDefinition "
               f"applied but answered after the client's timeout. RegisterTaskDefinition applied "
               f"**{lost['register_task_definition']}** time(s), the tagged revision found with "
               f"{lost['list_task_definitions']} ListTaskDefinitions; {lost['duplicate_revisions']} "
               f"duplicate revisions; deployment `{lost['ledger']['state']}` after "
               f"{lost['attempts']} attempt(s).\n")

    s5 = f["scenario-5-invalid-events"]
    fuzz = f["fuzz"]
    out.append(f"\n## {SCENARIOS[4][1]}\n")
    out.append(f"Fuzzing (cargo fuzz, libFuzzer; `tests/fuzz/`), {fuzz['seconds_per_target']} s per target; "
               "a panic is a crash and an input slower than 5 s a hang, either fails the run:\n")
    out.append(table(["Target", "Result", "Inputs", "Coverage (edges)", "Corpus"],
                     [(t["target"], t["status"], f"{t['inputs']:,}", t["coverage_edges"], t["corpus"])
                      for t in fuzz["targets"]]))
    out.append(f"\n{s5['events']} invalid events in `events/invalid/`, each handled by its function "
               "through the proxy. Every one is acknowledged (Lambda does not retry it) and calls nothing "
               "(the `AWS calls` column):\n")
    out.append(table(["Function", "Event", "Outcome", "AWS calls", "What the log and the response say"],
                     [(r["function"], f"`{r['event']}`", r["outcome"], r["aws_calls"],
                       r["message"][:160]) for r in s5["rows"]]))

    s6 = f["scenario-6-approvals"]
    sim, race = s6["simultaneous_posts"], s6["race"]
    out.append(f"\n## {SCENARIOS[5][1]}\n")
    out.append(f"{sim['posts']} POSTs of Approve with the same valid link and form nonce, at once: "
               f"statuses {json.dumps(sim['statuses'])}; decisions taken **{sim['decisions_taken']}**; "
               f"refusals naming the decision {sim['refused_naming_the_decision']}; "
               f"RegisterTaskDefinition {sim['register_task_definition']}, UpdateService "
               f"{sim['update_service']}; final state `{sim['final_state']}`. In the same burst "
               f"{sim['tampered_token_posts']} POSTs with a tampered token (refused with 403: "
               f"{sim['tampered_refused_403']}) and {sim['gets_in_the_burst']} GETs of the link (shown "
               f"the page, deciding nothing: {sim['gets_shown_the_page']}); audit entries: "
               f"{sim['audit_entries']}, one per POST.\n")
    out.append(f"{race['approve_posts']} Approve and {race['reject_posts']} Reject POSTs at once: "
               f"decisions taken **{race['decisions_taken']}** (winner: {race['winner']}, final state "
               f"`{race['final_state']}`); the other {race['losers_told_the_outcome']} were told the "
               f"outcome (409, \"already … by …\"); RegisterTaskDefinition {race['register_task_definition']}, "
               f"UpdateService {race['update_service']}.\n")

    s7 = f["scenario-7-emulator-stopped"]
    out.append(f"\n## {SCENARIOS[6][1]}\n")
    out.append(f"{s7['targets']} pushes start; after {s7['stopped_after_calls']} calls the emulator's "
               f"process is stopped (SIGSTOP: it keeps its state and its port, and answers nothing) for "
               f"{s7['stopped_for_seconds']:.0f} s, then continued. moto keeps no state across a real "
               "restart, so a paused process is the closest honest stand-in; the calls it held are "
               "applied late, after their clients gave up.\n")
    out.append(f"First attempts: {json.dumps(s7['first_attempts'])}, after "
               f"{', '.join(f'{s:.1f}' for s in s7['first_attempt_seconds'])} s (the function timeout "
               f"is 8 s here). Retried by Lambda: {', '.join(s7['retried_by_lambda']) or 'none'}. After "
               f"the retries: {s7['half_written_after_retry']} half-written deployments, "
               f"{s7['duplicate_revisions']} duplicate revisions.\n")
    out.append(table(["Target", "Runs the pushed image", "Ledger"],
                     [(t["target"], yes(t["runs_pushed_image"]), json.dumps(t["ledger"]))
                      for t in s7["per_target"]]))
    s8 = f["scenario-8-slack-ack"]
    lat = s8["latency"]
    out.append(f"\n## {SCENARIOS[7][1]}\n")
    out.append(
        f"The proxy delays every call by a log-normal draw (median {lat['median_ms']} ms, 99th "
        f"percentile {lat['p99_ms']} ms) and the first call to each service by {lat['first_call_ms']} ms "
        "more (a new TLS connection). Each round is a cold start: new clients, then the config object, "
        "the signing keys and the Slack secret read through the proxy, as `slipway_from_env` does, then "
        "one signed Slack click. Side by side in each round: the click recorded and its roll handed to "
        "an asynchronous Invoke (as on AWS; the Invoke is played as one more AWS-slow call), and the "
        "same click rolled in the request. Time from the cold start to Slack's answer:\n")
    out.append(table(["Path", "Median", "p90", "Max"],
                     [(name, f"{d['median_ms']} ms", f"{d['p90_ms']} ms", f"{d['max_ms']} ms")
                      for name, d in [("recorded, roll handed over (Slipway on AWS)", s8["handed_over"]),
                                      ("rolled in the request", s8["rolled_in_the_request"])]]))
    out.append(
        f"\nSlack's limit is {s8['limit_ms']} ms. Rolling in the request adds RegisterTaskDefinition, "
        "UpdateService and the rollouts writes to the answer — and their tails: one throttled or slow "
        "call (the SDK's limit is 20 s) would miss the limit, which the hand-over does not wait for.\n")
    out.append("\n## What this does not show\n")
    out.append(
        "- moto applies calls one at a time and its S3 conditional writes are checked inside one "
        "process; real S3 makes the same promise (`If-Match`, `If-None-Match`) across its fleet.\n"
        "- Lambda's own timeouts (scenarios 3 and 7) drop the invocation in the test process "
        "rather than kill a sandbox: the same from AWS's side (no further calls, the last answer "
        "lost). Scenario 4 kills real processes.\n"
        "- ECS never runs a container here: rollouts end only when the tests say so.\n")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--figures", default="target/reliability")
    parser.add_argument("--out", default="RELIABILITY.md")
    args = parser.parse_args()
    figures = {name: load(args.figures, name) for name, _ in SCENARIOS}
    figures["fuzz"] = load(args.figures, "fuzz")
    figures["scenario-4-lost-registration"] = load(args.figures, "scenario-4-lost-registration")
    figures["scenario-3-dead-letters"] = load(args.figures, "scenario-3-dead-letters")
    figures["scenario-3-error-recorded"] = load(args.figures, "scenario-3-error-recorded")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    text = render(figures, commit)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    failed = [n for n, _, _, ok in summary_rows(figures) if not ok]
    print(f"wrote {args.out}" + (f"; scenarios not held: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
