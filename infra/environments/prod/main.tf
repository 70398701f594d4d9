# prod: the same platform and Slipway, built to survive the loss of a zone and a bad
# release: a NAT gateway per zone, ten images to roll back to, two to four tasks spread
# across zones, an ALB that refuses deletion, and a person approving every deploy.

locals {
  environment = "prod"
  name        = "shop-prod"
  tags = {
    Project     = "shop"
    Environment = local.environment
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

module "network" {
  source = "../../modules/network"

  name               = local.name
  availability_zones = var.availability_zones
  single_nat_gateway = false
  tags               = local.tags
}

module "ecr" {
  source = "../../modules/ecr"

  name               = "app"
  keep_tagged_images = 10
  tags               = local.tags
}

module "cluster" {
  source = "../../modules/ecs_cluster"

  name = local.name
  tags = local.tags
}

module "alb" {
  source = "../../modules/alb"

  name                = local.name
  vpc_id              = module.network.vpc_id
  public_subnet_ids   = module.network.public_subnet_ids
  domain_name         = var.domain_name
  route53_zone_id     = var.route53_zone_id
  deletion_protection = true
  tags                = local.tags
}

module "web" {
  source = "../../modules/ecs_service"

  name                 = "${local.name}-web"
  cluster_arn          = module.cluster.arn
  cluster_name         = module.cluster.name
  repository_arns      = [module.ecr.arn]
  image                = var.initial_image
  health_check_command = ["CMD", "/usr/local/bin/app", "healthcheck"]
  vpc_id               = module.network.vpc_id
  subnet_ids           = module.network.private_subnet_ids
  load_balancer = {
    target_group_arn  = module.alb.target_group_arn
    security_group_id = module.alb.security_group_id
  }
  cpu          = 512
  memory       = 1024
  min_capacity = 2
  max_capacity = 4
  launch_type  = var.launch_type
  placement    = "spread"
  tags         = local.tags
}

module "slipway" {
  source = "../../modules/slipway"

  name                = "slipway-${local.environment}"
  environment         = local.environment
  package_dir         = var.package_dir
  approver_emails     = var.approver_emails
  operator_principals = var.operator_principals
  targets = [{
    name               = "web"
    cluster            = module.cluster.name
    service            = module.web.service_name
    containers         = ["app"]
    repository         = module.ecr.name
    tags               = { semver = ">=1.0.0" }
    policy             = "approval"
    approval           = { expires_after_hours = 24 }
    task_role_arn      = module.web.task_role_arn
    execution_role_arn = module.web.execution_role_arn
    task_family        = module.web.task_definition_family
  }]
  tags = local.tags
}

# Only release tags (v1.2.3) push here; Slipway asks a person before deploying.
module "github_ci" {
  source = "../../modules/github_ci"

  name                      = "${local.name}-github-ci"
  github_repository         = var.github_repository
  allowed_refs              = ["ref:refs/tags/v*"]
  create_oidc_provider      = var.create_github_oidc_provider
  oidc_provider_arn         = var.github_oidc_provider_arn
  ecr_repository_arn        = module.ecr.arn
  source_bucket_arn         = module.slipway.source_bucket_arn
  deploy_prefix             = module.slipway.source_prefix
  source_bucket_kms_key_arn = module.slipway.kms_key_arn
  tags                      = local.tags
}
