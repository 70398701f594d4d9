//! A release group's one-off task against the emulator: RunTask of a revision, run the way
//! the service runs its tasks, DescribeTasks as the task goes, StopTask.
//!
//! moto 5.2.5 cannot run an awsvpc task (its task's network interface has no
//! `private_dns_name`: HTTP 500), which every Fargate task is: for that service the fault
//! proxy answers RunTask as the API reference documents it, and the test reads what
//! Slipway sent. A bridge-mode task runs in moto itself. What moto cannot show at all —
//! RunTask's client token (moto ignores it), exit codes other than 0, a task that never
//! starts, a task ECS forgot — `slipway::memory::MemoryTasks` plays as ECS documents it,
//! in the unit tests.

mod common;

use std::time::Duration;

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType,
    NetworkConfiguration, NetworkMode,
};
use common::faults::FaultProxy;
use common::*;
use serde_json::json;
use slipway::aws::CallTimeouts;
use slipway::aws::EcsTasks;
use slipway::ports::{AwsErrorKind, OneOffTask, TaskRunner, TaskStatus};

/// One EC2 query-API call to the emulator (moto checks that a service's subnets and
/// security groups exist; the tests have no EC2 SDK): the value of `<field>` in the answer.
async fn ec2(world: &World, params: &str, field: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let endpoint = world.emulator.endpoint.trim_start_matches("http://");
    let body = format!("{params}&Version=2016-11-15");
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {endpoint}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20261206/{REGION}/ec2/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(endpoint).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let open = format!("<{field}>");
    let start = answer
        .find(&open)
        .unwrap_or_else(|| panic!("no {field} in {answer}"))
        + open.len();
    answer[start..start + answer[start..].find('<').unwrap()].to_string()
}

/// A Fargate service `web` in awsvpc mode, as the bundled Terraform creates it.
/// A task definition `web` with one container `app` running `image`. moto sums its
/// containers' memory to place a task, and fails (HTTP 500) on a container without
/// `memory` or `memoryReservation`, which Fargate allows: `app` has a reservation.
async fn register(world: &World, image: &str, mode: NetworkMode) -> String {
    let registered = world
        .clients
        .ecs
        .register_task_definition()
        .family("web")
        .network_mode(mode.clone())
        // moto takes a Fargate task definition for awsvpc, whatever its network mode.
        .set_requires_compatibilities(
            (mode == NetworkMode::Awsvpc).then(|| vec![Compatibility::Fargate]),
        )
        .cpu("512")
        .memory("1024")
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image(image)
                .essential(true)
                .memory_reservation(512)
                .build(),
        )
        .send()
        .await
        .unwrap();
    registered
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap()
        .to_string()
}

/// Service `web` on Fargate running `task_definition`, in `network` when given.
async fn create_web(world: &World, task_definition: &str, network: Option<NetworkConfiguration>) {
    world
        .clients
        .ecs
        .create_service()
        .cluster("prod")
        .service_name("web")
        .task_definition(task_definition)
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
        .set_network_configuration(network)
        .send()
        .await
        .unwrap();
}

/// A Fargate service `web` in awsvpc mode, as the bundled Terraform creates it, in a
/// subnet and security group of the emulator's EC2 (moto checks they exist). Returns the
/// task definition, the subnet and the security group.
async fn awsvpc_web(world: &World) -> (String, String, String) {
    let vpc = ec2(world, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16", "vpcId").await;
    let subnet = ec2(
        world,
        &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.1.0%2F24"),
        "subnetId",
    )
    .await;
    let group = ec2(
        world,
        &format!("Action=CreateSecurityGroup&VpcId={vpc}&GroupName=web&GroupDescription=web"),
        "groupId",
    )
    .await;
    let running = world.push_image(Some("v1")).await;
    let task_definition = register(world, &image_uri(&running), NetworkMode::Awsvpc).await;
    let network = NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets(&subnet)
                .security_groups(&group)
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .unwrap(),
        )
        .build();
    create_web(world, &task_definition, Some(network)).await;
    (task_definition, subnet, group)
}

fn migrate(task_definition: &str) -> OneOffTask {
    OneOffTask {
        cluster: "prod".into(),
        like_service: "web".into(),
        task_definition: task_definition.into(),
        container: "app".into(),
        command: vec!["./manage".into(), "migrate".into()],
        client_token: "0123456789abcdef0123456789abcdef".into(),
        started_by: "slipway/shop-4f1c2a9b0d3e5f67/0".into(),
    }
}

/// RunTask answered as the API reference's response syntax has it: the tasks started and
/// the failures, one list each. <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html>
fn answer_run_task(proxy: &FaultProxy, failure: Option<&'static str>) {
    proxy.answer(
        |call| call.operation == "RunTask",
        move |call| {
            let body = call.body.clone().unwrap_or_default();
            let answer = match failure {
                None => json!({"tasks": [{
                    "taskArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/prod/0a1b2c3d4e5f"),
                    "taskDefinitionArn": body["taskDefinition"], "startedBy": body["startedBy"],
                    "lastStatus": "PROVISIONING", "desiredStatus": "RUNNING"}], "failures": []}),
                Some(reason) => {
                    json!({"tasks": [], "failures": [{"reason": reason, "detail": "no room"}]})
                }
            };
            (200, answer)
        },
    );
}

#[tokio::test]
async fn a_one_off_task_runs_like_its_service_with_the_steps_command_and_started_by() {
    let world = World::new().await;
    let (task_definition, subnet, group) = awsvpc_web(&world).await;
    let proxy = FaultProxy::start(&world.emulator.endpoint, Duration::from_secs(30), 7).await;
    answer_run_task(&proxy, None);
    let clients = clients_at(&proxy.endpoint, CallTimeouts::default()).await;
    let tasks = EcsTasks::new(clients.ecs.clone());
    let arn = tasks.run_task(&migrate(&task_definition)).await.unwrap();
    assert!(arn.ends_with("task/prod/0a1b2c3d4e5f"));

    let sent = proxy
        .calls()
        .into_iter()
        .find(|c| c.operation == "RunTask")
        .and_then(|c| c.body)
        .unwrap();
    assert_eq!(sent["cluster"], "prod");
    assert_eq!(sent["taskDefinition"], task_definition.as_str());
    assert_eq!(sent["clientToken"], "0123456789abcdef0123456789abcdef");
    assert_eq!(sent["startedBy"], "slipway/shop-4f1c2a9b0d3e5f67/0");
    assert_eq!(sent["launchType"], "FARGATE");
    let vpc = &sent["networkConfiguration"]["awsvpcConfiguration"];
    assert_eq!(vpc["subnets"], json!([subnet]));
    assert_eq!(vpc["securityGroups"], json!([group]));
    assert_eq!(vpc["assignPublicIp"], "DISABLED");
    assert_eq!(
        sent["overrides"]["containerOverrides"],
        json!([{"name": "app", "command": ["./manage", "migrate"]}])
    );
}

#[tokio::test]
async fn a_task_ecs_could_not_place_is_retried_later_and_any_other_failure_is_not() {
    let world = World::new().await;
    let (task_definition, _, _) = awsvpc_web(&world).await;
    for (reason, kind) in [
        ("RESOURCE:MEMORY", AwsErrorKind::Transient),
        ("MISSING", AwsErrorKind::Permanent),
    ] {
        let proxy = FaultProxy::start(&world.emulator.endpoint, Duration::from_secs(30), 7).await;
        answer_run_task(&proxy, Some(reason));
        let clients = clients_at(&proxy.endpoint, CallTimeouts::default()).await;
        let err = EcsTasks::new(clients.ecs.clone())
            .run_task(&migrate(&task_definition))
            .await
            .unwrap_err();
        assert_eq!(err.kind, kind, "{reason}: {err}");
        assert!(err.message.contains(reason), "{err}");
    }
}

#[tokio::test]
async fn a_task_reads_as_running_until_it_stops_and_stop_task_stops_it() {
    let world = World::new().await;
    let running = world.push_image(Some("v1")).await;
    let task_definition = register(&world, &image_uri(&running), NetworkMode::Bridge).await;
    create_web(&world, &task_definition, None).await;
    let tasks = EcsTasks::new(world.clients.ecs.clone());
    let arn = tasks.run_task(&migrate(&task_definition)).await.unwrap();

    let described = world
        .clients
        .ecs
        .describe_tasks()
        .cluster("prod")
        .tasks(&arn)
        .send()
        .await
        .unwrap();
    let task = &described.tasks()[0];
    assert_eq!(task.started_by(), Some("slipway/shop-4f1c2a9b0d3e5f67/0"));
    assert_eq!(task.launch_type(), Some(&LaunchType::Fargate));
    let overrides = task.overrides().unwrap().container_overrides();
    assert_eq!(overrides[0].command(), ["./manage", "migrate"]);

    assert_eq!(
        tasks.describe_task("prod", &arn).await.unwrap(),
        TaskStatus::Running
    );
    tasks
        .stop_task("prod", &arn, "slipway: migrate did not exit within 15m")
        .await
        .unwrap();
    let TaskStatus::Stopped(stopped) = tasks.describe_task("prod", &arn).await.unwrap() else {
        panic!("StopTask stops the task")
    };
    assert_eq!(stopped.task_arn, arn);
    assert_eq!(
        stopped.stopped_reason.as_deref(),
        Some("slipway: migrate did not exit within 15m")
    );
    assert_eq!(
        stopped.started_by.as_deref(),
        Some("slipway/shop-4f1c2a9b0d3e5f67/0")
    );
    assert_eq!(stopped.containers[0].name, "app");
}

#[tokio::test]
async fn a_one_off_task_of_a_service_that_does_not_exist_is_not_found() {
    let world = World::new().await;
    let tasks = EcsTasks::new(world.clients.ecs.clone());
    let err = tasks.run_task(&migrate("web:1")).await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::NotFound, "{err}");
}
