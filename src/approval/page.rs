//! The pages an approver sees. GET shows what will change and never acts; the buttons
//! POST a form. Rendered with askama (auto-escaped), self-contained: no external assets,
//! one inline stylesheet allowed by a per-response CSP nonce.

use askama::Template;

use crate::plan::ImageChange;

/// The confirmation page behind an approval link.
#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Approve {{ target }}?</title>
<style nonce="{{ style_nonce }}">
body { font: 15px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #1b1f24; }
code { font-size: 13px; word-break: break-all; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .3rem .6rem; border-bottom: 1px solid #d8dee4; }
.actions { display: flex; flex-wrap: wrap; gap: 2rem; margin-top: 1.5rem; }
form { display: flex; flex-direction: column; gap: .5rem; }
input { font: inherit; padding: .3rem; }
button { font: inherit; padding: .5rem 1.2rem; border-radius: 6px; border: 1px solid #8c959f; cursor: pointer; }
.approve { background: #1f883d; color: #fff; border-color: #1f883d; }
.notice { border-left: 4px solid #bf8700; padding: .3rem .8rem; background: #fff8c5; }
.reject { background: #fff; color: #cf222e; border-color: #cf222e; }
</style>
</head>
<body>
<h1>Deploy to {{ target }}?</h1>
{% if let Some(notice) = notice %}<p class="notice">{{ notice }}</p>
{% endif %}
<p>{{ cluster }}/{{ service }} — requested {{ requested_at }}, by {{ trigger }}.
This link expires {{ expires_at }}. Nothing happens until you press a button.</p>
<h2>Images</h2>
<table>
<tr><th>Container</th><th>Now</th><th>After</th></tr>
{% for change in images %}<tr><td>{{ change.container }}</td><td><code>{{ change.from }}</code></td><td><code>{{ change.to }}</code></td></tr>
{% endfor %}</table>
<h2>Every difference</h2>
<p>From <code>{{ from_task_definition }}</code>. Environment variables and secrets are shown by name only.</p>
<ul>
{% for line in diff %}<li>{{ line }}</li>
{% endfor %}</ul>
<p>The new revision is registered from this plan only when you approve. If the service
changes before then, approving is refused and a fresh request is sent.</p>
<div class="actions">
<form method="post" action="{{ action }}">
<input type="hidden" name="t" value="{{ token }}">
<input type="hidden" name="nonce" value="{{ form_nonce }}">
<input type="hidden" name="decision" value="approve">
<label>Your name <input id="approve-name" name="name" required maxlength="100" autocomplete="name"></label>
<button class="approve" id="approve" type="submit">Approve</button>
</form>
<form method="post" action="{{ action }}">
<input type="hidden" name="t" value="{{ token }}">
<input type="hidden" name="nonce" value="{{ form_nonce }}">
<input type="hidden" name="decision" value="reject">
<label>Your name <input id="reject-name" name="name" required maxlength="100" autocomplete="name"></label>
<label>Reason <input id="reject-reason" name="reason" maxlength="500"></label>
<button class="reject" id="reject" type="submit">Reject</button>
</form>
</div>
<p><small>Deployment {{ deployment_id }}</small></p>
</body>
</html>
"#
)]
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
}

/// Any outcome: decided, refused, expired, superseded, bad link.
#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }}</title>
<style nonce="{{ style_nonce }}">
body { font: 15px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #1b1f24; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p>{{ message }}</p>
</body>
</html>
"#
)]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub style_nonce: &'a str,
}

/// The headers every approval page is sent with: never cached or stored by proxies,
/// never leaking the tokened URL as a referrer, nothing loaded from anywhere, forms
/// posting only back to Slipway, and no framing.
pub fn security_headers(style_nonce: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", "text/html; charset=utf-8".to_string()),
        ("Cache-Control", "no-store".to_string()),
        ("Referrer-Policy", "no-referrer".to_string()),
        (
            "Content-Security-Policy",
            format!(
                "default-src 'none'; style-src 'nonce-{style_nonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            ),
        ),
        ("X-Content-Type-Options", "nosniff".to_string()),
        ("X-Frame-Options", "DENY".to_string()),
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
        assert_eq!(get("Cache-Control"), "no-store");
        assert_eq!(get("Referrer-Policy"), "no-referrer");
        let csp = get("Content-Security-Policy");
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
