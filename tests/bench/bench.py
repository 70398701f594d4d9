"""Slipway's benchmarks, side by side with the Python references, in one run (make bench).

Starts moto and the counting proxy (aws_proxy.py) on loopback, creates the services, then
per round and contender: pushes a new image to ECR, cold-starts the contender under the
Runtime API host (runtime_api.py) with that push's event, and checks that the service now
runs what it should. Contenders, rotated each round so that machine noise falls on all:
  slipway           functions/image-push (the Rust binary)
  python-pinned     reference/digest_pinned.py under awslambdaric: the same four ECS calls
  python-force      reference/force_new_deployment.py under awslambdaric: the common
                    update_service(forceNewDeployment=True)
Then the fan-out (one push matched by 1, 10 and 50 targets) with every ECS call's timing
replayed through ECS's token buckets, and the zips' sizes from make package.

Writes BENCHMARKS.md and the chart (full run), or prints the figures and fails when a
target is broken by a wide margin (--quick, part of make test).
"""

import argparse
import http.client
import json
import os
import pathlib
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

import boto3

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import aws_proxy  # noqa: E402
from runtime_api import RuntimeApiHost  # noqa: E402

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLUSTER = "bench"
CONTAINER = "app"
REPOSITORY = "bench-app"
FANOUT_REPOSITORY = "fanout-app"
FANOUT_CLUSTER = "fanout"
LEDGER_BUCKET = "bench-ledger"
CONTENDERS = ["slipway", "python-pinned", "python-force"]
REFERENCES = ["python-pinned", "python-force"]
FUNCTIONS = ["image-push", "source-upload", "deployment-events", "approval"]

# ECS's token buckets, (burst, per second), as src/aws/limits.rs keeps them.
ECS_LIMITS = {
    "RegisterTaskDefinition": (20, 1),
    "UpdateService": (50, 5),
    "DescribeServices": (100, 20),
    "DescribeTaskDefinition": (50, 20),
}
# The targets (issue 8) and how far past them --quick tolerates before failing: absolute
# timings on a shared 2-core machine are noisy, and the quick run uses few rounds.
TARGETS = {"init": 0.1, "first_invoke": 0.5, "peak_rss": 0.4}
QUICK_MARGIN = 2.0
ZIP_LIMIT_MB = 5.0
FANOUT_RATIO = 3.0
# The ledger's calls per auto deploy (issue 18): one read of the target's document, the claim,
# and the record after UpdateService — of which only the first two are before UpdateService.
LEDGER_CALLS_TARGET = 3
LEDGER_CALLS_BEFORE_UPDATE_TARGET = 2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, timeout=30):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not start on 127.0.0.1:{port}")


class World:
    """Moto with the bench's repositories, services and ledger bucket."""

    def __init__(self, moto_server, workdir):
        self.port = free_port()
        self.log = open(workdir / "moto.log", "wb")
        self.moto = subprocess.Popen([moto_server, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=self.log)
        wait_port(self.port, "moto")
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proxy, self.recorder = aws_proxy.start(self.endpoint)
        self.proxy_endpoint = f"http://127.0.0.1:{self.proxy.server_address[1]}"
        self.ecs = self.client("ecs")
        self.ecr = self.client("ecr")
        self.images = 0

    def client(self, service):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="bench", aws_secret_access_key="bench")

    def stop(self):
        self.proxy.shutdown()
        self.moto.terminate()
        self.moto.wait()
        self.log.close()

    def create(self, fanout_services):
        self.client("s3").create_bucket(Bucket=LEDGER_BUCKET)
        for repository in (REPOSITORY, FANOUT_REPOSITORY):
            self.ecr.create_repository(repositoryName=repository)
        first = self.push(REPOSITORY, "v1.0.0")
        for contender in CONTENDERS:
            self.create_service(CLUSTER, contender, REPOSITORY, first)
        first = self.push(FANOUT_REPOSITORY, "v1.0.0")
        for service in fanout_services:
            self.create_service(FANOUT_CLUSTER, service, FANOUT_REPOSITORY, first)

    def create_service(self, cluster, service, repository, digest):
        self.ecs.create_cluster(clusterName=cluster)
        arn = self.ecs.register_task_definition(
            family=service, networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            cpu="256", memory="512",
            containerDefinitions=[{
                "name": CONTAINER, "image": image_uri(repository, digest), "essential": True,
                "portMappings": [{"containerPort": 3000}],
                "environment": [{"name": "PORT", "value": "3000"}],
            }],
        )["taskDefinition"]["taskDefinitionArn"]
        self.ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=arn,
                                desiredCount=1, launchType="FARGATE")

    def push(self, repository, tag):
        """A new image (distinct layers give a distinct digest); returns its digest."""
        self.images += 1
        n = self.images
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "size": 1469, "digest": "sha256:%064x" % n},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": 2811478, "digest": "sha256:%064x" % (n + 10**9)}],
        }
        image = self.ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest),
                                   imageTag=tag)["image"]
        return image["imageId"]["imageDigest"]

    def running_image(self, cluster, service):
        arn = self.ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
        definition = self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        return next(c["image"] for c in definition["containerDefinitions"] if c["name"] == CONTAINER)

    def reset_calls(self):
        self.recorder.reset()

    def calls(self):
        return self.recorder.snapshot()


def image_uri(repository, digest):
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repository}@{digest}"


def push_event(repository, tag, digest, n):
    event = json.loads((ROOT / "events" / "ecr-push.json").read_text())
    event["id"] = f"bench-push-{n}"
    event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    event["account"], event["region"] = ACCOUNT, REGION
    event["resources"] = [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}"]
    event["detail"]["repository-name"] = repository
    event["detail"]["image-digest"] = digest
    event["detail"]["image-tag"] = tag
    return event


def slipway_config(targets):
    return json.dumps({"targets": [{
        "name": name, "cluster": cluster, "service": service, "containers": [CONTAINER],
        "repository": repository, "tags": {"semver": ">=1"}, "policy": "auto",
    } for name, cluster, service, repository in targets]})


class Contenders:
    def __init__(self, host, world, binaries, python):
        self.host, self.world, self.binaries, self.python = host, world, binaries, python
        self.base_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_ENDPOINT_URL": world.proxy_endpoint,
            "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            # Neither runtime may go looking for credentials elsewhere.
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "TZ": "UTC",
        } | host.lambda_env()

    def command(self, contender):
        if contender == "slipway":
            return [str(self.binaries / "image-push")], None
        module = {"python-pinned": "digest_pinned", "python-force": "force_new_deployment"}[contender]
        return [self.python, "-m", "awslambdaric", f"{module}.handler"], str(HERE / "reference")

    def env(self, contender, slipway_targets=None):
        env = dict(self.base_env)
        if contender == "slipway":
            env |= {
                "SLIPWAY_ACCOUNT_ID": ACCOUNT,
                "SLIPWAY_LEDGER_BUCKET": LEDGER_BUCKET,
                "SLIPWAY_CONFIG": slipway_config(slipway_targets or [(contender, CLUSTER, contender, REPOSITORY)]),
                "RUST_LOG": "warn",
            }
        else:
            env |= {"TARGET_CLUSTER": CLUSTER, "TARGET_SERVICE": contender,
                    "TARGET_REPOSITORY": REPOSITORY, "TARGET_CONTAINER": CONTAINER,
                    "LAMBDA_TASK_ROOT": str(HERE / "reference"),
                    "_HANDLER": self.command(contender)[0][-1]}
        return env

    def cold_start(self, contender, event, log, slipway_targets=None):
        command, cwd = self.command(contender)
        self.world.reset_calls()
        result = self.host.cold_start(command, self.env(contender, slipway_targets), event,
                                      cwd=cwd, log=log)
        result["calls"] = self.world.calls()
        if result["error"]:
            raise SystemExit(f"{contender} failed: {result['error']} (log: {log})")
        return result


def count_calls(calls):
    ecs = [c for c in calls if c["service"] == "ecs"]
    ledger = [c for c in calls if c["service"] == "s3" and c["bucket"] == LEDGER_BUCKET]
    ecr = [c for c in calls if c["service"] == "ecr"]
    other = [c for c in calls if c not in ecs and c not in ledger and c not in ecr]
    updates = [c["at"] for c in ecs if c["operation"] == "UpdateService"]
    before_update = [c for c in ledger if updates and c["at"] < min(updates)]
    by_operation = {}
    for c in calls:
        key = f"{c['service']}:{c['operation']}"
        by_operation[key] = by_operation.get(key, 0) + 1
    return {"ecs": len(ecs), "ledger": len(ledger), "ledger_before_update": len(before_update),
            "ecr": len(ecr), "other": len(other),
            "by_operation": by_operation}


def throttled(calls, tolerance=0.05):
    """Replays ECS calls through AWS's token buckets: how many would have been throttled.
    `tolerance` (in tokens) absorbs the few milliseconds between the client's limiter
    releasing a call and the proxy receiving it."""
    found = {}
    for operation, (burst, rate) in ECS_LIMITS.items():
        tokens, last, over = float(burst), None, 0
        for at in sorted(c["at"] for c in calls if c["service"] == "ecs" and c["operation"] == operation):
            if last is not None:
                tokens = min(burst, tokens + (at - last) * rate)
            last = at
            if tokens < 1 - tolerance:
                over += 1
            else:
                tokens -= 1
        found[operation] = over
    return found


def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 2) if values else None


def verify(world, contender, digest, result):
    """The contender did the work: the pinned ones run the pushed digest now."""
    if contender == "python-force":
        return
    running = world.running_image(CLUSTER, contender)
    if running != image_uri(REPOSITORY, digest):
        raise SystemExit(f"{contender}: the service runs {running}, not the pushed {digest} "
                         f"(response: {json.dumps(result['response'])})")


def cold_starts(contenders, world, runs, workdir):
    results = {c: [] for c in CONTENDERS}
    for round_no in range(runs):
        order = CONTENDERS[round_no % len(CONTENDERS):] + CONTENDERS[:round_no % len(CONTENDERS)]
        for contender in order:
            tag = f"v1.{round_no + 1}.{CONTENDERS.index(contender)}"
            digest = world.push(REPOSITORY, tag)
            event = push_event(REPOSITORY, tag, digest, world.images)
            result = contenders.cold_start(contender, event, workdir / f"{contender}.log")
            verify(world, contender, digest, result)
            results[contender].append(result)
        print(f"  round {round_no + 1}/{runs}: " + ", ".join(
            f"{c} init {results[c][-1]['init_ms']} ms, first invoke {results[c][-1]['first_invoke_ms']} ms"
            for c in CONTENDERS), flush=True)
    summary = {}
    for contender, rows in results.items():
        counts = [count_calls(r["calls"]) for r in rows]
        summary[contender] = {
            "runs": len(rows),
            "init_ms": median([r["init_ms"] for r in rows]),
            "first_invoke_ms": median([r["first_invoke_ms"] for r in rows]),
            "handler_ms": median([r["handler_ms"] for r in rows]),
            "peak_rss_mb": median([r["peak_rss_mb"] for r in rows]),
            "anon_rss_mb": median([r["anon_rss_mb"] for r in rows]),
            "ecs_calls": statistics.median_low([c["ecs"] for c in counts]),
            "ledger_calls": statistics.median_low([c["ledger"] for c in counts]),
            "ledger_calls_before_update": statistics.median_low(
                [c["ledger_before_update"] for c in counts]),
            "ecr_calls": statistics.median_low([c["ecr"] for c in counts]),
            "other_calls": statistics.median_low([c["other"] for c in counts]),
            "calls_by_operation": counts[-1]["by_operation"],
            "samples": {k: [r[k] for r in rows] for k in ("init_ms", "first_invoke_ms", "peak_rss_mb")},
        }
    return summary


def fanout(contenders, world, sizes, runs, workdir, emulator_ms_per_call):
    summary = {}
    for size in sizes:
        targets = [(f"fan-{i:02d}", FANOUT_CLUSTER, f"fan-{i:02d}", FANOUT_REPOSITORY) for i in range(size)]
        walls, worst, ecs_calls = [], {op: 0 for op in ECS_LIMITS}, []
        for run in range(runs):
            tag = f"v2.{size}.{run}"
            digest = world.push(FANOUT_REPOSITORY, tag)
            event = push_event(FANOUT_REPOSITORY, tag, digest, world.images)
            result = contenders.cold_start("slipway", event, workdir / "fanout.log", slipway_targets=targets)
            rolled = [t for t in result["response"]["targets"] if t["result"] == "rolling"]
            if len(rolled) != size:
                raise SystemExit(f"fan-out {size}: {len(rolled)} targets rolled: {json.dumps(result['response'])}")
            for name, *_ in targets[:3] + targets[-1:]:
                if world.running_image(FANOUT_CLUSTER, name) != image_uri(FANOUT_REPOSITORY, digest):
                    raise SystemExit(f"fan-out {size}: {name} does not run {digest}")
            walls.append(result["handler_ms"])
            for op, over in throttled(result["calls"]).items():
                worst[op] = max(worst[op], over)
            ecs_calls.append(count_calls(result["calls"])["ecs"])
        floor_s = max(0.0, (size - ECS_LIMITS["RegisterTaskDefinition"][0]) / ECS_LIMITS["RegisterTaskDefinition"][1])
        summary[size] = {"runs": runs, "wall_ms": median(walls), "samples": walls,
                         "calls": len(result["calls"]),
                         "throttled": worst, "ecs_calls": statistics.median_low(ecs_calls),
                         "rate_limit_floor_ms": round(floor_s * 1000)}
        print(f"  fan-out {size}: wall {summary[size]['wall_ms']} ms (median of {runs}), "
              f"would-be throttles {sum(worst.values())}", flush=True)
    # moto is one Python process whose calls take turns under its interpreter lock: N calls
    # cannot be served faster than N times its cheapest call (emulator_concurrency), whichever
    # client sends them and however concurrently.
    for size, row in summary.items():
        row["emulator_floor_ms"] = round(row["calls"] * emulator_ms_per_call)
        row["lower_bound_ms"] = max(summary[min(sizes)]["wall_ms"], row["emulator_floor_ms"],
                                    row["rate_limit_floor_ms"])
    return summary


def emulator_concurrency(world, calls=200, at_once=20):
    """How moto serves concurrent calls: `calls` DescribeClusters one after another, then
    `at_once` at a time, in ms. (Plain HTTP from threads: moto checks no signature, and
    boto3's own cost would blur what is measured.)"""
    body = json.dumps({"clusters": [CLUSTER]})
    headers = {"X-Amz-Target": "AmazonEC2ContainerServiceV20141113.DescribeClusters",
               "Content-Type": "application/x-amz-json-1.1",
               "Authorization": "AWS4-HMAC-SHA256 Credential=bench/20261201/us-east-1/ecs/aws4_request, "
                                "SignedHeaders=host, Signature=0"}

    def call(conn):
        conn.request("POST", "/", body=body, headers=headers)
        conn.getresponse().read()

    conns = [http.client.HTTPConnection("127.0.0.1", world.port) for _ in range(at_once)]
    for conn in conns:
        call(conn)
    started = time.monotonic()
    for _ in range(calls):
        call(conns[0])
    one_by_one = time.monotonic() - started
    threads = [threading.Thread(target=lambda c=conn: [call(c) for _ in range(calls // at_once)])
               for conn in conns]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    concurrently = time.monotonic() - started
    for conn in conns:
        conn.close()
    return {"calls": calls, "at_once": at_once, "one_by_one_ms": round(one_by_one * 1000),
            "concurrently_ms": round(concurrently * 1000),
            "ms_per_call": round(min(one_by_one, concurrently) * 1000 / calls, 2)}


def zip_sizes():
    sizes = {}
    for function in FUNCTIONS:
        path = ROOT / "target" / "lambda" / function / "bootstrap.zip"
        if path.exists():
            sizes[function] = round(path.stat().st_size / 1_000_000, 2)
    return sizes


def machine():
    cpu = "unknown"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(next(l for l in pathlib.Path("/proc/meminfo").read_text().splitlines()
                      if l.startswith("MemTotal")).split()[1])

    def version(*command):
        try:
            return subprocess.run(command, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "unknown"

    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(), "arch": platform.machine(),
        "rustc": version("rustc", "--version"),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def ratios(summary):
    rust = summary["cold"]["slipway"]
    out = {}
    for reference in REFERENCES:
        ref = summary["cold"][reference]
        out[reference] = {
            "init": round(rust["init_ms"] / ref["init_ms"], 3),
            "first_invoke": round(rust["first_invoke_ms"] / ref["first_invoke_ms"], 3),
            "peak_rss": round(rust["peak_rss_mb"] / ref["peak_rss_mb"], 3),
            "anon_rss": round(rust["anon_rss_mb"] / ref["anon_rss_mb"], 3),
        }
    return out


def checks(summary, quick=False):
    """(name, measured, limit, passed) for every target. `quick` widens the ratio limits by
    QUICK_MARGIN and leaves out what the quick run cannot judge: the zips (it builds none),
    the fan-out's ratio to one target (the emulator's throughput and ECS's rate limits
    decide it; the ratio to the lower bound is checked instead)."""
    margin = QUICK_MARGIN if quick else 1.0
    rows = []
    for reference, r in summary["ratios"].items():
        for key, target in TARGETS.items():
            # The debug build's peak RSS is its code, not its memory: the kernel maps the
            # file around each page a cold start touches (fault-around, 64 KiB), and the
            # touched pages of 30-odd MB of unoptimised code are spread so widely that
            # nearly all of it ends up resident — every feature added grows it. So the
            # quick run holds the memory the process itself uses (RssAnon) to the target;
            # `make bench` holds the release build's peak RSS to it.
            if quick and key == "peak_rss":
                key = "anon_rss"
            rows.append((f"{key.replace('_', ' ')} vs {reference}", r[key], round(target * margin, 3),
                         r[key] <= target * margin))
    slipway = summary["cold"]["slipway"]
    rows.append(("ECS calls per auto deploy", slipway["ecs_calls"], 4, slipway["ecs_calls"] == 4))
    rows.append(("ledger calls per auto deploy", slipway["ledger_calls"], LEDGER_CALLS_TARGET,
                 slipway["ledger_calls"] <= LEDGER_CALLS_TARGET))
    rows.append(("of which before UpdateService", slipway["ledger_calls_before_update"],
                 LEDGER_CALLS_BEFORE_UPDATE_TARGET,
                 slipway["ledger_calls_before_update"] <= LEDGER_CALLS_BEFORE_UPDATE_TARGET))
    fan = summary["fanout"]
    sizes = sorted(fan)
    one = fan[sizes[0]]["wall_ms"]
    for size in sizes[1:]:
        if not quick:
            ratio = round(fan[size]["wall_ms"] / one, 2)
            rows.append((f"fan-out {size} / fan-out {sizes[0]} wall time", ratio, FANOUT_RATIO,
                         ratio <= FANOUT_RATIO))
        # What no client can beat here: one target's time, the emulator serving this many
        # calls one after another, and ECS's refill rate for registrations past the burst.
        ratio = round(fan[size]["wall_ms"] / fan[size]["lower_bound_ms"], 2)
        rows.append((f"fan-out {size} / its lower bound (emulator, rate limits)", ratio,
                     round(FANOUT_RATIO * margin, 2), ratio <= FANOUT_RATIO * margin))
    for size in sizes:
        over = sum(fan[size]["throttled"].values())
        rows.append((f"fan-out {size}: calls over ECS's rate limits", over, 0, over == 0))
    if not quick:
        for function, mb in summary["zips_mb"].items():
            rows.append((f"{function} zip (MB)", mb, ZIP_LIMIT_MB, mb <= ZIP_LIMIT_MB))
    return rows


def main():
    parser = argparse.ArgumentParser(description="Slipway's benchmarks (make bench)")
    parser.add_argument("--binaries", required=True, help="folder with the image-push binary")
    parser.add_argument("--build", required=True, help="how the binaries were built, for the report")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--fanout", default="1,10,50")
    parser.add_argument("--fanout-runs", type=int, default=10)
    parser.add_argument("--quick", action="store_true",
                        help=f"print, and fail if a target is missed by more than {QUICK_MARGIN}x")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", default=str(ROOT / ".slipway" / "bench" / "results.json"))
    parser.add_argument("--chart", default=str(HERE / "results" / "cold-start.png"))
    args = parser.parse_args()

    binaries = pathlib.Path(args.binaries).resolve()
    if not (binaries / "image-push").exists():
        raise SystemExit(f"{binaries}/image-push is missing: build it first (make bench does)")
    workdir = ROOT / ".slipway" / "bench"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    moto_server = str(ROOT / ".tools" / "venv" / "bin" / "moto_server")
    sizes = [int(s) for s in args.fanout.split(",")]

    world = World(moto_server, workdir)
    host = RuntimeApiHost("image-push")
    try:
        world.create([f"fan-{i:02d}" for i in range(max(sizes))])
        contenders = Contenders(host, world, binaries, sys.executable)
        print(f"cold starts: {args.runs} rounds of {', '.join(CONTENDERS)} ({args.build})", flush=True)
        summary = {"build": args.build, "machine": machine(),
                   "cold": cold_starts(contenders, world, args.runs, workdir)}
        print(f"fan-out: one push matched by {args.fanout} targets, {args.fanout_runs} runs each", flush=True)
        summary["emulator"] = emulator_concurrency(world)
        summary["fanout"] = fanout(contenders, world, sizes, args.fanout_runs, workdir,
                                   summary["emulator"]["ms_per_call"])
    finally:
        host.close()
        world.stop()
    summary["zips_mb"] = zip_sizes()
    summary["ratios"] = ratios(summary)
    summary["checks"] = checks(summary, quick=args.quick)
    pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")

    import report  # matplotlib only where a report is written
    print(report.console(summary))
    if args.quick:
        broken = [row for row in summary["checks"] if not row[3]]
        if broken:
            raise SystemExit("bench (quick): broken by a wide margin: " + "; ".join(
                f"{name} = {value} (limit {limit})" for name, value, limit, _ in broken))
        print(f"bench (quick): every ratio within {QUICK_MARGIN}x of its target")
        return
    chart, out = pathlib.Path(args.chart).resolve(), pathlib.Path(args.out).resolve()
    chart.parent.mkdir(parents=True, exist_ok=True)
    report.chart(summary, chart)
    # The markdown links the chart relative to where the markdown is.
    out.write_text(report.markdown(summary, os.path.relpath(chart, out.parent)))
    print(f"wrote {args.out} and {args.chart}")


if __name__ == "__main__":
    main()
