# An image repository Slipway deploys from. Tags are immutable: a tag names one image
# forever, so `v1.4.2` in a notification, the ledger and a rollback all mean the same bits.
resource "aws_ecr_repository" "this" {
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

# Rules are evaluated by priority, and an image a rule's tag selection matches cannot be
# expired by a rule of lower priority (Amazon ECR User Guide, "Lifecycle policies": "Lifecycle
# policy evaluation rules"). So with `release_tags`, the release rule both keeps the newest
# releases and shields every release from the rule after it, which expires the builds that
# arrive by replication and are never released.
locals {
  untagged_rule = {
    rulePriority = 1
    description  = "Untagged images expire after ${var.untagged_expire_days} day(s)"
    selection = {
      tagStatus   = "untagged"
      countType   = "sinceImagePushed"
      countUnit   = "days"
      countNumber = var.untagged_expire_days
    }
    action = { type = "expire" }
  }
  keep_newest_rules = [
    {
      rulePriority = 2
      description  = "Keep the newest ${var.keep_tagged_images} tagged images"
      selection = {
        tagStatus      = "tagged"
        tagPatternList = ["*"]
        countType      = "imageCountMoreThan"
        countNumber    = var.keep_tagged_images
      }
      action = { type = "expire" }
    },
  ]
  release_rules = concat([
    for index, pattern in var.release_tags : {
      rulePriority = 2 + index
      description  = "Keep the newest ${var.keep_tagged_images} releases tagged ${pattern}"
      selection = {
        tagStatus      = "tagged"
        tagPatternList = [pattern]
        countType      = "imageCountMoreThan"
        countNumber    = var.keep_tagged_images
      }
      action = { type = "expire" }
    }
    ], [{
      rulePriority = 2 + length(var.release_tags)
      description  = "Builds never released expire after ${var.unreleased_expire_days} days"
      selection = {
        tagStatus      = "tagged"
        tagPatternList = ["*"]
        countType      = "sinceImagePushed"
        countUnit      = "days"
        countNumber    = var.unreleased_expire_days
      }
      action = { type = "expire" }
  }])
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = (length(var.release_tags) == 0
    ? jsonencode({ rules = concat([local.untagged_rule], local.keep_newest_rules) })
  : jsonencode({ rules = concat([local.untagged_rule], local.release_rules) }))
}

# Promotion of the same bytes: every image pushed here is copied to the repository of the
# same name in the destinations' registries, with the same manifest, hence the same digest,
# and the same tags (Amazon ECR User Guide, "Private image replication in Amazon ECR"). The
# replication configuration is the registry's, one per account and region: this module
# owns it when `replicate_to` is set, filtered to this repository (a prefix match, so
# repositories whose names start with this one's are copied too).
resource "aws_ecr_replication_configuration" "this" {
  count = length(var.replicate_to) == 0 ? 0 : 1

  replication_configuration {
    rule {
      dynamic "destination" {
        for_each = var.replicate_to
        content {
          region      = destination.value.region
          registry_id = destination.value.account_id
        }
      }
      repository_filter {
        filter      = aws_ecr_repository.this.name
        filter_type = "PREFIX_MATCH"
      }
    }
  }
}

# The receiving side of cross-account replication: the registry's policy lets the source
# accounts replicate into this repository only; ecr:CreateRepository is not granted, this
# module creates the repository (Amazon ECR User Guide, "Granting registry permissions for
# cross account replication in Amazon ECR"). Also one per account and region.
locals {
  registry_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid       = "ReplicateBuilds"
      Effect    = "Allow"
      Principal = { AWS = [for account in var.replicate_from_accounts : "arn:${data.aws_partition.current.partition}:iam::${account}:root"] }
      Action    = ["ecr:ReplicateImage"]
      Resource  = [aws_ecr_repository.this.arn]
    }]
  }
}

data "aws_partition" "current" {}

resource "aws_ecr_registry_policy" "this" {
  count = length(var.replicate_from_accounts) == 0 ? 0 : 1

  policy = jsonencode(local.registry_policy)
}
