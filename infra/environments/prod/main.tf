# prod: the same platform and Slipway, built to survive the loss of a zone and a bad
# release: a NAT gateway per zone, ten images to roll back to, two to four tasks spread
# across zones, an ALB that refuses deletion, and a person approving every deploy. The
# composition is infra/modules/platform; this root only chooses.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "shop"
      Environment = "prod"
    }
  }
}

module "platform" {
  source = "../../modules/platform"

  environment         = "prod"
  name                = "shop-prod"
  single_nat_gateway  = false
  keep_tagged_images  = 10
  deletion_protection = true
  web = {
    cpu          = 512
    memory       = 1024
    min_capacity = 2
    max_capacity = 4
    placement    = "spread"
  }
  deploy = {
    tags     = { semver = ">=1.0.0" }
    policy   = "approval"
    approval = { expires_after_hours = 24 }
  }
  # Only release tags (v1.2.3) tag images here, and only images dev built: ECR replicates
  # dev's builds into this repository, and CI may only name one of them (no new bytes).
  # Slipway asks a person before deploying.
  ci_refs = ["ref:refs/tags/v*"]
  images = {
    from_accounts = [var.dev_account_id]
    release_tags  = ["v*"]
  }
  # And Slipway deploys a release only once dev's Slipway recorded that digest succeeded
  # on dev's web, and it ran there for promotion_soak (read from dev's ledger).
  promotion = {
    from = { environment = "dev", account_id = var.dev_account_id, soak = var.promotion_soak }
  }

  # The deployment's own inputs (variables.tf, the same in every environment).
  region                      = var.region
  availability_zones          = var.availability_zones
  domain_name                 = var.domain_name
  route53_zone_id             = var.route53_zone_id
  initial_image               = var.initial_image
  migration                   = var.migration
  launch_type                 = var.launch_type
  package_dir                 = var.package_dir
  approver_emails             = var.approver_emails
  github_repository           = var.github_repository
  create_github_oidc_provider = var.create_github_oidc_provider
  github_oidc_provider_arn    = var.github_oidc_provider_arn
  operator_principals         = var.operator_principals
}
