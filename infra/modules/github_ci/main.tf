# The role GitHub Actions assumes through GitHub's OIDC provider: no long-lived AWS keys in
# the repository's secrets. Only the named repository, and only its named refs, can assume
# it; it can push to one ECR repository (with `retag_only`, only tag images already there) and
# write under the source bucket's deploy prefix.

locals {
  oidc_host         = "token.actions.githubusercontent.com"
  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : var.oidc_provider_arn
  subjects          = [for ref in var.allowed_refs : "repo:${var.github_repository}:${ref}"]
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://${local.oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
  # No thumbprint_list: IAM trusts GitHub's certificate through its own CA library.

  tags = var.tags
}

# Policies are plain jsonencode()d values so `terraform test` can read them back under a
# mock provider (which renders policy document data sources as `{}`).
locals {
  trust_policy = {
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRoleWithWebIdentity"
      Principal = { Federated = local.oidc_provider_arn }
      Condition = {
        StringEquals = { "${local.oidc_host}:aud" = "sts.amazonaws.com" }
        # Without a `sub` condition any GitHub repository could assume the role.
        StringLike = { "${local.oidc_host}:sub" = local.subjects }
      }
    }]
  }

  # Present only when there is a bucket (and a key): null entries are dropped.
  upload_statements = [for statement in [
    var.source_bucket_arn == null ? null : {
      Sid      = "UploadDeployManifests"
      Effect   = "Allow"
      Action   = ["s3:PutObject"]
      Resource = ["${var.source_bucket_arn}/${var.deploy_prefix}*"]
    },
    var.source_bucket_arn == null || var.source_bucket_kms_key_arn == null ? null : {
      Sid       = "EncryptDeployManifests"
      Effect    = "Allow"
      Action    = ["kms:GenerateDataKey"]
      Resource  = [var.source_bucket_kms_key_arn]
      Condition = { StringLike = { "kms:ViaService" = "s3.*.amazonaws.com" } }
    },
  ] : statement if statement != null]

  permissions_policy = {
    Version = "2012-10-17"
    Statement = concat([
      {
        # `docker login` to ECR: the token call has no resource-level permission.
        Sid      = "EcrLogin"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = ["*"]
      },
      var.retag_only ? {
        # Tag an image already here (a build replicated from the environment that tested
        # it): without the layer upload actions no new bytes can be pushed, and PutImage of
        # a manifest whose layers the repository lacks fails (Amazon ECR API Reference,
        # PutImage: LayersNotFoundException).
        Sid      = "EcrRetagApp"
        Effect   = "Allow"
        Action   = ["ecr:PutImage", "ecr:BatchGetImage", "ecr:DescribeImages"]
        Resource = [var.ecr_repository_arn]
        } : {
        # Push, and read back to retag an image a release candidate already built.
        Sid    = "EcrPushApp"
        Effect = "Allow"
        Action = [
          "ecr:BatchCheckLayerAvailability",
          "ecr:InitiateLayerUpload",
          "ecr:UploadLayerPart",
          "ecr:CompleteLayerUpload",
          "ecr:PutImage",
          "ecr:BatchGetImage",
          "ecr:DescribeImages",
        ]
        Resource = [var.ecr_repository_arn]
      },
    ], local.upload_statements)
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  description          = "GitHub Actions of ${var.github_repository} (${join(", ", var.allowed_refs)}): push the app image, upload deploy manifests"
  assume_role_policy   = jsonencode(local.trust_policy)
  max_session_duration = var.max_session_hours * 3600

  lifecycle {
    precondition {
      condition     = var.create_oidc_provider || var.oidc_provider_arn != null
      error_message = "Pass oidc_provider_arn when create_oidc_provider is false."
    }
  }

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "push-and-upload"
  role   = aws_iam_role.this.id
  policy = jsonencode(local.permissions_policy)
}
