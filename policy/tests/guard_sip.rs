//! The SIP extractor and stream framer on captured-style fixtures, on every tolerated quirk,
//! and on arbitrary bytes.

use policy::guard::sip::{Method, StartLine, parse_message};
use policy::guard::stream::{Frame, StreamFramer};
use policy::guard::{
    Direction, Engine, GuardPolicy, Observation, SipError, Timestamp, Transport, is_keepalive,
};
use proptest::prelude::*;

const SVMAP: &[u8] = include_bytes!("fixtures/sip/svmap_options.sip");
const SVWAR: &[u8] = include_bytes!("fixtures/sip/svwar_register.sip");
const SVCRACK: &[u8] = include_bytes!("fixtures/sip/svcrack_register_auth.sip");
const ASTERISK_401: &[u8] = include_bytes!("fixtures/sip/asterisk_401.sip");
const TOLL_INVITE: &[u8] = include_bytes!("fixtures/sip/toll_invite.sip");
const QUIRKY: &[u8] = include_bytes!("fixtures/sip/compact_lf_folded.sip");

#[test]
fn svmap_options_is_read_with_its_fingerprint() {
    let m = parse_message(SVMAP).unwrap();
    assert_eq!(m.method(), Some(Method::Options));
    assert_eq!(m.request_user, Some(&b"100"[..]));
    assert_eq!(m.from_user(), Some(&b"100"[..]));
    assert_eq!(m.user_agent, Some(&b"friendly-scanner"[..]));
    assert_eq!(m.contact_host, Some(&b"203.0.113.66"[..]));
    assert_eq!(m.via.unwrap().port, Some(5061));
    assert!(m.credentials.is_none());
}

#[test]
fn svwar_and_svcrack_registers_are_read() {
    let m = parse_message(SVWAR).unwrap();
    assert_eq!(m.to_user(), Some(&b"1001"[..]));
    assert!(m.credentials.is_none());
    let m = parse_message(SVCRACK).unwrap();
    assert_eq!(m.auth_username(), Some(&b"1001"[..]));
    assert_eq!(m.cseq.unwrap().number, 2);
}

#[test]
fn asterisk_401_is_read_as_an_answer_to_the_register() {
    let m = parse_message(ASTERISK_401).unwrap();
    assert_eq!(m.status(), Some(401));
    assert_eq!(m.cseq.unwrap().method, Method::Register);
    assert_eq!(m.call_id, Some(&b"620463722117451226940215"[..]));
    assert!(!m.stale_nonce);
    assert_eq!(m.server, Some(&b"Asterisk PBX 22.1.0"[..]));
    assert_eq!(m.content_length, Some(0));
}

#[test]
fn a_toll_fraud_invite_is_read_with_its_body() {
    let m = parse_message(TOLL_INVITE).unwrap();
    assert_eq!(m.method(), Some(Method::Invite));
    assert_eq!(m.request_user, Some(&b"900972592345678"[..]));
    assert_eq!(m.content_length, Some(m.body.len()));
    assert!(m.body.starts_with(b"v=0"));
}

#[test]
fn compact_lf_only_folded_and_oddly_spaced_headers_are_all_read() {
    let m = parse_message(QUIRKY).unwrap();
    // Lower-case method, double blanks in the request line.
    assert_eq!(m.method(), Some(Method::Register));
    // `v :` with a blank before the colon, IPv6 sent-by.
    let via = m.via.unwrap();
    assert_eq!(via.transport, b"TCP");
    assert_eq!(via.host, b"2001:db8::66");
    assert_eq!(via.port, Some(5060));
    // `f:` whose quoted display name holds `,` and `<`.
    assert_eq!(m.from_user(), Some(&b"7001"[..]));
    // `t:` as a bare addr-spec.
    assert_eq!(m.to_user(), Some(&b"7001"[..]));
    // `i:` with a tab after the colon.
    assert_eq!(m.call_id, Some(&b"compact-1@2001:db8::66"[..]));
    assert_eq!(
        m.cseq.map(|c| (c.number, c.method)),
        Some((3, Method::Register))
    );
    // `m:` with an IPv6 host.
    assert_eq!(m.contact_host, Some(&b"2001:db8::66"[..]));
    // Upper-case name, parameters folded onto the next line, blanks around `=`.
    assert_eq!(m.auth_username(), Some(&b"7001"[..]));
    // Value entirely on a continuation line.
    assert_eq!(m.user_agent, Some(&b"sipcli/v1.8"[..]));
    // `l:0` without a blank.
    assert_eq!(m.content_length, Some(0));
}

#[test]
fn a_username_less_decoy_authorization_cannot_hide_the_real_one() {
    let m = parse_message(
        b"REGISTER sip:pbx SIP/2.0\r\nAuthorization: Digest realm=\"x\"\r\nAuthorization: Digest username=\"1001\"\r\n\r\n",
    )
    .unwrap();
    assert_eq!(m.auth_username(), Some(&b"1001"[..]));
}

#[test]
fn proxy_authorization_counts_as_credentials() {
    let m = parse_message(
        b"INVITE sip:100@pbx SIP/2.0\r\nProxy-Authorization: Digest username=\"1001\", realm=\"asterisk\"\r\n\r\n",
    )
    .unwrap();
    let c = m.credentials.unwrap();
    assert!(c.proxy);
    assert_eq!(c.username, Some(&b"1001"[..]));
}

#[test]
fn tel_uris_and_passwords_in_uris_give_the_user() {
    let m = parse_message(
        b"INVITE tel:+442071234567;phone-context=x SIP/2.0\r\nFrom: <sips:alice:secret@pbx>;tag=1\r\n\r\n",
    )
    .unwrap();
    assert_eq!(m.request_user, Some(&b"+442071234567"[..]));
    assert_eq!(m.from_user(), Some(&b"alice"[..]));
}

#[test]
fn the_first_of_duplicate_headers_wins() {
    let m = parse_message(
        b"OPTIONS sip:x SIP/2.0\r\nFrom: <sip:first@x>\r\nFrom: <sip:second@x>\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2\r\nVia: SIP/2.0/UDP c\r\n\r\n",
    )
    .unwrap();
    assert_eq!(m.from_user(), Some(&b"first"[..]));
    let via = m.via.unwrap();
    assert_eq!(via.host, b"a");
    assert_eq!(via.branch, Some(&b"z9hG4bK1"[..]));
}

#[test]
fn a_stale_challenge_is_flagged() {
    let m = parse_message(
        b"SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"asterisk\", nonce=\"n\", stale=TRUE\r\n\r\n",
    )
    .unwrap();
    assert!(m.stale_nonce);
}

#[test]
fn garbage_and_keepalives_are_refused_cleanly() {
    assert_eq!(parse_message(b"\r\n\r\n"), Err(SipError::Empty));
    assert!(is_keepalive(b"\r\n"));
    assert_eq!(parse_message(b"hello"), Err(SipError::BadStartLine));
    assert_eq!(
        parse_message(b"SIP/2.0 4x1 Nope\r\n"),
        Err(SipError::BadStartLine)
    );
    assert_eq!(
        parse_message(b"GET / HTTP/1.1\r\n\r\n"),
        Err(SipError::BadStartLine)
    );
    assert!(matches!(
        parse_message(b"\x00\xffINVITE sip:x SIP/2.0\r\n"),
        Err(SipError::BadStartLine)
    ));
}

#[test]
fn the_framer_cuts_the_fixtures_out_of_one_tcp_stream_in_any_chunking() {
    let fixtures = [SVMAP, SVWAR, SVCRACK, ASTERISK_401, TOLL_INVITE, QUIRKY];
    let mut stream = Vec::new();
    for f in fixtures {
        stream.extend_from_slice(f);
        stream.extend_from_slice(b"\r\n\r\n");
    }
    for chunk in [1, 2, 3, 7, 64, 1000, stream.len()] {
        let mut framer = StreamFramer::default();
        let mut got: Vec<Vec<u8>> = Vec::new();
        for piece in stream.chunks(chunk) {
            framer.push(piece).unwrap();
            while let Some(frame) = framer.next_frame() {
                if let Frame::Message(m) = frame.unwrap() {
                    got.push(m.to_vec());
                }
            }
        }
        assert_eq!(got.len(), fixtures.len(), "chunk {chunk}");
        for (g, f) in got.iter().zip(fixtures) {
            // Each fixture ends with its blank line (plus its body), so the frame is exactly it.
            assert_eq!(g.as_slice(), f, "chunk {chunk}");
            let m = parse_message(g).unwrap();
            assert!(matches!(
                m.start,
                StartLine::Request { .. } | StartLine::Response { .. }
            ));
        }
    }
}

fn sipish_bytes() -> impl Strategy<Value = Vec<u8>> {
    // Arbitrary bytes, and SIP-shaped text with random damage, so the fuzzing reaches deep.
    let fragment = prop_oneof![
        Just(b"REGISTER sip:x SIP/2.0\r\n".to_vec()),
        Just(b"SIP/2.0 401 Unauthorized\r\n".to_vec()),
        Just(b"Via: SIP/2.0/UDP [::1]:5060;branch=z9\r\n".to_vec()),
        Just(b"f: \"a\\\"<\" <sip:u@h>;tag=1\r\n".to_vec()),
        Just(b"Authorization: Digest username=\"".to_vec()),
        Just(b"Content-Length: 5\r\n".to_vec()),
        Just(b"l: 99999999999999999999999\r\n".to_vec()),
        Just(b"CSeq: 4294967296 INVITE\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n \t".to_vec()),
        Just(b":".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..16),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        proptest::collection::vec(fragment, 0..24).prop_map(|v| v.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_extractor_never_panics_and_only_returns_slices_of_its_input(bytes in sipish_bytes()) {
        if let Ok(m) = parse_message(&bytes) {
            let range = bytes.as_ptr_range();
            for field in [m.call_id, m.user_agent, m.from_user(), m.to_user(), m.auth_username(), m.contact_host, m.request_user].into_iter().flatten() {
                prop_assert!(range.contains(&field.as_ptr()) || field.is_empty());
            }
            prop_assert!(m.body.len() <= bytes.len());
        }
    }

    #[test]
    fn the_framer_never_panics_and_never_holds_more_than_its_bound(
        bytes in sipish_bytes(),
        chunk in 1usize..64,
        limit in 16usize..256,
    ) {
        let mut framer = StreamFramer::new(limit);
        let mut framed = 0usize;
        for piece in bytes.chunks(chunk) {
            let _ = framer.push(piece);
            prop_assert!(framer.buffered() <= 2 * limit);
            while let Some(frame) = framer.next_frame() {
                if let Ok(Frame::Message(m)) = frame {
                    prop_assert!(m.len() <= limit);
                    framed += m.len();
                    let _ = parse_message(m);
                }
            }
        }
        prop_assert!(framed <= bytes.len());
    }

    #[test]
    fn extractor_output_through_the_engine_never_panics(
        messages in proptest::collection::vec((sipish_bytes(), 0u8..4, any::<bool>(), 0u64..100_000), 1..20),
    ) {
        let mut engine = Engine::new(GuardPolicy::default()).unwrap();
        for (bytes, host, outbound, ms) in messages {
            let source = std::net::SocketAddr::from(([192, 0, 2, host], 5060));
            let now = Timestamp(1_750_000_000_000 + ms);
            let direction = if outbound { Direction::FromAsterisk } else { Direction::ToAsterisk };
            let obs = match parse_message(&bytes) {
                Ok(m) => Observation::from_sip(&m, now, source, Transport::Udp, direction),
                Err(_) => Observation::malformed(now, source, Transport::Udp),
            };
            let _ = engine.observe(&obs, now);
        }
    }
}
