use chrono::Duration;

use super::*;

fn key(id: &str) -> SigningKey {
    SigningKey::new(
        id,
        format!("{id}-0123456789abcdef0123456789abcdef").into_bytes(),
    )
    .unwrap()
}

fn keys() -> SigningKeys {
    SigningKeys {
        current: key("k2"),
        previous: Some(key("k1")),
    }
}

const BINDING: Binding<'static> = Binding {
    deployment_id: "web.img-abc",
    target: "web",
    image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:abc",
    step: 0,
};

/// Hands out `keys` and counts the reads.
struct Rotated {
    keys: SigningKeys,
    reads: std::sync::atomic::AtomicUsize,
}

impl KeySource for Rotated {
    fn read(&self) -> Pin<Box<dyn Future<Output = Result<SigningKeys, String>> + Send + '_>> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let keys = self.keys.clone();
        Box::pin(async move { Ok(keys) })
    }
}

#[tokio::test]
async fn a_warm_function_reads_the_keys_again_for_a_link_signed_after_a_rotation() {
    let now = Utc::now();
    let rotated = SigningKeys {
        current: key("k3"),
        previous: Some(key("k2")),
    };
    let token = rotated.sign(BINDING, now + Duration::hours(1));
    let source = Arc::new(Rotated {
        keys: rotated,
        reads: Default::default(),
    });
    let links = ApprovalLinks::new("https://x", keys()).with_source(source.clone());

    assert!(links.verify(&token, BINDING, now).await.is_ok());
    assert_eq!(links.keys().current.id, "k3", "the new keys are kept");

    // A forged key id right after: refused, and no second read within the interval.
    let forged = token.replace(".k3.", ".k9.");
    assert_eq!(
        links.verify(&forged, BINDING, now).await,
        Err(TokenError::UnknownKey("k9".into()))
    );
    assert_eq!(source.reads.load(std::sync::atomic::Ordering::SeqCst), 1);
    // After the interval an unknown key is worth one more read.
    let later = now + KEY_REREAD_INTERVAL;
    assert!(links.verify(&forged, BINDING, later).await.is_err());
    assert_eq!(source.reads.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn without_a_source_an_unknown_key_is_refused_as_before() {
    let now = Utc::now();
    let other = SigningKeys {
        current: key("k3"),
        previous: None,
    };
    let token = other.sign(BINDING, now + Duration::hours(1));
    let links = ApprovalLinks::new("https://x", keys());
    assert_eq!(
        links.verify(&token, BINDING, now).await,
        Err(TokenError::UnknownKey("k3".into()))
    );
}

/// The same overflow fuzzing found in Slack's timestamp check: a nonce "issued" at
/// i64::MIN is refused, not a panic.
#[test]
fn a_nonce_issued_at_the_edge_of_time_is_refused() {
    let now = Utc::now();
    let forged = format!("{}.AAAA", i64::MIN);
    assert_eq!(
        keys().verify_form_nonce(&forged, "web.img-abc", "tok", now),
        Err(TokenError::BadNonce)
    );
}

#[test]
fn a_signed_token_verifies_for_its_binding_until_it_expires() {
    let now = Utc::now();
    let expires = now + Duration::hours(24);
    let token = keys().sign(BINDING, expires);
    assert!(token.starts_with("v1.k2."));
    assert_eq!(
        keys().verify(&token, BINDING, now).unwrap().timestamp(),
        expires.timestamp()
    );
    assert_eq!(
        keys().verify(&token, BINDING, expires + Duration::seconds(1)),
        Err(TokenError::Expired(
            DateTime::from_timestamp(expires.timestamp(), 0).unwrap()
        ))
    );
}

#[test]
fn a_token_for_another_deployment_target_or_image_is_refused() {
    let now = Utc::now();
    let token = keys().sign(BINDING, now + Duration::hours(1));
    for other in [
        Binding {
            deployment_id: "web.img-def",
            ..BINDING
        },
        Binding {
            target: "worker",
            ..BINDING
        },
        Binding {
            image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:def",
            ..BINDING
        },
        // The same deployment's next step (a canary asking at every step).
        Binding { step: 1, ..BINDING },
    ] {
        assert_eq!(
            keys().verify(&token, other, now),
            Err(TokenError::BadSignature),
            "{other:?}"
        );
    }
}

#[test]
fn tampering_with_any_part_is_refused() {
    let now = Utc::now();
    let token = keys().sign(BINDING, now + Duration::hours(1));
    let parts: Vec<&str> = token.split('.').collect();
    let later = (now + Duration::days(30)).timestamp().to_string();
    let extended = [parts[0], parts[1], later.as_str(), parts[3]].join(".");
    assert_eq!(
        keys().verify(&extended, BINDING, now),
        Err(TokenError::BadSignature)
    );
    let mut flipped = parts[3].to_string().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let forged = [
        parts[0],
        parts[1],
        parts[2],
        std::str::from_utf8(&flipped).unwrap(),
    ]
    .join(".");
    assert_eq!(
        keys().verify(&forged, BINDING, now),
        Err(TokenError::BadSignature)
    );
    for malformed in [
        "",
        "v1",
        "v2.k2.1.AAAA",
        "v1.k2.soon.AAAA",
        "v1.k2.1.!!!",
        &format!("{token}.x"),
    ] {
        assert_eq!(
            keys().verify(malformed, BINDING, now),
            Err(TokenError::Malformed),
            "{malformed}"
        );
    }
}

#[test]
fn keys_rotate_the_previous_key_still_verifies_and_unknown_keys_do_not() {
    let now = Utc::now();
    let old = SigningKeys {
        current: key("k1"),
        previous: None,
    }
    .sign(BINDING, now + Duration::hours(1));
    assert!(
        keys().verify(&old, BINDING, now).is_ok(),
        "signed with the previous key"
    );
    let rotated_out = SigningKeys {
        current: key("k3"),
        previous: Some(key("k2")),
    };
    assert_eq!(
        rotated_out.verify(&old, BINDING, now),
        Err(TokenError::UnknownKey("k1".into()))
    );
    let stranger = SigningKeys {
        current: SigningKey::new("k2", vec![7u8; 32]).unwrap(),
        previous: None,
    };
    let token = stranger.sign(BINDING, now + Duration::hours(1));
    assert_eq!(
        keys().verify(&token, BINDING, now),
        Err(TokenError::BadSignature),
        "same id, other secret"
    );
}

#[test]
fn form_nonces_bind_the_page_to_its_deployment_and_token_for_an_hour() {
    let now = Utc::now();
    let nonce = keys().form_nonce("web.img-abc", "tok", now);
    assert_eq!(
        keys().verify_form_nonce(&nonce, "web.img-abc", "tok", now),
        Ok(())
    );
    for (deployment, token, at) in [
        ("web.img-def", "tok", now),
        ("web.img-abc", "other", now),
        ("web.img-abc", "tok", now + Duration::minutes(61)),
    ] {
        assert_eq!(
            keys().verify_form_nonce(&nonce, deployment, token, at),
            Err(TokenError::BadNonce)
        );
    }
    for bad in ["", "1", "x.AAAA", "1.!!"] {
        assert_eq!(
            keys().verify_form_nonce(bad, "web.img-abc", "tok", now),
            Err(TokenError::BadNonce)
        );
    }
}

#[test]
fn weak_keys_and_odd_ids_are_refused() {
    assert!(SigningKey::new("k1", b"short".to_vec()).is_err());
    assert!(SigningKey::new("k.1", vec![0u8; 32]).is_err());
    assert!(
        !format!("{:?}", key("k1")).contains("0123456789"),
        "secrets stay out of logs"
    );
}
