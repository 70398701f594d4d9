use super::*;

fn event(file: &str) -> Value {
    let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn a_tagged_successful_push_deploys() {
    let EcrIntent::Deploy(push) = parse_ecr_event(&event("ecr-push.json")).unwrap() else {
        panic!("a tagged push must deploy");
    };
    assert_eq!(push.repository, "app");
    assert_eq!(push.tag, "v1.4.2");
    assert_eq!(push.account, "123456789012");
    assert!(is_sha256_digest(&push.digest));
}

#[test]
fn an_untagged_platform_manifest_is_ignored_with_a_reason() {
    let intent = parse_ecr_event(&event("ecr-push-untagged-platform-manifest.json")).unwrap();
    assert!(
        matches!(intent, EcrIntent::Ignore { ref reason, .. } if reason.contains("no image-tag")),
        "{intent:?}"
    );
}

#[test]
fn deletes_and_failures_are_ignored() {
    for (file, why) in [
        ("ecr-delete.json", "DELETE"),
        ("ecr-push-failure.json", "FAILURE"),
    ] {
        let intent = parse_ecr_event(&event(file)).unwrap();
        assert!(
            matches!(intent, EcrIntent::Ignore { ref reason, .. } if reason.contains(why)),
            "{file}: {intent:?}"
        );
    }
}

#[test]
fn a_malformed_event_is_an_error_naming_the_problem() {
    let err = parse_ecr_event(&event("malformed-ecr-push.json")).unwrap_err();
    assert!(err.to_string().contains("repository-name"), "{err}");
}

#[test]
fn unknown_fields_are_accepted() {
    let mut raw = event("ecr-push.json");
    raw["detail"]["a-field-added-next-year"] = Value::from(true);
    raw["another"] = Value::from(1);
    assert!(matches!(
        parse_ecr_event(&raw).unwrap(),
        EcrIntent::Deploy(_)
    ));
}

#[test]
fn events_of_another_kind_are_refused() {
    let mut raw = event("ecr-push.json");
    raw["source"] = Value::from("aws.s3");
    assert!(matches!(
        parse_ecr_event(&raw),
        Err(EventError::UnexpectedKind { .. })
    ));
    assert!(matches!(
        parse_ecr_event(&Value::from("hello")),
        Err(EventError::NotEventBridge(_))
    ));
}

#[test]
fn digests_must_be_sha256() {
    let mut raw = event("ecr-push.json");
    raw["detail"]["image-digest"] = Value::from("sha256:../../etc");
    assert!(matches!(
        parse_ecr_event(&raw),
        Err(EventError::BadDigest { .. })
    ));
}

#[test]
fn ecs_deployment_events_name_their_service_deployment_and_rollback() {
    let Intent::Deploy(EcsEvent::Deployment(done)) =
        parse_ecs_event(&event("ecs-deployment-completed.json")).unwrap()
    else {
        panic!("a deployment event")
    };
    assert_eq!(
        (done.service.cluster.as_str(), done.service.service.as_str()),
        ("demo", "web")
    );
    assert_eq!(done.name, DeploymentEventName::Completed);
    assert_eq!(done.ecs_deployment_id, "ecs-svc/4728390175623849101");
    assert_eq!(done.rolling_back_to(), None);

    let Intent::Deploy(EcsEvent::Deployment(rollback)) =
        parse_ecs_event(&event("ecs-deployment-rollback-in-progress.json")).unwrap()
    else {
        panic!("a deployment event")
    };
    assert_eq!(rollback.name, DeploymentEventName::InProgress);
    assert_eq!(
        rollback.rolling_back_to(),
        Some("ecs-svc/3617289064512738990")
    );
    let Intent::Deploy(EcsEvent::ServiceAction(action)) =
        parse_ecs_event(&event("ecs-service-action-task-start-impaired.json")).unwrap()
    else {
        panic!("a service action")
    };
    assert!(action.is_problem());
    assert_eq!(action.service.service, "web");
}

#[test]
fn ecs_events_without_a_service_arn_are_refused_and_unknown_names_ignored() {
    let mut raw = event("ecs-deployment-completed.json");
    raw["resources"] = serde_json::json!(["arn:aws:ecs:us-east-1:123456789012:service/web"]);
    let err = parse_ecs_event(&raw).unwrap_err();
    assert!(
        err.to_string().contains("service/<cluster>/<service>"),
        "{err}"
    );
    raw["resources"] = serde_json::json!([]);
    assert!(parse_ecs_event(&raw).is_err());
    let mut raw = event("ecs-deployment-completed.json");
    raw["detail"]["eventName"] = Value::from("SERVICE_DEPLOYMENT_PAUSED");
    assert!(matches!(parse_ecs_event(&raw), Ok(Intent::Ignore { .. })));
}

#[test]
fn operator_requests_need_a_target_and_a_person() {
    let request = parse_operator_request(&event("operator-rollback.json")).unwrap();
    assert_eq!(request.action, OperatorAction::Rollback);
    assert_eq!(request.target, "web");
    let mut raw = event("operator-unfreeze.json");
    raw["detail"]["requested_by"] = Value::from(" ");
    assert!(parse_operator_request(&raw).is_err());
    raw["detail"]["action"] = Value::from("deploy-anything");
    assert!(parse_operator_request(&raw).is_err());
}

#[test]
fn field_shapes_accept_what_aws_sends_and_nothing_else() {
    for region in [
        "us-east-1",
        "ap-southeast-2",
        "us-gov-west-1",
        "eu-isoe-west-1",
    ] {
        assert!(shapes::region(region), "{region}");
    }
    for region in ["us-east", "US-EAST-1", "us-east-1\n", "us--1", "east-1"] {
        assert!(!shapes::region(region), "{region:?}");
    }
    for tag in ["v1.2.3", "latest", "_build", "1.0.0-rc.1", &"a".repeat(128)] {
        assert!(shapes::tag(tag), "{tag}");
    }
    for tag in ["", ".hidden", "-x", "v1/2", "v1\u{200b}", &"a".repeat(129)] {
        assert!(!shapes::tag(tag), "{tag:?}");
    }
    for name in ["app", "team/app", "a.b_c-d"] {
        assert!(shapes::repository(name), "{name}");
    }
    for name in ["a", "App", "/app", "my app"] {
        assert!(!shapes::repository(name), "{name:?}");
    }
    assert!(shapes::account("123456789012"));
    assert!(!shapes::account("1234567890123") && !shapes::account("12345678901a"));
    assert_eq!(
        shown("v1\u{202e}2"),
        "\"v1\\u{202e}2\"",
        "invisible characters are escaped"
    );
    assert!(shown(&"x".repeat(500)).ends_with("(500 characters)"));
}

/// Every file in `events/invalid/<function>/` is turned away by that function's parser
/// (reliability scenario 5 sends each through the function against the emulator).
#[test]
fn every_invalid_event_is_turned_away_by_its_parser() {
    let root = format!("{}/events/invalid", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for function in ["image-push", "source-upload", "deployment-events"] {
        for entry in std::fs::read_dir(format!("{root}/{function}")).unwrap() {
            let path = entry.unwrap().path();
            let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|err| panic!("{}: not JSON: {err}", path.display()));
            let deploys = match function {
                "image-push" => matches!(parse_ecr_event(&raw), Ok(Intent::Deploy(_))),
                "source-upload" => matches!(
                    crate::input::source::parse_source_event(&raw),
                    Ok(crate::input::source::SourceIntent::Deploy(_))
                ),
                _ => matches!(parse_ecs_event(&raw), Ok(Intent::Deploy(_))),
            };
            assert!(!deploys, "{} was accepted", path.display());
            seen += 1;
        }
    }
    assert!(
        seen >= 30,
        "expected at least 30 invalid events, found {seen}"
    );
}

/// Every file in `events/` must parse as an EventBridge envelope and, for ECR files,
/// give the intent its name promises.
#[test]
fn every_event_file_parses() {
    let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        seen += 1;
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|err| panic!("{}: not JSON: {err}", path.display()));
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        match name.as_str() {
            n if n.starts_with("malformed-ecr") => {
                assert!(parse_ecr_event(&raw).is_err(), "{n} must be refused")
            }
            n if n.starts_with("ecr-") => assert!(parse_ecr_event(&raw).is_ok(), "{n}"),
            n if n.starts_with("s3-") => {
                let parsed = crate::input::source::parse_source_event(&raw);
                assert!(
                    matches!(parsed, Ok(crate::input::source::SourceIntent::Deploy(_))),
                    "{n}: {parsed:?}"
                )
            }
            n if n.starts_with("ecs-hook-") => {
                let parsed = parse_ecs_event(&raw);
                let Ok(Intent::Deploy(EcsEvent::Hook(hook))) = &parsed else {
                    panic!("{n}: {parsed:?}")
                };
                // The file's name is the event's: ecs-hook-awaiting-action → AwaitingAction.
                let named = serde_json::to_value(hook.name).unwrap();
                assert_eq!(format!("ecs-hook-{}.json", named.as_str().unwrap()), n);
                assert!(hook.is_pause() && hook.stage.is_some() && hook.expires_at.is_some());
                assert_eq!(hook.service.service, "web");
            }
            // A release group's one-off task: the name says how its container ended.
            n if n.starts_with("ecs-task-stopped-") => {
                let parsed = crate::input::task_event::parse_task_event(&raw);
                let Ok(Intent::Deploy(stopped)) = &parsed else {
                    panic!("{n}: {parsed:?}")
                };
                let verdict = stopped.task.verdict("app");
                match n {
                    "ecs-task-stopped-exit-0.json" => {
                        assert_eq!(verdict, crate::model::group::TaskVerdict::Succeeded)
                    }
                    "ecs-task-stopped-never-started.json" => assert!(
                        matches!(&verdict, crate::model::group::TaskVerdict::Failed(why)
                            if why.starts_with("the task never started (TaskFailedToStart: CannotPullContainerError")),
                        "{verdict:?}"
                    ),
                    _ => panic!("{n}: name the ending in the test"),
                }
            }
            n if n.starts_with("ecs-") => {
                let parsed = parse_ecs_event(&raw);
                assert!(matches!(parsed, Ok(Intent::Deploy(_))), "{n}: {parsed:?}")
            }
            n if n.starts_with("operator-") => {
                let parsed = parse_operator_request(&raw);
                assert!(parsed.is_ok(), "{n}: {parsed:?}")
            }
            // A promotion hint (`input::hint`), as Slipway publishes it on its bus.
            n if n.starts_with("slipway-") => {
                let parsed = crate::input::hint::parse_hint(&raw);
                assert!(matches!(parsed, Ok(Intent::Deploy(_))), "{n}: {parsed:?}")
            }
            // The reconciler's schedule (EventBridge's "Scheduled Event").
            n if n.starts_with("scheduled-") => {
                assert!(crate::reconcile::is_schedule(&raw), "{n}")
            }
            // HTTP requests to the approval function: `aws::http`'s test parses them
            // with lambda_http, as the function does.
            n if n.starts_with("function-url-") || n.starts_with("http-api-") => {}
            // What ECS sends a Lambda lifecycle hook: not an EventBridge event.
            n if n.starts_with("lifecycle-hook-") => {
                let parsed =
                    serde_json::from_value::<crate::input::lifecycle_hook::HookCall>(raw.clone());
                assert!(parsed.is_ok(), "{n}: {parsed:?}");
                // ...carrying the check Slipway's UpdateService puts in `hookDetails`.
                let details = parsed.unwrap().hook_details.unwrap_or_default();
                let spec = crate::model::test_probe::ProbeSpec::from_details(&details);
                assert!(spec.is_ok(), "{n}: {spec:?}")
            }
            // Lambda's on-failure record: `redrive`'s test takes the event out of it.
            n if n.starts_with("lambda-on-failure-") => {
                let (event, redriven) = crate::input::redrive::event_of(&raw);
                assert!(redriven.is_some() && parse_ecr_event(event).is_ok(), "{n}")
            }
            n => {
                panic!("{n}: no test knows this event file; add it to every_event_file_parses")
            }
        }
    }
    assert!(seen >= 5, "expected the ECR event files, found {seen}");
}
