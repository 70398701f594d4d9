//! Any text as the targets config: refused with an error, or a config whose every target
//! is valid — never a panic at cold start.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway::input::config::{Config, Home};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let home = Home {
        account: "123456789012".into(),
        region: "us-east-1".into(),
    };
    if let Ok(config) = Config::from_json(text, &home) {
        for target in &config.targets {
            assert!(!target.name.is_empty());
        }
    }
});
