# Two buckets: the ledger (Slipway's memory: heads, records, rollouts; conditional writes)
# and the source bucket (deploy manifests uploaded by people and CI).

locals {
  buckets = {
    ledger = "${var.name}-ledger-${local.account}"
    source = "${var.name}-source-${local.account}"
  }
}

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_18: CloudTrail data events are the audit trail for these buckets; server access logs would need a third bucket
  # checkov:skip=CKV_AWS_144: Slipway's state is per region, next to the services it deploys; cross-region replication is the operator's choice
  # checkov:skip=CKV2_AWS_6: public access is blocked by aws_s3_bucket_public_access_block.this (for_each over these buckets, which checkov's graph does not follow)
  # checkov:skip=CKV2_AWS_61: lifecycle rules are aws_s3_bucket_lifecycle_configuration.this (for_each, not followed by checkov)
  # checkov:skip=CKV_AWS_21: versioning is aws_s3_bucket_versioning.this (for_each, not followed by checkov)
  # checkov:skip=CKV_AWS_145: SSE-KMS with Slipway's key is aws_s3_bucket_server_side_encryption_configuration.this (for_each, not followed by checkov)
  # checkov:skip=CKV2_AWS_62: the source bucket notifies EventBridge (aws_s3_bucket_notification.source); nothing reacts to ledger writes
  for_each = local.buckets

  bucket        = each.value
  force_destroy = var.force_destroy_buckets

  tags = merge(var.tags, { Purpose = each.key })
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Versioned: the source bucket's events carry a version id, so the function reads exactly
# what was uploaded; the ledger keeps every earlier head and record.
resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

locals {
  # The buckets with a policy: both when TLS is required, and the ledger when other
  # Slipways read some of its records (promoted_elsewhere).
  bucket_policies = {
    for key, bucket in aws_s3_bucket.this : key => bucket
    if var.require_tls || (key == "ledger" && length(var.promoted_elsewhere) > 0)
  }
  # Promotion across accounts: a downstream Slipway's gate reads the records of the
  # target it promotes from, and nothing else, and lists keys, so that a record not
  # written yet reads as 404, not 403 (S3 API Reference, GetObject, "Permissions"). The
  # principal is the account and the condition names its roles: a policy naming a role
  # that does not exist yet is refused, and the two Slipways are applied in either order
  # (IAM User Guide, "AWS JSON policy elements: Principal"; aws:PrincipalArn, "AWS global
  # condition context keys"). Plain data, so the module's tests read it back.
  ledger_downstream_statements = flatten([for i, p in var.promoted_elsewhere : [
    {
      sid       = "DownstreamReads${i}"
      actions   = ["s3:GetObject"]
      resources = ["${aws_s3_bucket.this["ledger"].arn}/targets/${p.target}/*"]
      principal = "arn:${local.partition}:iam::${p.account_id}:root"
      readers   = p.readers
    },
    {
      sid       = "DownstreamLists${i}"
      actions   = ["s3:ListBucket"]
      resources = [aws_s3_bucket.this["ledger"].arn]
      principal = "arn:${local.partition}:iam::${p.account_id}:root"
      readers   = p.readers
    },
  ]])
}

data "aws_iam_policy_document" "bucket" {
  for_each = local.bucket_policies

  dynamic "statement" {
    for_each = var.require_tls ? [each.value] : []
    content {
      sid     = "DenyInsecureTransport"
      effect  = "Deny"
      actions = ["s3:*"]
      resources = [
        statement.value.arn,
        "${statement.value.arn}/*",
      ]
      principals {
        type        = "*"
        identifiers = ["*"]
      }
      condition {
        test     = "Bool"
        variable = "aws:SecureTransport"
        values   = ["false"]
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "ledger" ? local.ledger_downstream_statements : []
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
      principals {
        type        = "AWS"
        identifiers = [statement.value.principal]
      }
      condition {
        test     = "ArnLike"
        variable = "aws:PrincipalArn"
        values   = statement.value.readers
      }
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = local.bucket_policies

  bucket = each.value.id
  policy = data.aws_iam_policy_document.bucket[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# Uploads reach source-upload through EventBridge ("Object Created"); the rule filters the
# deploy prefix (events.tf).
resource "aws_s3_bucket_notification" "source" {
  bucket      = aws_s3_bucket.this["source"].id
  eventbridge = true
}

# The targets config the functions read at cold start (src/aws/config_source.rs): an
# object, not an environment variable, because Lambda allows 4 KB of environment in all.
# Its version id is in the functions' environment, so each function version reads exactly
# the config it was applied with, and a changed config starts fresh sandboxes.
resource "aws_s3_object" "config" {
  bucket       = aws_s3_bucket.this["ledger"].id
  key          = local.config_key
  content      = local.config_json
  content_type = "application/json"
  kms_key_id   = aws_kms_key.this.arn

  tags = var.tags

  depends_on = [aws_s3_bucket_versioning.this]
}
