//! Arbitrary bytes through the log-file reader: as a whole line, behind each header shape it
//! accepts (so the fuzzer starts inside a security or NOTICE message), and on into the engine.
//! Invariants: no panic, whatever the bytes; an event read from a line always has the remote
//! address the observation carries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::guard::{Engine, GuardPolicy, Timestamp, parse_log_line};

const HEADERS: [&[u8]; 6] = [
    b"",
    b"[Dec  7 10:22:33] SECURITY[2714] res_security_log.c: SecurityEvent=\"",
    b"Dec  7 10:22:33 pbx asterisk[2714]: SECURITY[2714]: res_security_log.c:114 in security_event_stasis_cb: SecurityEvent=\"",
    b"[Dec  7 10:22:33] NOTICE[2714] res_pjsip/pjsip_distributor.c: Request '",
    b"[Dec  7 10:22:33] NOTICE[2714] chan_sip.c: ",
    b"[Dec  7 10:22:33] NOTICE[2714] manager.c: ",
];

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let Ok(mut engine) = Engine::new(GuardPolicy::default()) else {
        return;
    };
    let mut line = HEADERS[usize::from(control) % HEADERS.len()].to_vec();
    line.extend_from_slice(rest);
    for candidate in [&line[..], rest] {
        if let Ok(read) = parse_log_line(candidate) {
            let now = Timestamp(1_750_000_000_000);
            let remote = read.event.remote;
            if let Some(obs) = read.event.observation(now) {
                assert_eq!(Some(obs.source), remote.map(|r| r.address));
                let _ = engine.observe(&obs, now);
            }
        }
    }
});
