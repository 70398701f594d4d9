//! Approval tokens: what makes an approval link safe to send by email and Slack.
//!
//! A token is an HMAC-SHA256 over the deployment id, the target, the image being
//! approved, the expiry and the key id, so a link can approve only that deployment of
//! that image, only until it expires, and only if it was signed by a key Slipway holds.
//! Keys rotate: the current and the previous key are both accepted. A release group run's
//! one approval is bound the same way, to the run and every target's image.
//!
//! Token format: `v1.<key id>.<expiry, unix seconds>.<base64url MAC>`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::deployment::Deployment;
use crate::model::group::GroupRun;

type HmacSha256 = Hmac<Sha256>;

/// A signing key and its id. The secret never leaves this struct.
#[derive(Clone)]
pub struct SigningKey {
    pub id: String,
    secret: Vec<u8>,
}

impl SigningKey {
    pub fn new(
        id: impl Into<String>,
        secret: impl Into<Vec<u8>>,
    ) -> Result<SigningKey, TokenError> {
        let id = id.into();
        let secret = secret.into();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(TokenError::BadKey(format!(
                "key id `{id}` must be letters, digits, '-' or '_'"
            )));
        }
        if secret.len() < 32 {
            return Err(TokenError::BadKey(format!(
                "key `{id}` is {} bytes; use at least 32 random bytes",
                secret.len()
            )));
        }
        Ok(SigningKey { id, secret })
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The keys in use: new links are signed with `current`; links signed with `previous`
/// still verify until it is rotated out.
#[derive(Debug, Clone)]
pub struct SigningKeys {
    pub current: SigningKey,
    pub previous: Option<SigningKey>,
}

/// What an approval is bound to: exactly what the approver is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    pub deployment_id: &'a str,
    pub target: &'a str,
    pub image: &'a str,
    /// Which request of the deployment: 0 for the first (the only one unless a canary or
    /// linear rollout asks at every step), so that a link for one step never decides
    /// another.
    pub step: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the approval link is malformed: copy the whole link from the message")]
    Malformed,
    #[error("the approval link was signed with key `{0}`, which is no longer accepted: ask for a new link")]
    UnknownKey(String),
    #[error("the approval link is not valid for this deployment")]
    BadSignature,
    #[error("the approval link expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("signing key: {0}")]
    BadKey(String),
    #[error("the form is stale or did not come from Slipway's page: open the link again and use its buttons")]
    BadNonce,
}

impl SigningKeys {
    pub fn sign(&self, binding: Binding<'_>, expires_at: DateTime<Utc>) -> String {
        let expiry = expires_at.timestamp();
        let mac = mac(&self.current, binding, expiry).finalize().into_bytes();
        format!(
            "v1.{}.{expiry}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(mac)
        )
    }

    /// Checks `token` for `binding`; returns its expiry. The signature is checked (in
    /// constant time) before the expiry, so an expiry is only believed once authentic.
    pub fn verify(
        &self,
        token: &str,
        binding: Binding<'_>,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, TokenError> {
        let mut parts = token.split('.');
        let (Some("v1"), Some(key_id), Some(expiry), Some(signature), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        let expiry: i64 = expiry.parse().map_err(|_| TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|key| key.id == key_id)
            .ok_or_else(|| TokenError::UnknownKey(key_id.to_string()))?;
        mac(key, binding, expiry)
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let expires_at = DateTime::from_timestamp(expiry, 0).ok_or(TokenError::Malformed)?;
        if now >= expires_at {
            return Err(TokenError::Expired(expires_at));
        }
        Ok(expires_at)
    }
}

/// Where approval links point, and the keys that sign them.
///
/// Keys are read at cold start; after a rotation (README, "Signing keys and rotation") a
/// warm function would refuse links signed with the new key until its next cold start.
/// So a link signed with a key this copy does not hold makes it read the keys again
/// ([`KeySource`]), at most once per [`KEY_REREAD_INTERVAL`]: a stream of forged key ids
/// costs at most one secret read per interval.
#[derive(Clone)]
pub struct ApprovalLinks {
    /// The approval endpoint's URL (on AWS the approval HTTP API; locally, `cargo lambda
    /// watch`'s `/lambda-url/approval`), without a trailing slash.
    pub base_url: String,
    keys: Arc<RwLock<Arc<SigningKeys>>>,
    source: Option<Arc<dyn KeySource>>,
    last_reread: Arc<Mutex<Option<DateTime<Utc>>>>,
}

impl std::fmt::Debug for ApprovalLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalLinks")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Where the signing keys can be read again (the adapter: Secrets Manager).
pub trait KeySource: Send + Sync {
    fn read(&self) -> Pin<Box<dyn Future<Output = Result<SigningKeys, String>> + Send + '_>>;
}

/// The shortest time between two re-reads of the keys.
pub const KEY_REREAD_INTERVAL: chrono::Duration = chrono::Duration::seconds(30);

/// What a release group run's approval is bound to, besides its id: the group (as
/// `group:<name>`, which no target name can be: a deployment's link never verifies for a
/// run) and every target's image, so a link approves exactly the release it showed.
fn run_binding(run: &GroupRun) -> (String, String) {
    (format!("group:{}", run.group), run.release_text())
}

/// What a deployment's approval is bound to.
pub fn binding(deployment: &Deployment) -> Binding<'_> {
    Binding {
        deployment_id: &deployment.id,
        target: &deployment.target,
        image: &deployment.image,
        step: deployment.approval.as_ref().map_or(0, |a| a.step),
    }
}

impl ApprovalLinks {
    pub fn new(base_url: &str, keys: SigningKeys) -> ApprovalLinks {
        ApprovalLinks {
            base_url: base_url.trim_end_matches('/').to_string(),
            keys: Arc::new(RwLock::new(Arc::new(keys))),
            source: None,
            last_reread: Arc::default(),
        }
    }

    /// Read the keys again from `source` when a link names a key this copy lacks.
    pub fn with_source(mut self, source: Arc<dyn KeySource>) -> ApprovalLinks {
        self.source = Some(source);
        self
    }

    /// The keys held now.
    pub fn keys(&self) -> Arc<SigningKeys> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// [`SigningKeys::verify`], reading the keys again (bounded) when the token names a
    /// key this copy does not hold.
    pub async fn verify(
        &self,
        token: &str,
        binding: Binding<'_>,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, TokenError> {
        match self.keys().verify(token, binding, now) {
            Err(TokenError::UnknownKey(id)) if self.reread(now).await => self
                .keys()
                .verify(token, binding, now)
                .map_err(|err| match err {
                    TokenError::UnknownKey(_) => TokenError::UnknownKey(id),
                    err => err,
                }),
            result => result,
        }
    }

    /// Reads the keys again if there is a source and the last re-read is old enough;
    /// whether new keys were taken.
    async fn reread(&self, now: DateTime<Utc>) -> bool {
        let Some(source) = &self.source else {
            return false;
        };
        {
            let mut last = self.last_reread.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| now - at < KEY_REREAD_INTERVAL) {
                return false;
            }
            *last = Some(now);
        }
        match source.read().await {
            Ok(keys) => {
                tracing::info!(
                    current = keys.current.id,
                    "a link named a key this function did not hold: signing keys read again"
                );
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
                true
            }
            Err(err) => {
                tracing::warn!("reading the signing keys again failed: {err}");
                false
            }
        }
    }

    /// `<base-url>/group-approvals/<run id>?t=<token>`: a release group run's one link.
    pub fn run_link(&self, run: &GroupRun, expires_at: DateTime<Utc>) -> String {
        let (target, image) = run_binding(run);
        let binding = Binding {
            deployment_id: &run.id,
            target: &target,
            image: &image,
            step: 0,
        };
        format!(
            "{}/group-approvals/{}?t={}",
            self.base_url,
            run.id,
            self.keys().sign(binding, expires_at)
        )
    }

    /// [`Self::verify`] for a release group run's link.
    pub async fn verify_run(
        &self,
        token: &str,
        run: &GroupRun,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, TokenError> {
        let (target, image) = run_binding(run);
        let binding = Binding {
            deployment_id: &run.id,
            target: &target,
            image: &image,
            step: 0,
        };
        self.verify(token, binding, now).await
    }

    /// `<base-url>/approvals/<deployment id>?t=<token>`.
    pub fn link(&self, deployment: &Deployment, expires_at: DateTime<Utc>) -> String {
        format!(
            "{}/approvals/{}?t={}",
            self.base_url,
            deployment.id,
            self.keys().sign(binding(deployment), expires_at)
        )
    }
}

/// A form nonce: proof that a POST comes from a confirm page Slipway rendered for this
/// deployment and token within the last hour, not from a page elsewhere (CSRF) or from
/// a scanner replaying the link as a POST. Format `<issued, unix seconds>.<base64url MAC>`.
pub const FORM_NONCE_LIFETIME_SECONDS: i64 = 60 * 60;

impl SigningKeys {
    pub fn form_nonce(&self, deployment_id: &str, token: &str, now: DateTime<Utc>) -> String {
        let issued = now.timestamp();
        let mac = nonce_mac(&self.current, deployment_id, token, issued)
            .finalize()
            .into_bytes();
        format!("{issued}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    /// Checks a form nonce against the current and the previous key.
    pub fn verify_form_nonce(
        &self,
        nonce: &str,
        deployment_id: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), TokenError> {
        let (issued, signature) = nonce.split_once('.').ok_or(TokenError::BadNonce)?;
        let issued: i64 = issued.parse().map_err(|_| TokenError::BadNonce)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::BadNonce)?;
        let authentic = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .any(|key| {
                nonce_mac(key, deployment_id, token, issued)
                    .verify_slice(&signature)
                    .is_ok()
            });
        // Saturating: `issued` is whatever the form carried, i64::MIN included.
        let age = now.timestamp().saturating_sub(issued);
        if !authentic || !(-60..=FORM_NONCE_LIFETIME_SECONDS).contains(&age) {
            return Err(TokenError::BadNonce);
        }
        Ok(())
    }
}

fn nonce_mac(key: &SigningKey, deployment_id: &str, token: &str, issued: i64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(&key.secret).expect("HMAC takes keys of any length");
    for field in ["slipway-form-v1", deployment_id, token, &issued.to_string()] {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field.as_bytes());
    }
    mac
}

fn mac(key: &SigningKey, binding: Binding<'_>, expiry: i64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(&key.secret).expect("HMAC takes keys of any length");
    // Length-prefixed fields: no two different bindings give the same message. A later
    // step adds a field of its own; the first step's message is the one links have always
    // signed, so links sent before steps existed stay valid.
    let step = (binding.step > 0).then(|| format!("step-{}", binding.step));
    for field in [
        "slipway-approval-v1",
        binding.deployment_id,
        binding.target,
        binding.image,
        &expiry.to_string(),
        &key.id,
    ]
    .into_iter()
    .chain(step.as_deref())
    {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field.as_bytes());
    }
    mac
}

#[cfg(test)]
mod tests;
