//! Feeds arbitrary bytes into the audit of an existing configuration: split on 0x1E into the
//! files an audit reads (and two that they may include), with includes, templates and
//! additions in play. A report or an error naming file and line; nothing may panic.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 7] = [
    "sip.conf",
    "pjsip.conf",
    "manager.conf",
    "extensions.conf",
    "logger.conf",
    "custom.conf",
    "conf.d/a.conf",
];

fuzz_target!(|data: &[u8]| {
    let files: BTreeMap<String, String> = data
        .split(|&b| b == 0x1e)
        .zip(NAMES)
        .map(|(bytes, name)| (name.to_owned(), String::from_utf8_lossy(bytes).into_owned()))
        .collect();
    if let Err(e) = policy::audit::audit(&files) {
        assert!(e.line >= 1 && NAMES.contains(&e.file.as_str()), "{e}");
    }
});
