# State written before the composition moved into infra/modules/platform: the same
# resources, now one level down (terraform plan shows moves, nothing replaced; Terraform
# "Refactor modules": https://developer.hashicorp.com/terraform/language/modules/develop/refactoring).

moved {
  from = module.network
  to   = module.platform.module.network
}

moved {
  from = module.ecr
  to   = module.platform.module.ecr
}

moved {
  from = module.cluster
  to   = module.platform.module.cluster
}

moved {
  from = module.alb
  to   = module.platform.module.alb
}

moved {
  from = module.web
  to   = module.platform.module.web
}

moved {
  from = module.slipway
  to   = module.platform.module.slipway
}

moved {
  from = module.github_ci
  to   = module.platform.module.github_ci
}
