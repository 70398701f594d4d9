# The shop's platform and Slipway, composed once: network, image repository, cluster, load
# balancer, the web service and Slipway deploying it, and the CI role. Each environment
# (infra/environments/dev, prod) is a thin root that chooses its inputs; nothing else
# differs between them.

locals {
  name = var.name
  tags = {
    Project     = var.project
    Environment = var.environment
  }
}

module "network" {
  source = "../../modules/network"

  name               = local.name
  availability_zones = var.availability_zones
  single_nat_gateway = var.single_nat_gateway
  tags               = local.tags
}

module "ecr" {
  source = "../../modules/ecr"

  name               = "app"
  keep_tagged_images = var.keep_tagged_images
  # Promotion of the same bytes: dev's builds are copied to prod's repository; prod keeps
  # its releases and lets the copies nobody released expire.
  replicate_to            = var.images.replicate_to
  replicate_from_accounts = var.images.from_accounts
  release_tags            = length(var.images.from_accounts) == 0 ? [] : var.images.release_tags
  tags                    = local.tags
}

module "cluster" {
  source = "../../modules/ecs_cluster"

  name                = local.name
  fargate_spot_weight = var.web.fargate_spot_weight
  tags                = local.tags
}

module "alb" {
  source = "../../modules/alb"

  name                = local.name
  vpc_id              = module.network.vpc_id
  public_subnet_ids   = module.network.public_subnet_ids
  domain_name         = var.domain_name
  route53_zone_id     = var.route53_zone_id
  deletion_protection = var.deletion_protection
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
  cpu          = var.web.cpu
  memory       = var.web.memory
  min_capacity = var.web.min_capacity
  max_capacity = var.web.max_capacity
  launch_type  = var.launch_type
  placement    = var.web.placement
  tags         = local.tags
}

data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition
  # The other environment's Slipway, by the names the slipway module gives (slipway-<env>).
  upstream = var.promotion.from == null ? null : {
    name      = "${var.promotion.from.environment}-web"
    slipway   = "slipway-${var.promotion.from.environment}"
    account   = var.promotion.from.account_id
    forwarder = "arn:${local.partition}:iam::${var.promotion.from.account_id}:role/slipway-${var.promotion.from.environment}-hint-forwarder"
  }
}

module "slipway" {
  source = "../../modules/slipway"

  name                = "slipway-${var.environment}"
  environment         = var.environment
  package_dir         = var.package_dir
  approver_emails     = var.approver_emails
  operator_principals = var.operator_principals
  targets = [{
    name               = "web"
    cluster            = module.cluster.name
    service            = module.web.service_name
    containers         = ["app"]
    repository         = module.ecr.name
    tags               = var.deploy.tags
    policy             = var.deploy.policy
    approval           = var.deploy.approval
    promotion          = local.upstream == null ? null : { from = [local.upstream.name], soak = var.promotion.from.soak }
    task_role_arn      = module.web.task_role_arn
    execution_role_arn = module.web.execution_role_arn
    task_family        = module.web.task_definition_family
  }]
  # With a migration, each release of web is one release group: the migration in the new
  # revision exits 0, then web rolls.
  groups = var.migration == null ? [] : [{
    name = "web"
    steps = [
      { task = { name = "migrate", target = "web", container = "app", command = var.migration.command, timeout = var.migration.timeout } },
      { service = "web" },
    ]
  }]
  # Prod takes only what succeeded on dev's web, reading dev's ledger (read-only)...
  upstreams = local.upstream == null ? [] : [{
    name                    = local.upstream.name
    account_id              = local.upstream.account
    ledger_bucket           = "${local.upstream.slipway}-ledger-${local.upstream.account}"
    target                  = "web"
    tags                    = var.promotion.from.tags
    hint_forwarder_role_arn = local.upstream.forwarder
  }]
  # ...which lets prod's Slipway read web's records and forwards each success to it.
  promoted_elsewhere = var.promotion.to == null ? [] : [{
    target       = "web"
    account_id   = var.promotion.to.account_id
    readers      = ["arn:${local.partition}:iam::${var.promotion.to.account_id}:role/slipway-${var.promotion.to.environment}-*"]
    hint_bus_arn = "arn:${local.partition}:events:${var.region}:${var.promotion.to.account_id}:event-bus/slipway-${var.promotion.to.environment}-promotion"
  }]
  tags = local.tags
}

# CI pushes images and uploads manifests for this environment only, from the refs it names.
module "github_ci" {
  source = "../../modules/github_ci"

  name                      = "${local.name}-github-ci"
  github_repository         = var.github_repository
  allowed_refs              = var.ci_refs
  create_oidc_provider      = var.create_github_oidc_provider
  oidc_provider_arn         = var.github_oidc_provider_arn
  ecr_repository_arn        = module.ecr.arn
  retag_only                = length(var.images.from_accounts) > 0
  source_bucket_arn         = module.slipway.source_bucket_arn
  deploy_prefix             = module.slipway.source_prefix
  source_bucket_kms_key_arn = module.slipway.kms_key_arn
  tags                      = local.tags
}
