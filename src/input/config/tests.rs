use super::*;
use globset::Glob;
use semver::{Version, VersionReq};

fn home() -> Home {
    Home {
        account: "123456789012".into(),
        region: "eu-west-1".into(),
    }
}

fn config_with(target: &str) -> Result<Config, ConfigError> {
    Config::from_json(&format!(r#"{{"targets": [{target}]}}"#), &home())
}

const WEB: &str = r#"{"name": "web", "cluster": "prod", "service": "web", "containers": ["app"],
    "repository": "app", "tags": {"glob": "v*"}, "policy": "auto"}"#;

#[test]
fn a_repository_given_by_name_defaults_to_the_functions_account_and_region() {
    let config = config_with(WEB).unwrap();
    let repo = &config.targets[0].repository;
    assert_eq!(
        repo,
        &RepositoryRef {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            name: "app".into()
        }
    );
    assert_eq!(
        repo.image_uri("sha256:ab"),
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:ab"
    );
}

#[test]
fn exact_rules_match_only_that_tag() {
    let rule = TagRule::Exact("latest".into());
    assert!(rule.matches("latest"));
    assert!(!rule.matches("latest2"));
    assert!(!rule.matches("Latest"));
}

#[test]
fn glob_rules_match_by_pattern() {
    let rule = TagRule::Glob(Glob::new("release-*").unwrap().compile_matcher());
    assert!(rule.matches("release-2024.1"));
    assert!(!rule.matches("pre-release-1"));
    assert!(!rule.matches("release"));
}

#[test]
fn semver_rules_match_versions_in_range_with_or_without_a_v() {
    let rule = TagRule::Semver(VersionReq::parse(">=1.2, <2").unwrap());
    assert!(rule.matches("1.2.0"));
    assert!(rule.matches("v1.4.2"));
    assert!(!rule.matches("v1.1.9"));
    assert!(!rule.matches("2.0.0"));
    assert!(!rule.matches("latest"));
    // Pre-releases stay out unless the range asks for them.
    assert!(!rule.matches("1.5.0-rc.1"));
    assert_eq!(rule.version("v1.4.2"), Some(Version::new(1, 4, 2)));
}

#[test]
fn a_bad_glob_names_the_field() {
    let err = config_with(&WEB.replace(r#""glob": "v*""#, r#""glob": "v[""#)).unwrap_err();
    assert!(err.to_string().contains("targets[0].tags.glob"), "{err}");
}

#[test]
fn a_bad_semver_range_names_the_field() {
    let err = config_with(&WEB.replace(r#""glob": "v*""#, r#""semver": ">=one""#)).unwrap_err();
    assert!(err.to_string().contains("targets[0].tags.semver"), "{err}");
}

#[test]
fn a_misspelt_field_is_named() {
    let err = config_with(&WEB.replace(r#""policy": "auto""#, r#""policy": "auto", "polcy": 1"#))
        .unwrap_err();
    assert!(err.to_string().contains("targets[0]"), "{err}");
    assert!(err.to_string().contains("polcy"), "{err}");
}

#[test]
fn an_unknown_policy_is_named() {
    let err = config_with(&WEB.replace(r#""policy": "auto""#, r#""policy": "yolo""#)).unwrap_err();
    assert!(err.to_string().contains("targets[0].policy"), "{err}");
}

#[test]
fn duplicate_names_are_refused() {
    let err = Config::from_json(&format!(r#"{{"targets": [{WEB}, {WEB}]}}"#), &home()).unwrap_err();
    assert!(err.to_string().contains("targets[1].name"), "{err}");
}

#[test]
fn empty_containers_and_bad_accounts_are_refused() {
    let err = config_with(&WEB.replace(r#"["app"]"#, "[]")).unwrap_err();
    assert!(err.to_string().contains("targets[0].containers"), "{err}");
    let err = config_with(&WEB.replace(
        r#""app", "tags""#,
        r#"{"name": "app", "account": "12"}, "tags""#,
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("targets[0].repository.account"),
        "{err}"
    );
}

#[test]
fn outcome_channel_and_freeze_rule_have_safe_defaults() {
    let web = &config_with(WEB).unwrap().targets[0];
    assert_eq!(web.freeze_rule(), FreezeRule::UntilNewerImage);
    assert_eq!(web.outcome_channel(), None);
    assert!(web.runs_on("prod", "web"));
    let set = config_with(&WEB.replace(
        r#""policy": "auto""#,
        r#""policy": "auto", "freeze_after_failure": "until-unfrozen", "notifications": {"slack_channel": "C9"}"#,
    ))
    .unwrap();
    assert_eq!(set.targets[0].freeze_rule(), FreezeRule::UntilUnfrozen);
    assert_eq!(set.targets[0].outcome_channel(), Some("C9"));
    let approval = WEB.replace(
        r#""policy": "auto""#,
        r#""policy": "approval", "freeze_after_failure": "until-unfrozen""#,
    );
    assert_eq!(
        config_with(&approval).unwrap().targets[0].freeze_rule(),
        FreezeRule::Never,
        "a person decides each deployment of an approval target"
    );
    let err = config_with(&WEB.replace(
        r#""policy": "auto""#,
        r#""policy": "auto", "freeze_after_failure": "sometimes""#,
    ))
    .unwrap_err();
    assert!(err.to_string().contains("freeze_after_failure"), "{err}");
}

#[test]
fn approval_settings_default_to_a_day_and_are_checked() {
    let approval = WEB.replace(r#""policy": "auto""#, r#""policy": "approval""#);
    let config = config_with(&approval).unwrap();
    assert_eq!(
        config.targets[0].approval.expires_after,
        chrono::Duration::hours(24)
    );
    let with = |settings: &str| {
        config_with(&approval.replace(
            r#""policy": "approval""#,
            &format!(r#""policy": "approval", "approval": {settings}"#),
        ))
    };
    let set = with(
        r#"{"expires_after_hours": 4, "slack_channel": "C1", "slack_approvers": ["U024BE7LH"],
            "iam_approvers": ["arn:aws:sts::123456789012:assumed-role/release-managers/*"]}"#,
    )
    .unwrap();
    assert_eq!(
        set.targets[0].approval,
        ApprovalSettings {
            expires_after: chrono::Duration::hours(4),
            slack_channel: Some("C1".into()),
            slack_approvers: vec!["U024BE7LH".into()],
            iam_approvers: vec!["arn:aws:sts::123456789012:assumed-role/release-managers/*".into()],
        }
    );
    let approval = &set.targets[0].approval;
    assert!(approval.may_decide_as("arn:aws:sts::123456789012:assumed-role/release-managers/alice"));
    assert!(!approval.may_decide_as("arn:aws:sts::123456789012:assumed-role/developers/bob"));
    assert!(!approval.may_decide_as("arn:aws:iam::123456789012:user/alice"));
    for (settings, field) in [
        (
            r#"{"expires_after_hours": 0}"#,
            "approval.expires_after_hours",
        ),
        (
            r#"{"iam_approvers": ["alice"]}"#,
            "approval.iam_approvers[0]",
        ),
        (
            r#"{"iam_approvers": ["arn:aws:iam::123456789012:role/release-managers"]}"#,
            "approval.iam_approvers[0]",
        ),
        (
            r#"{"expires_after_hours": 169}"#,
            "approval.expires_after_hours",
        ),
        (r#"{"slack_channel": "C1"}"#, "approval.slack_approvers"),
        (
            r#"{"slack_channel": "C1", "slack_approvers": ["@alice"]}"#,
            "approval.slack_approvers[0]",
        ),
    ] {
        let err = with(settings).unwrap_err();
        assert!(err.to_string().contains(field), "{settings}: {err}");
    }
    let err =
        config_with(&WEB.replace(r#""policy": "auto""#, r#""policy": "auto", "approval": {}"#))
            .unwrap_err();
    assert!(err.to_string().contains("targets[0].approval"), "{err}");
}

#[test]
fn an_empty_target_list_is_refused() {
    let err = Config::from_json(r#"{"targets": []}"#, &home()).unwrap_err();
    assert!(err.to_string().contains("`targets`"), "{err}");
}

const PROD: &str = r#"{"name": "web-prod", "cluster": "prod", "service": "web", "containers": ["app"],
    "repository": "app", "tags": {"semver": ">=1"}, "policy": "approval", "ROLLOUT"}"#;

const LB: &str = r#""load_balancer": {"target_group_arn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/blue/1",
    "container_name": "app", "container_port": 8080,
    "alternate_target_group_arn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/green/2",
    "production_listener_rule": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/a/1/2/3",
    "test_listener_rule": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/a/1/4/5",
    "role_arn": "arn:aws:iam::123456789012:role/ecs-infrastructure"}"#;

fn prod_with(rollout: &str) -> Result<Config, ConfigError> {
    config_with(&PROD.replace("\"ROLLOUT\"", &format!(r#""rollout": {{{rollout}}}"#)))
}

fn field_of(err: ConfigError) -> String {
    match err {
        ConfigError::Invalid { field, .. } => field,
        other => panic!("{other}"),
    }
}

#[test]
fn a_target_without_a_rollout_block_rolls_as_today() {
    let config = config_with(WEB).unwrap();
    assert_eq!(config.targets[0].rollout, RolloutPolicy::default());
    assert_eq!(config.targets[0].rollout.settings(60), None);
}

#[test]
fn a_canary_approved_after_test_traffic_reads_with_ecs_defaults() {
    use crate::model::progressive::{ApprovalPoint, Stage, Strategy};
    let config = prod_with(&format!(
        r#""strategy": "canary", "approval_at": "post-test-traffic", "alarms": ["web-5xx"], {LB}"#
    ))
    .unwrap();
    let rollout = &config.targets[0].rollout;
    assert_eq!(
        rollout.strategy,
        Strategy::Canary {
            percent: 5.0,
            bake_minutes: 10
        }
    );
    assert_eq!(
        rollout.approval,
        ApprovalPoint::During(Stage::PostTestTraffic)
    );
    let pause = rollout.settings(24 * 60).unwrap().pause.unwrap();
    assert_eq!(
        pause.timeout_minutes,
        24 * 60,
        "the pause times out with the approval"
    );
}

#[test]
fn a_rollout_ecs_would_refuse_fails_at_cold_start_naming_the_field() {
    let cases = [
        (
            r#""strategy": "canary", "approval_at": "test-traffic", LB"#,
            "targets[0].rollout.approval_at",
        ),
        (
            r#""strategy": "canary", "approval_at": "halfway", LB"#,
            "targets[0].rollout.approval_at",
        ),
        (
            r#""strategy": "canary", "canary": {"percent": 0.05}, LB"#,
            "targets[0].rollout.canary.percent",
        ),
        (
            r#""strategy": "linear", "linear": {"step_percent": 2}, LB"#,
            "targets[0].rollout.linear.step_percent",
        ),
        (
            r#""strategy": "blue-green", LB"#,
            "targets[0].rollout.bake_minutes",
        ),
        (
            r#""strategy": "canary""#,
            "targets[0].rollout.load_balancer",
        ),
        (
            r#""strategy": "rolling", "approval_at": "post-test-traffic""#,
            "targets[0].rollout.approval_at",
        ),
        (
            r#""strategy": "rolling", "canary": {}"#,
            "targets[0].rollout",
        ),
        (r#""strategy": "waves""#, "targets[0].rollout.strategy"),
    ];
    for (rollout, field) in cases {
        let err = prod_with(&rollout.replace("LB", LB)).unwrap_err();
        assert_eq!(field_of(err), field, "{rollout}");
    }
}

#[test]
fn a_pause_inside_the_rollout_needs_an_approval_target() {
    let auto = WEB.replace(
        r#""policy": "auto""#,
        &format!(r#""policy": "auto", "rollout": {{"strategy": "canary", "approval_at": "post-test-traffic", {LB}}}"#),
    );
    let err = config_with(&auto).unwrap_err();
    assert_eq!(field_of(err), "targets[0].rollout.approval_at");
}

#[test]
fn windows_are_read_and_a_bad_zone_span_or_a_window_that_never_opens_is_refused_at_cold_start() {
    let with = |windows: &str| {
        config_with(&WEB.replace(
            r#""policy": "auto""#,
            &format!(r#""policy": "auto", "windows": {windows}"#),
        ))
    };
    let config =
        with(r#"{"time_zone": "America/New_York", "deny": ["FR 16:00 -> MO 08:00"]}"#).unwrap();
    let windows = config.targets[0].windows.as_ref().unwrap();
    assert_eq!(windows.zone.name(), "America/New_York");
    assert_eq!(windows.deny[0].text, "FR 16:00 -> MO 08:00");
    for (windows, field, problem) in [
        (
            r#"{"time_zone": "Mars/Olympus", "deny": ["FR 16:00 -> MO 08:00"]}"#,
            "targets[0].windows",
            "not an IANA time zone",
        ),
        (
            r#"{"time_zone": "UTC", "deny": ["FR 16:00 to MO 08:00"]}"#,
            "targets[0].windows.deny[0]",
            "not a span",
        ),
        (
            r#"{"time_zone": "UTC", "allow": ["MO 09:00 -> MO 10:00"], "deny": ["MO 08:00 -> MO 11:00"]}"#,
            "targets[0].windows",
            "never open",
        ),
        (
            r#"{"time_zone": "UTC"}"#,
            "targets[0].windows",
            "no `allow` or `deny`",
        ),
    ] {
        let err = with(windows).unwrap_err().to_string();
        assert!(
            err.contains(field) && err.contains(problem),
            "{windows}: {err}"
        );
    }
}

fn two_stages(promotion: &str) -> Result<Config, ConfigError> {
    let dev = WEB.replace(r#""name": "web""#, r#""name": "dev-web""#);
    let prod = WEB.replace(
        r#""policy": "auto""#,
        &format!(r#""policy": "auto", "promotion": {promotion}"#),
    );
    Config::from_json(&format!(r#"{{"targets": [{dev}, {prod}]}}"#), &home())
}

#[test]
fn promotion_is_read_with_one_of_and_no_soak_by_default() {
    let config = two_stages(r#"{"from": ["dev-web"]}"#).unwrap();
    let promotion = config.targets[1].promotion.as_ref().unwrap();
    assert_eq!(promotion.from, ["dev-web"]);
    assert_eq!(
        promotion.availability,
        crate::model::promotion::Availability::OneOf
    );
    assert_eq!(promotion.soak, chrono::Duration::zero());
    let config = two_stages(
        r#"{"from": ["dev-web"], "availability": "all", "soak": "1h 30m", "alarms_ok": ["web-5xx"]}"#,
    )
    .unwrap();
    let promotion = config.targets[1].promotion.as_ref().unwrap();
    assert_eq!(promotion.soak, chrono::Duration::minutes(90));
    assert_eq!(promotion.alarms_ok, ["web-5xx"]);
}

#[test]
fn a_promotion_from_nowhere_itself_or_in_a_circle_is_refused_at_cold_start() {
    for (promotion, field, problem) in [
        (
            r#"{"from": []}"#,
            "targets[1].promotion.from",
            "names no upstream",
        ),
        (
            r#"{"from": ["staging"]}"#,
            "targets[1].promotion.from[0]",
            "not a target",
        ),
        (
            r#"{"from": ["web"]}"#,
            "targets[1].promotion.from[0]",
            "the target itself",
        ),
        (
            r#"{"from": ["dev-web"], "soak": "two hours"}"#,
            "targets[1].promotion.soak",
            "not a duration",
        ),
        (
            r#"{"from": ["dev-web"], "soak": "8d"}"#,
            "targets[1].promotion.soak",
            "longer than 7 days",
        ),
        (
            r#"{"from": ["dev-web"], "alarms_ok": [""]}"#,
            "targets[1].promotion.alarms_ok[0]",
            "is empty",
        ),
        (
            r#"{"from": ["dev-web"], "availability": "most"}"#,
            "targets[1].promotion.availability",
            "unknown variant",
        ),
    ] {
        let err = two_stages(promotion).unwrap_err().to_string();
        assert!(
            err.contains(field) && err.contains(problem),
            "{promotion}: {err}"
        );
    }
    let dev = WEB.replace(
        r#""name": "web", "#,
        r#""name": "dev-web", "promotion": {"from": ["web"]}, "#,
    );
    let prod = WEB.replace(
        r#""policy": "auto""#,
        r#""policy": "auto", "promotion": {"from": ["dev-web"]}"#,
    );
    let err = Config::from_json(&format!(r#"{{"targets": [{dev}, {prod}]}}"#), &home())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("in a circle: dev-web <- web <- dev-web"),
        "{err}"
    );
}

/// web promoting from `dev-web`, another Slipway's target described by `upstream`.
fn remote_stage(upstream: &str) -> Result<Config, ConfigError> {
    let web = WEB.replace(
        r#""policy": "auto""#,
        r#""policy": "auto", "promotion": {"from": ["dev-web"]}"#,
    );
    Config::from_json(
        &format!(r#"{{"targets": [{web}], "upstreams": [{upstream}]}}"#),
        &home(),
    )
}

const DEV_WEB: &str = r#"{"name": "dev-web", "account": "111122223333",
    "ledger_bucket": "slipway-dev-ledger-111122223333", "target": "web", "tags": {"glob": "main-*"}}"#;

#[test]
fn a_stage_may_promote_from_another_slipways_target_named_in_upstreams() {
    let config = remote_stage(DEV_WEB).unwrap();
    let upstream = config.upstream("dev-web").unwrap();
    assert_eq!(
        (
            upstream.account.as_str(),
            upstream.target.as_str(),
            upstream.ledger_bucket.as_str()
        ),
        ("111122223333", "web", "slipway-dev-ledger-111122223333")
    );
    assert!(upstream.tags.matches("main-3f2c"));
    assert_eq!(config.downstream_of("dev-web").len(), 1);
}

#[test]
fn an_upstream_is_refused_in_this_account_under_a_taken_name_or_with_a_bad_bucket() {
    for (upstream, field, says) in [
        (
            DEV_WEB.replace("111122223333\",", "123456789012\","),
            "upstreams[0].account",
            "own account",
        ),
        (
            DEV_WEB.replace("\"dev-web\"", "\"web\""),
            "upstreams[0].name",
            "must be unique",
        ),
        (
            DEV_WEB.replace("slipway-dev-ledger-111122223333", "Slipway_Ledger"),
            "upstreams[0].ledger_bucket",
            "not an S3 bucket name",
        ),
        (
            DEV_WEB.replace("\"111122223333\"", "\"1111\""),
            "upstreams[0].account",
            "12-digit",
        ),
    ] {
        let Err(ConfigError::Invalid {
            field: got,
            problem,
        }) = remote_stage(&upstream)
        else {
            panic!("{upstream} should be refused")
        };
        assert_eq!(got, field, "{problem}");
        assert!(problem.contains(says), "{problem}");
    }
}

#[test]
fn promotion_from_a_name_neither_a_target_nor_an_upstream_is_refused() {
    let err = remote_stage(&DEV_WEB.replace("\"dev-web\"", "\"staging-web\"")).unwrap_err();
    assert!(
        err.to_string()
            .contains("not a target of this config, nor one of its `upstreams`"),
        "{err}"
    );
}

#[test]
fn promoted_elsewhere_names_targets_of_this_config() {
    let config = Config::from_json(
        &format!(r#"{{"targets": [{WEB}], "promoted_elsewhere": ["web"]}}"#),
        &home(),
    )
    .unwrap();
    assert!(config.is_promoted_from("web"));
    let err = Config::from_json(
        &format!(r#"{{"targets": [{WEB}], "promoted_elsewhere": ["api"]}}"#),
        &home(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("promoted_elsewhere[0]"), "{err}");
}
