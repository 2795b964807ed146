//! The rate table an administrator uploads (CSV): any text is refused with a line number or
//! read into a table whose lookups never panic, for any number.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::fraud::rates::{RateTable, cost};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match RateTable::parse(text) {
        Ok(table) => {
            // Look up every digit run of the input, as numbers dialled.
            for number in text.split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty()) {
                if let Some(per_minute) = table.per_minute(number) {
                    let _ = cost(per_minute, u64::MAX);
                }
            }
        }
        Err(e) => assert!(e.line >= 1),
    }
});
