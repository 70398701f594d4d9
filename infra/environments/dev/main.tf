# dev: the platform and Slipway, sized and protected for a team's daily work: one NAT
# gateway, short image history, one to two tasks packed tightly, a deletable ALB, and
# every matching push deployed without asking. The composition is infra/modules/platform;
# this root only chooses.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "shop"
      Environment = "dev"
    }
  }
}

module "platform" {
  source = "../../modules/platform"

  environment         = "dev"
  name                = "shop-dev"
  single_nat_gateway  = true
  keep_tagged_images  = 3
  deletion_protection = false
  web = {
    min_capacity        = 1
    max_capacity        = 2
    placement           = "binpack"
    fargate_spot_weight = 1
  }
  deploy = {
    tags   = { glob = "*" }
    policy = "auto"
  }
  # Every push to main builds an image tagged with its commit; Slipway deploys it here.
  ci_refs = ["ref:refs/heads/main"]
  # ...and ECR copies it to prod's repository, where a release tag names those same bytes.
  images = {
    replicate_to = var.prod_account_id == null ? [] : [{
      account_id = var.prod_account_id
      region     = coalesce(var.prod_region, var.region)
    }]
  }
  # prod's Slipway reads web's ledger records (read-only) and hears of each success.
  promotion = {
    to = var.prod_account_id == null ? null : { environment = "prod", account_id = var.prod_account_id }
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
