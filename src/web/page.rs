//! The pages an approver sees. GET shows what will change and never acts; the buttons
//! POST a form. Rendered with askama (auto-escaped) from `templates/approval/`, which
//! share one base: self-contained, no external assets, one inline stylesheet allowed by
//! a per-response CSP nonce.

use askama::Template;

use crate::model::plan::ImageChange;

/// The confirmation page behind an approval link.
#[derive(Template)]
#[template(path = "approval/confirm.html")]
pub struct ConfirmPage<'a> {
    pub deployment_id: &'a str,
    pub target: &'a str,
    pub cluster: &'a str,
    pub service: &'a str,
    pub trigger: &'a str,
    pub requested_at: String,
    pub expires_at: String,
    pub from_task_definition: &'a str,
    pub images: &'a [ImageChange],
    pub diff: &'a [String],
    /// Where the forms POST: the deployment id, relative to the link's own path, so the
    /// page works under any prefix (the function URL, or `cargo lambda watch`'s).
    pub action: &'a str,
    pub token: &'a str,
    pub form_nonce: &'a str,
    pub style_nonce: &'a str,
    /// Shown above everything, e.g. when an approval's rollout did not finish.
    pub notice: Option<String>,
    /// For a rollout ECS holds at a pause: what is live where (`notify::paused_line`).
    pub live: Option<String>,
    /// For a target that takes only what succeeded upstream: the evidence, one line per
    /// upstream target (`notify::upstream_lines`).
    pub upstream: Vec<String>,
}

/// The confirmation page behind a release group run's approval link: the whole release.
#[derive(Template)]
#[template(path = "approval/group_confirm.html")]
pub struct GroupConfirmPage<'a> {
    pub run_id: &'a str,
    pub group: &'a str,
    pub requested_at: String,
    pub expires_at: String,
    /// One line per step, in order (`notify::group_step_lines`).
    pub steps: &'a [String],
    pub on_failure: &'a str,
    /// (target, image), in target order.
    pub images: Vec<(&'a str, &'a str)>,
    /// What made the gated images available upstream (`Evidence::describe`), if any.
    pub evidence: Vec<String>,
    /// Where the forms POST: the run id, relative to the link's path.
    pub action: &'a str,
    pub token: &'a str,
    pub form_nonce: &'a str,
    pub style_nonce: &'a str,
}

/// Any outcome: decided, refused, expired, superseded, bad link.
#[derive(Template)]
#[template(path = "approval/message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub style_nonce: &'a str,
}

/// The headers every approval page is sent with: never cached or stored by proxies,
/// never leaking the tokened URL as a referrer, nothing loaded from anywhere, forms
/// posting only back to Slipway, and no framing. Names in lower case, as HTTP/2 and
/// `http::HeaderName` have them.
pub fn security_headers(style_nonce: &str) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "text/html; charset=utf-8".to_string()),
        ("cache-control", "no-store".to_string()),
        ("referrer-policy", "no-referrer".to_string()),
        (
            "content-security-policy",
            format!(
                "default-src 'none'; style-src 'nonce-{style_nonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            ),
        ),
        ("x-content-type-options", "nosniff".to_string()),
        ("x-frame-options", "DENY".to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page<'a>(images: &'a [ImageChange], diff: &'a [String]) -> ConfirmPage<'a> {
        ConfirmPage {
            deployment_id: "web.img-abc",
            target: "web",
            cluster: "prod",
            service: "web",
            trigger: "ECR push app:v1.4.2",
            requested_at: "2026-11-23 10:04 UTC".into(),
            expires_at: "2026-11-24 10:04 UTC".into(),
            from_task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
            images,
            diff,
            action: "web.img-abc",
            token: "v1.k2.1795500000.MAC",
            form_nonce: "form-nonce",
            style_nonce: "style-nonce",
            notice: None,
            live: None,
            upstream: vec![],
        }
    }

    #[test]
    fn the_confirm_page_shows_the_change_and_posts_the_decision() {
        let images = [ImageChange {
            container: "app".into(),
            from: "r/app@sha256:old".into(),
            to: "r/app@sha256:new".into(),
        }];
        let diff = [
            "memory: 512 -> 1024".to_string(),
            "container app: environment CHECKOUT_V2 added".to_string(),
        ];
        let html = page(&images, &diff).render().unwrap();
        for expected in [
            "Deploy to web?",
            "prod/web",
            "r/app@sha256:old",
            "r/app@sha256:new",
            "memory: 512 -&#62; 1024",
            "CHECKOUT_V2 added",
            "expires 2026-11-24 10:04 UTC",
            "task-definition/web:7",
            "ECR push app:v1.4.2",
        ] {
            assert!(html.contains(expected), "{expected} missing from the page");
        }
        assert_eq!(
            html.matches(r#"<form method="post" action="web.img-abc">"#)
                .count(),
            2
        );
        assert_eq!(
            html.matches(r#"name="t" value="v1.k2.1795500000.MAC""#)
                .count(),
            2
        );
        assert_eq!(
            html.matches(r#"name="nonce" value="form-nonce""#).count(),
            2
        );
        assert!(html.contains(r#"<style nonce="style-nonce">"#));
    }

    #[test]
    fn nothing_is_loaded_from_elsewhere() {
        let html = page(&[], &[]).render().unwrap();
        for external in [
            "src=", "<link", "<script", "http://", "https://", "@import", "url(",
        ] {
            assert!(!html.contains(external), "{external} in the page");
        }
    }

    #[test]
    fn everything_shown_is_escaped() {
        let images = [ImageChange {
            container: "<script>alert(1)</script>".into(),
            from: "a".into(),
            to: "b\"><img src=x>".into(),
        }];
        let diff = ["<b>bold</b>".to_string()];
        let html = page(&images, &diff).render().unwrap();
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img src=x>"));
        assert!(!html.contains("<b>bold</b>"));
    }

    #[test]
    fn pages_are_sent_uncached_unreferred_and_locked_down() {
        let headers = security_headers("n0nce");
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
                .unwrap()
        };
        assert_eq!(get("cache-control"), "no-store");
        assert_eq!(get("referrer-policy"), "no-referrer");
        let csp = get("content-security-policy");
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(
            csp.contains("style-src 'nonce-n0nce'")
                && csp.contains("form-action 'self'")
                && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        let message = MessagePage {
            title: "Already approved",
            message: "Approved by alice at 10:05.",
            style_nonce: "n0nce",
        };
        assert!(message
            .render()
            .unwrap()
            .contains("Approved by alice at 10:05."));
    }
}
