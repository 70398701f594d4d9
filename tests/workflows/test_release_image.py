"""The release step of .github/workflows/ci.yml (.github/scripts/release-image.sh) against
moto's ECR, with the AWS CLI the workflow runs.

What moto cannot do is replicate: the test plays ECR replication as the User Guide
describes it ("Private image replication in Amazon ECR": the same manifest, hence the same
digest, and the same tags in the destination repository) by putting dev's build manifest
under its commit tag into the repository, at the moment the test chooses.

Run by `make workflows`: python3 tests/workflows/test_release_image.py --aws-cli DIR --moto-server PATH
"""

import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".github" / "scripts" / "release-image.sh"
MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
COMMIT = "3f2c1e0d9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e"
OTHER_COMMIT = "0123456789abcdef0123456789abcdef01234567"
RELEASE = "v1.2.3"
OPTIONS = argparse.Namespace(aws_cli=None, moto_server=None)


def manifest(build):
    """A Docker image manifest v2 whose blobs differ per build: other bytes, another digest."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1470,
                "digest": "sha256:" + (build * 64)[:64],
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 3370706,
                    # moto derives an image's digest from its layers' digests (ECR: from the
                    # manifest's bytes), so another build differs here too.
                    "digest": "sha256:" + (build * 64)[:63] + "5",
                }
            ],
        },
        indent=3,
    )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ReleaseImage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.logs = tempfile.TemporaryFile()
        cls.moto = subprocess.Popen(
            [OPTIONS.moto_server, "-H", "127.0.0.1", "-p", str(cls.port)], stdout=cls.logs, stderr=cls.logs
        )
        cls.env = dict(
            os.environ,
            PATH=f"{OPTIONS.aws_cli}:{os.environ['PATH']}",
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{cls.port}",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="eu-west-1",
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        )
        cls.env.pop("GITHUB_STEP_SUMMARY", None)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{cls.port}/moto-api/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or cls.moto.poll() is not None:
                    raise RuntimeError("moto_server did not start")
                time.sleep(0.2)

    @classmethod
    def tearDownClass(cls):
        cls.moto.terminate()
        cls.moto.wait(timeout=10)
        cls.logs.close()

    def setUp(self):
        # Each test its own repository: prod's `app`, immutable tags as infra/modules/ecr.
        self.repository = f"app-{self._testMethodName[5:40].replace('_', '-')}"
        self.aws("ecr", "create-repository", "--repository-name", self.repository, "--image-tag-mutability", "IMMUTABLE")

    def aws(self, *args):
        done = subprocess.run(["aws", *args, "--output", "json"], env=self.env, capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout) if done.stdout.strip() else None

    def replicate(self, commit, build="d"):
        """What ECR replication does in prod's registry once dev's build of `commit` lands."""
        put = self.aws(
            "ecr", "put-image", "--repository-name", self.repository, "--image-tag", commit,
            "--image-manifest", manifest(build), "--image-manifest-media-type", MEDIA_TYPE,
        )
        return put["image"]["imageId"]["imageDigest"]

    def digest(self, tag):
        done = subprocess.run(
            ["aws", "ecr", "describe-images", "--repository-name", self.repository, "--image-ids", f"imageTag={tag}",
             "--query", "imageDetails[0].imageDigest", "--output", "text"],
            env=self.env, capture_output=True, text=True,
        )
        return done.stdout.strip() if done.returncode == 0 else None

    def release(self, wait=30, poll=1, repository=None, commit=COMMIT):
        env = dict(self.env, REPLICATION_WAIT_SECONDS=str(wait), POLL_SECONDS=str(poll))
        started = time.monotonic()
        done = subprocess.run(
            ["bash", str(SCRIPT), repository or self.repository, commit, RELEASE],
            env=env, capture_output=True, text=True, timeout=120,
        )
        return done, time.monotonic() - started

    def test_the_release_names_the_digest_dev_built(self):
        dev_ran = self.replicate(COMMIT)

        done, _ = self.release()

        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(self.digest(RELEASE), dev_ran)
        self.assertIn(f"{RELEASE} = {dev_ran}", done.stdout)

    def test_it_waits_for_the_replicated_build_then_releases_it(self):
        landed = {}
        timer = threading.Timer(3, lambda: landed.setdefault("digest", self.replicate(COMMIT)))
        timer.start()
        try:
            done, took = self.release(wait=60, poll=1)
        finally:
            timer.join()

        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("waiting for", done.stdout)
        self.assertGreaterEqual(took, 3)
        self.assertEqual(self.digest(RELEASE), landed["digest"])

    def test_a_commit_main_never_built_gets_no_release(self):
        self.replicate(OTHER_COMMIT)

        done, took = self.release(wait=3, poll=1)

        self.assertEqual(done.returncode, 1)
        self.assertIn(f"no image of commit {COMMIT}", done.stderr)
        self.assertGreaterEqual(took, 3)
        self.assertIsNone(self.digest(RELEASE), "nothing may be tagged")

    def test_running_it_again_changes_nothing(self):
        dev_ran = self.replicate(COMMIT)
        first, _ = self.release()

        again, _ = self.release()

        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("already", again.stdout)
        self.assertEqual(self.digest(RELEASE), dev_ran)

    def test_a_release_tag_already_on_other_bytes_is_refused(self):
        dev_ran = self.replicate(COMMIT, build="d")
        # An image built separately for prod under the release's tag: other bytes.
        other = self.aws(
            "ecr", "put-image", "--repository-name", self.repository, "--image-tag", RELEASE,
            "--image-manifest", manifest("p"), "--image-manifest-media-type", MEDIA_TYPE,
        )["image"]["imageId"]["imageDigest"]
        self.assertNotEqual(other, dev_ran)

        done, _ = self.release()

        self.assertEqual(done.returncode, 1)
        self.assertIn(f"already names {other}, not {dev_ran}", done.stderr)
        self.assertEqual(self.digest(RELEASE), other)

    def test_an_error_other_than_a_missing_image_stops_it_at_once(self):
        done, took = self.release(wait=60, poll=1, repository="no-such-repository")

        self.assertEqual(done.returncode, 1)
        self.assertIn("cannot read no-such-repository", done.stderr)
        self.assertIn("RepositoryNotFoundException", done.stderr)
        self.assertLess(took, 30, "a missing repository is not waited for")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--aws-cli", required=True, help="the folder holding the pinned `aws`")
    parser.add_argument("--moto-server", required=True, help="the pinned moto_server")
    OPTIONS, rest = parser.parse_known_args()
    OPTIONS.aws_cli = str(pathlib.Path(OPTIONS.aws_cli).resolve())
    OPTIONS.moto_server = str(pathlib.Path(OPTIONS.moto_server).resolve())
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
