//! Any headers and body as a Slack request: a forged signature is refused and nothing
//! panics; the body as signed with the secret is accepted.
#![no_main]

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use slipway::web::slack::verify;

const SECRET: &[u8] = b"slack-signing-secret-for-fuzzing";

fuzz_target!(|data: &[u8]| {
    // timestamp \n signature \n body
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let timestamp = parts.next().and_then(|p| std::str::from_utf8(p).ok());
    let signature = parts.next().and_then(|p| std::str::from_utf8(p).ok());
    let body = parts.next().unwrap_or_default();
    let now = DateTime::<Utc>::from_timestamp(1_900_000_000, 0).unwrap();
    let _ = verify(SECRET, timestamp, signature, body, now);

    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(b"v0:1900000000:");
    mac.update(body);
    let genuine = format!("v0={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        verify(SECRET, Some("1900000000"), Some(&genuine), body, now),
        Ok(())
    );
    if signature != Some(genuine.as_str()) && timestamp == Some("1900000000") {
        if let Some(signature) = signature {
            if !signature.eq_ignore_ascii_case(&genuine) {
                assert!(verify(SECRET, timestamp, Some(signature), body, now).is_err());
            }
        }
    }
});
