//! Feeds arbitrary bytes into the FastAGI environment reader of the pre-call decision (#15):
//! an environment or an error, never a panic, never more consumed than given.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok((env, used)) = policy::fraud::agi::parse_env(&text) {
        assert!(used <= text.len());
        assert!(!env.channel.is_empty());
    }
});
