//! Any text as an approval link's token and form nonce: only the token Slipway signed for
//! this deployment (and its nonce) is ever accepted, and nothing panics.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use slipway::approval::{Binding, SigningKey, SigningKeys};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (token, nonce) = text.split_once('\n').unwrap_or((text, ""));
    let keys = SigningKeys {
        current: SigningKey::new("k2", b"fuzzing-current-key-0123456789abcdef".to_vec()).unwrap(),
        previous: Some(SigningKey::new("k1", b"fuzzing-previous-key-0123456789abcde".to_vec()).unwrap()),
    };
    let binding = Binding {
        deployment_id: "web.img-0123",
        target: "web",
        image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:0123",
        step: 0,
    };
    let now = DateTime::<Utc>::from_timestamp(1_900_000_000, 0).unwrap();
    if let Ok(expires_at) = keys.verify(token, binding, now) {
        // Accepted only if it is exactly what the current key signs for that expiry (the
        // previous key's tokens cannot be forged here without its secret either).
        assert!(
            keys.sign(binding, expires_at) == token || token.starts_with("v1.k1."),
            "a token Slipway did not sign was accepted: {token:?}"
        );
    }
    if keys
        .verify_form_nonce(nonce, binding.deployment_id, token, now)
        .is_ok()
    {
        assert!(nonce.contains('.'), "{nonce:?}");
    }
});
