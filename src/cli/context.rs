//! The AWS side of a command: the operator's own credentials (the standard chain), the
//! settings of the environment, and the readers built over them.

use crate::aws::{config_from_object, EcsService, S3Store};
use crate::console::reads::Reads;
use crate::input::config::{Config, Home};

use super::endpoint::OperatorEndpoint;
use super::exit::CliError;
use super::settings::{self, Settings};

pub struct Context {
    pub settings: Settings,
    pub shared: aws_config::SdkConfig,
    pub s3: aws_sdk_s3::Client,
}

impl Context {
    pub async fn load(environment: Option<&str>) -> Result<Context, CliError> {
        let environment = environment
            .filter(|e| !e.is_empty())
            .ok_or(CliError::NoEnvironment)?;
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .app_name(aws_config::AppName::new("slipway-cli").expect("a valid app name"))
            .load()
            .await;
        let settings = settings::load(&aws_sdk_ssm::Client::new(&shared), environment).await?;
        // The emulator needs path-style S3 addressing, as the functions' clients do.
        let s3_config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(shared.endpoint_url().is_some())
            .build();
        Ok(Context {
            settings,
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            shared,
        })
    }

    pub fn reads(&self) -> Reads<S3Store> {
        Reads::new(S3Store::new(
            self.s3.clone(),
            self.settings.ledger_bucket.clone(),
        ))
    }

    pub fn ecs(&self) -> EcsService {
        EcsService::new(aws_sdk_ecs::Client::new(&self.shared))
    }

    /// The operator endpoint, signed as the operator. `SLIPWAY_OPERATOR_URL` overrides the
    /// settings' URL: the local stack serves it elsewhere (tests/local/api_gateway.py), and
    /// so may a private custom domain.
    pub fn endpoint(&self) -> Result<OperatorEndpoint, CliError> {
        let overridden = std::env::var("SLIPWAY_OPERATOR_URL")
            .ok()
            .filter(|u| !u.is_empty());
        let url = overridden
            .or_else(|| self.settings.operator_url.clone())
            .ok_or_else(|| CliError::Settings {
                parameter: super::settings::parameter_name(&self.settings.environment),
                message: "it names no operator_url: re-apply Slipway's Terraform".into(),
            })?;
        OperatorEndpoint::new(&url, &self.settings.region, &self.shared)
    }

    pub fn ecr(&self) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(&self.shared)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.shared)
    }

    /// The targets config the functions run with (the version Terraform applied).
    pub async fn config(&self) -> Result<Config, CliError> {
        let home = Home {
            account: self.settings.account.clone(),
            region: self.settings.region.clone(),
        };
        config_from_object(
            &self.s3,
            &home,
            &self.settings.config_s3,
            self.settings.config_version.clone(),
        )
        .await
        .map_err(|err| CliError::Settings {
            parameter: self.settings.config_s3.clone(),
            message: err.to_string(),
        })
    }
}
