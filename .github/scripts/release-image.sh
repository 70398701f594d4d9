#!/usr/bin/env bash
# A release tag names the image main already built — the digest dev ran — and builds
# nothing. ECR replication copied dev's build into this environment's repository with the
# same manifest, so the same digest, and its commit tag (Amazon ECR User Guide, "Private
# image replication in Amazon ECR"); this script waits for that copy, then puts its
# manifest under the release tag, the way the User Guide retags ("Retagging an image in
# Amazon ECR": batch-get-image, then put-image with --image-tag). A commit main never built
# has no copy here and gets no release: prod runs only what dev ran.
#
# Usage: release-image.sh REPOSITORY COMMIT RELEASE_TAG
#   REPLICATION_WAIT_SECONDS  how long to wait for the copy (default 1800: the tag's
#                             workflow may start while main's build of the commit still runs)
#   POLL_SECONDS              how often to look (default 15)
# The AWS CLI's own settings (region, credentials, AWS_ENDPOINT_URL) apply.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 REPOSITORY COMMIT RELEASE_TAG" >&2
  exit 2
fi
repository=$1 commit=$2 release=$3
wait_seconds=${REPLICATION_WAIT_SECONDS:-1800}
poll_seconds=${POLL_SECONDS:-15}

fail() {
  echo "::error::$*" >&2
  exit 1
}

# The digest a tag names here, or nothing when no image has the tag. Any other error (no
# permission, no repository, throttling past the CLI's retries) stops the release.
digest_of() {
  local tag=$1 out
  if out=$(aws ecr describe-images --repository-name "$repository" --image-ids "imageTag=$tag" \
    --query 'imageDetails[0].imageDigest' --output text 2>&1); then
    echo "$out"
  elif [[ "$out" == *ImageNotFoundException* ]]; then
    echo ""
  else
    fail "cannot read $repository:$tag: $out"
  fi
}

already_released() {
  local build=$1 named
  named=$(digest_of "$release")
  if [[ -z "$named" ]]; then
    return 1
  fi
  if [[ "$named" != "$build" ]]; then
    fail "$repository:$release already names $named, not $build (the image of $commit): tags are immutable; release the commit under a new tag"
  fi
  return 0
}

deadline=$((SECONDS + wait_seconds))
build=$(digest_of "$commit")
while [[ -z "$build" ]]; do
  if ((SECONDS >= deadline)); then
    fail "no image of commit $commit in $repository after ${wait_seconds}s: a release names a commit main built (and dev ran), copied here by ECR replication. Push the commit to main and wait for its build, or check the replication (Terraform: dev's prod_account_id, prod's dev_account_id)"
  fi
  echo "waiting for $repository:$commit (ECR replication from dev)..."
  sleep "$poll_seconds"
  build=$(digest_of "$commit")
done

if already_released "$build"; then
  echo "$repository:$release is already $build (the image of $commit): nothing to do"
  exit 0
fi

manifest=$(aws ecr batch-get-image --repository-name "$repository" --image-ids "imageDigest=$build" \
  --query 'images[0].imageManifest' --output text)
media_type=$(aws ecr batch-get-image --repository-name "$repository" --image-ids "imageDigest=$build" \
  --query 'images[0].imageManifestMediaType' --output text)
media_args=()
if [[ -n "$media_type" && "$media_type" != "None" ]]; then
  media_args=(--image-manifest-media-type "$media_type")
fi

if ! put=$(aws ecr put-image --repository-name "$repository" --image-tag "$release" \
  --image-manifest "$manifest" "${media_args[@]}" --query 'image.imageId.imageDigest' --output text 2>&1); then
  # Another run of this workflow may have put the tag meanwhile: that is the same release.
  if already_released "$build"; then
    echo "$repository:$release is already $build (the image of $commit): nothing to do"
    exit 0
  fi
  fail "cannot tag $build as $release in $repository: $put"
fi
if [[ "$put" != "$build" ]]; then
  fail "$repository:$release now names $put, not $build: the manifest changed on its way back; delete the tag and release again"
fi

echo "$repository:$release = $build, the image main built from $commit (no new build)"
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  echo "Released \`$release\` = \`$build\`, the image main built from \`$commit\` and dev ran (no new build)." >>"$GITHUB_STEP_SUMMARY"
fi
