# The local environment: the same modules as dev and prod, against the local AWS (moto).
# The emulator stores Lambda functions but does not run them; `cargo lambda watch` runs
# them with the environment this configuration renders (output `function_environment`).

locals {
  name = "slipway-local"
  tags = {
    Project     = "slipway-demo"
    Environment = "local"
  }
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = false
  s3_use_path_style           = true

  endpoints {
    acm                    = var.endpoint
    apigatewayv2           = var.endpoint
    applicationautoscaling = var.endpoint
    cloudwatch             = var.endpoint
    cloudwatchlogs         = var.endpoint
    ec2                    = var.endpoint
    ecr                    = var.endpoint
    ecs                    = var.endpoint
    elbv2                  = var.endpoint
    events                 = var.endpoint
    iam                    = var.endpoint
    kms                    = var.endpoint
    lambda                 = var.endpoint
    s3                     = var.endpoint
    scheduler              = var.endpoint
    secretsmanager         = var.endpoint
    sns                    = var.endpoint
    sqs                    = var.endpoint
    ssm                    = var.endpoint
    sts                    = var.endpoint
  }

  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}

module "network" {
  source = "../../modules/network"

  name               = local.name
  availability_zones = ["us-east-1a", "us-east-1b"]
  single_nat_gateway = true
  tags               = local.tags
}

module "ecr" {
  source = "../../modules/ecr"

  name               = "app"
  keep_tagged_images = 3
  force_delete       = true
  tags               = local.tags
}

module "cluster" {
  source = "../../modules/ecs_cluster"

  name = "demo"
  tags = local.tags
}

module "alb" {
  source = "../../modules/alb"

  name                = "slipway-local"
  vpc_id              = module.network.vpc_id
  public_subnet_ids   = module.network.public_subnet_ids
  domain_name         = "web.slipway.local"
  deletion_protection = false
  tags                = local.tags
}

# `web`: deployed automatically on every matching push. Its log-router sidecar shows that
# a push changes only the containers a target names.
module "web" {
  source = "../../modules/ecs_service"

  name                 = "web"
  cluster_arn          = module.cluster.arn
  cluster_name         = module.cluster.name
  repository_arns      = [module.ecr.arn]
  image                = "${module.ecr.repository_url}:v1.4.1"
  health_check_command = ["CMD", "/usr/local/bin/app", "healthcheck"]
  vpc_id               = module.network.vpc_id
  subnet_ids           = module.network.private_subnet_ids
  load_balancer = {
    target_group_arn  = module.alb.target_group_arn
    security_group_id = module.alb.security_group_id
  }
  min_capacity = 1
  max_capacity = 2
  placement    = "binpack"
  # The emulator's Application Auto Scaling cannot tag (ListTagsForResource is missing).
  autoscaling = false
  sidecars = [{
    name              = "log-router"
    image             = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0"
    essential         = false
    memoryReservation = 50
  }]
  tags = local.tags
}

# web-prod's own load balancer, with what ECS's canary shifts traffic with: an alternate
# target group, the production listener rule and a test listener.
module "alb_prod" {
  source = "../../modules/alb"

  name                = "slipway-local-prod"
  vpc_id              = module.network.vpc_id
  public_subnet_ids   = module.network.public_subnet_ids
  domain_name         = "web-prod.slipway.local"
  deletion_protection = false
  progressive         = true
  # Slipway's test probe runs in the private subnets: a call from there to this
  # internet-facing load balancer leaves through NAT, so the listener sees the NAT
  # gateways' addresses (Elastic Load Balancing User Guide, internet-facing load
  # balancers resolve to public addresses), besides the VPC's own range.
  test_cidrs = concat([module.network.cidr_block], [for ip in module.network.nat_public_ips : "${ip}/32"])
  tags       = local.tags
}

# Where Slipway's test probe runs: the private subnets, allowed out to the test listener
# only (through NAT, the load balancer's public address).
resource "aws_security_group" "test_probe" {
  name        = "slipway-local-test-probe"
  description = "Slipway's test probe: out to web-prod's test listener"
  vpc_id      = module.network.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_egress_rule" "test_probe" {
  security_group_id = aws_security_group.test_probe.id
  description       = "To the test listener (its public address, through NAT)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 8443
  to_port           = 8443
}

# `web-prod`: the same image, as a canary: it serves the test listener first, and a person
# approves before production traffic moves (README, "Progressive delivery").
module "web_prod" {
  source = "../../modules/ecs_service"

  name                 = "web-prod"
  cluster_arn          = module.cluster.arn
  cluster_name         = module.cluster.name
  repository_arns      = [module.ecr.arn]
  image                = "${module.ecr.repository_url}:v1.4.1"
  health_check_command = ["CMD", "/usr/local/bin/app", "healthcheck"]
  vpc_id               = module.network.vpc_id
  subnet_ids           = module.network.private_subnet_ids
  load_balancer = {
    target_group_arn  = module.alb_prod.target_group_arn
    security_group_id = module.alb_prod.security_group_id
  }
  progressive  = true
  cpu          = 512
  memory       = 1024
  min_capacity = 2
  max_capacity = 4
  placement    = "spread"
  autoscaling  = false
  tags         = local.tags
}

module "slipway" {
  source = "../../modules/slipway"

  name                  = local.name
  environment           = "local"
  package_dir           = var.package_dir
  architecture          = var.architecture
  force_destroy_buckets = true
  # The local AWS speaks plain HTTP and enforces bucket policies: a TLS-only policy would
  # refuse every call the functions make to it.
  require_tls = false
  test_probe_network = {
    subnet_ids         = module.network.private_subnet_ids
    security_group_ids = [aws_security_group.test_probe.id]
  }
  targets = [
    {
      name               = "web"
      cluster            = module.cluster.name
      service            = module.web.service_name
      containers         = ["app"]
      repository         = module.ecr.name
      tags               = { semver = ">=1.0, <2" }
      policy             = "auto"
      task_role_arn      = module.web.task_role_arn
      execution_role_arn = module.web.execution_role_arn
      task_family        = module.web.task_definition_family
    },
    {
      name       = "prod-web"
      cluster    = module.cluster.name
      service    = module.web_prod.service_name
      containers = ["app"]
      repository = module.ecr.name
      tags       = { semver = ">=1.0, <2" }
      policy     = "approval"
      approval   = { expires_after_hours = 24 }
      # Only digests that succeeded on web and ran there for the soak (20 s here so that
      # the demo waits seconds; hours on AWS, with the alarms that must stay quiet).
      promotion = { from = ["web"], soak = "20s" }
      rollout = {
        strategy    = "canary"
        canary      = { percent = 10, bake_minutes = 5 }
        alarms      = [module.alb_prod.progressive.alarm_name]
        approval_at = "post-test-traffic"
        load_balancer = {
          target_group_arn           = module.alb_prod.progressive.target_group_arn
          container_name             = "app"
          container_port             = 3000
          alternate_target_group_arn = module.alb_prod.progressive.alternate_target_group_arn
          production_listener_rule   = module.alb_prod.progressive.production_listener_rule
          test_listener_rule         = module.alb_prod.progressive.test_listener_rule
          role_arn                   = module.web_prod.infrastructure_role_arn
          test_url                   = module.alb_prod.progressive.test_url
        }
        # After test traffic moved, the new revision must answer 200 on the test
        # listener's /health (app/'s check) for 10 s, or ECS rolls back by itself (short
        # here so that the demo's calls take seconds; a minute or more on AWS).
        test_probe = { path = "/health", status = 200, for_seconds = 10, every_seconds = 5 }
      }
      task_role_arn      = module.web_prod.task_role_arn
      execution_role_arn = module.web_prod.execution_role_arn
      task_family        = module.web_prod.task_definition_family
    },
  ]
  tags = local.tags
}

# Stands in for the approvers' inbox: the demo reads what the topic published from here.
resource "aws_sqs_queue" "approvals_inbox" {
  # checkov:skip=CKV_AWS_27: a local test queue on the emulator, holding nothing secret
  name = "slipway-approvals-inbox"
}

resource "aws_sns_topic_subscription" "approvals_inbox" {
  topic_arn            = module.slipway.approvals_topic_arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.approvals_inbox.arn
  raw_message_delivery = true
}

# The CI role, as dev composes it: GitHub's OIDC provider and a role only this repository's
# main branch can assume. The emulator cannot mint GitHub tokens; the test reads back what
# IAM stored.
module "github_ci" {
  source = "../../modules/github_ci"

  name                      = "${local.name}-github-ci"
  github_repository         = "acme/shop"
  allowed_refs              = ["ref:refs/heads/main"]
  ecr_repository_arn        = module.ecr.arn
  source_bucket_arn         = module.slipway.source_bucket_arn
  deploy_prefix             = module.slipway.source_prefix
  source_bucket_kms_key_arn = module.slipway.kms_key_arn
  tags                      = local.tags
}
