# Who may assume the CI role and what it may do, with a mock AWS provider (`make infra-test`).

mock_provider "aws" {
  source = "../../tests/aws-mock"
}

variables {
  name                      = "shop-dev-github-ci"
  github_repository         = "acme/shop"
  allowed_refs              = ["ref:refs/heads/main"]
  ecr_repository_arn        = "arn:aws:ecr:eu-west-1:111122223333:repository/app"
  source_bucket_arn         = "arn:aws:s3:::slipway-dev-source-111122223333"
  source_bucket_kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/source"
  tags                      = { Project = "shop", Environment = "dev" }
}

run "only_the_repository_and_its_main_branch_may_assume_it" {
  command = apply

  assert {
    condition     = jsondecode(output.trust_policy).Statement[0].Condition.StringLike["token.actions.githubusercontent.com:sub"] == ["repo:acme/shop:ref:refs/heads/main"]
    error_message = "The trust policy names this repository's main branch and nothing else."
  }

  assert {
    condition     = jsondecode(output.trust_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    error_message = "Only tokens minted for STS are accepted."
  }

  assert {
    condition     = jsondecode(output.trust_policy).Statement[0].Principal.Federated == aws_iam_openid_connect_provider.github[0].arn
    error_message = "The role trusts GitHub's OIDC provider only."
  }

  assert {
    condition     = length(jsondecode(output.trust_policy).Statement) == 1 && jsondecode(output.trust_policy).Statement[0].Action == "sts:AssumeRoleWithWebIdentity"
    error_message = "No other principal may assume the role."
  }

  assert {
    condition     = aws_iam_openid_connect_provider.github[0].url == "https://token.actions.githubusercontent.com" && aws_iam_openid_connect_provider.github[0].client_id_list == toset(["sts.amazonaws.com"])
    error_message = "The provider is GitHub's, for STS."
  }
}

run "it_pushes_one_repository_and_writes_only_the_deploy_prefix" {
  command = apply

  assert {
    condition     = [for s in jsondecode(output.permissions_policy).Statement : s.Sid] == ["EcrLogin", "EcrPushApp", "UploadDeployManifests", "EncryptDeployManifests"]
    error_message = "Login, push, upload, encrypt: nothing else."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(output.permissions_policy).Statement :
      s.Resource == ["*"] ? s.Action == ["ecr:GetAuthorizationToken"] : true
    ])
    error_message = "Only the ECR login token may be on every resource."
  }

  assert {
    condition     = [for s in jsondecode(output.permissions_policy).Statement : s.Resource if s.Sid == "EcrPushApp"] == [["arn:aws:ecr:eu-west-1:111122223333:repository/app"]]
    error_message = "Push only to the app's repository."
  }

  assert {
    condition     = [for s in jsondecode(output.permissions_policy).Statement : s.Resource if s.Sid == "UploadDeployManifests"] == [["arn:aws:s3:::slipway-dev-source-111122223333/deploy/*"]]
    error_message = "Write only under the source bucket's deploy prefix."
  }

  assert {
    condition = alltrue(flatten([
      for s in jsondecode(output.permissions_policy).Statement : [
        for action in s.Action : !strcontains(action, "*") && !startswith(action, "iam:") && !startswith(action, "ecs:") && action != "s3:GetObject" && action != "s3:DeleteObject"
      ]
    ]))
    error_message = "No wildcards, no IAM, no ECS, no reading or deleting manifests."
  }
}

run "prod_takes_release_tags_and_an_existing_provider" {
  command = apply

  variables {
    allowed_refs         = ["ref:refs/tags/v*"]
    create_oidc_provider = false
    oidc_provider_arn    = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
  }

  assert {
    condition     = length(aws_iam_openid_connect_provider.github) == 0
    error_message = "An account's existing provider is reused, not duplicated."
  }

  assert {
    condition     = jsondecode(output.trust_policy).Statement[0].Condition.StringLike["token.actions.githubusercontent.com:sub"] == ["repo:acme/shop:ref:refs/tags/v*"]
    error_message = "prod's role is for release tags."
  }
}

run "without_a_source_bucket_there_is_no_upload_permission" {
  command = apply

  variables {
    source_bucket_arn         = null
    source_bucket_kms_key_arn = null
  }

  assert {
    condition     = [for s in jsondecode(output.permissions_policy).Statement : s.Sid] == ["EcrLogin", "EcrPushApp"]
    error_message = "No bucket, no S3 or KMS statement."
  }
}

run "refuses_any_branch" {
  command = plan

  variables {
    allowed_refs = ["ref:refs/heads/*"]
  }

  expect_failures = [var.allowed_refs]
}

run "refuses_a_wildcard_repository" {
  command = plan

  variables {
    github_repository = "acme/*"
  }

  expect_failures = [var.github_repository]
}

run "needs_a_provider_when_not_creating_one" {
  command = plan

  variables {
    create_oidc_provider = false
  }

  expect_failures = [aws_iam_role.this]
}

run "retag_only_tags_what_is_there_and_pushes_no_bytes" {
  command = apply

  variables {
    name         = "shop-prod-github-ci"
    allowed_refs = ["ref:refs/tags/v*"]
    retag_only   = true
  }

  assert {
    condition     = [for s in jsondecode(output.permissions_policy).Statement : s.Sid] == ["EcrLogin", "EcrRetagApp", "UploadDeployManifests", "EncryptDeployManifests"]
    error_message = "prod's role tags images; it has no push statement."
  }

  assert {
    condition     = [for s in jsondecode(output.permissions_policy).Statement : s.Action if s.Sid == "EcrRetagApp"] == [["ecr:PutImage", "ecr:BatchGetImage", "ecr:DescribeImages"]]
    error_message = "Read an image and put its manifest under a new tag: nothing else."
  }

  assert {
    condition = alltrue(flatten([
      for s in jsondecode(output.permissions_policy).Statement : [
        for action in s.Action : !contains(["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"], action)
      ]
    ]))
    error_message = "No layer upload: prod's CI cannot bring bytes dev never ran."
  }
}
