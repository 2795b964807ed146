//! Hostile strings in every text field: each is refused by a constructor with a clear
//! message naming the field, or accepted and then rendered inert, which the round trip
//! (`verify_round_trip`: parse what was rendered, compare with the model) proves.

mod asterisk_support;

use asterisk_support::{BuildError, Inputs, build, inputs};
use policy::asterisk::*;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestRunner};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Pieces attackers (or careless imports) put into text fields.
const FRAGMENTS: &[&str] = &[
    "\n",
    "\r",
    "\r\n",
    ";",
    ";--",
    "--;",
    "\\;",
    "\\",
    "[",
    "]",
    "[evil]",
    "(+)",
    "(!)",
    "(!,base)",
    ",",
    "=",
    "=>",
    "+=",
    "${SHELL(rm -rf /)}",
    "$[1+1]",
    "${EXTEN}",
    "#include \"/etc/passwd\"",
    "#exec /bin/sh",
    "#tryinclude x",
    "\0",
    "é",
    "名",
    "\u{202e}",
    "\u{7}",
    "\u{1b}[31m",
    "\t",
    " ",
    "\"",
    "'",
    "<",
    ">",
    "&",
    "^",
    "|",
    "@",
    "/",
    "..",
    "anonymous",
    "general",
    "sw-udp",
    "1001",
    "0.0.0.0/0",
    "::/0",
    "::ffff:1.2.3.4",
    "192.0.2.10",
    "%",
    "!",
    ":",
    "\u{feff}",
    "\u{85}",
    "\u{2028}",
];

/// Where the hostile text goes relative to the field's valid value.
#[derive(Clone, Copy, Debug)]
enum Placement {
    Alone,
    After,
    Before,
}

fn hostile_core() -> impl Strategy<Value = String> {
    let fragment = select(FRAGMENTS).prop_map(str::to_owned);
    prop_oneof![
        5 => prop::collection::vec(
            prop_oneof![fragment.clone(), "[a-zA-Z0-9.:/_-]{0,8}"],
            1..6
        )
        .prop_map(|parts| parts.concat()),
        2 => "\\PC{0,60}",
        1 => prop::collection::vec(any::<u8>(), 0..80)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        1 => (fragment, 8000usize..9500).prop_map(|(f, n)| format!("{}{f}", "a".repeat(n))),
    ]
}

fn hostile() -> impl Strategy<Value = (String, Placement)> {
    (
        hostile_core(),
        prop_oneof![
            Just(Placement::Alone),
            Just(Placement::After),
            Just(Placement::Before)
        ],
    )
}

/// The registration of the representative model's first trunk.
fn registration(i: &mut Inputs) -> &mut NewRegistration {
    i.trunks[0]
        .registration
        .get_or_insert_with(NewRegistration::default)
}

/// Every text field of every input type, with a way to put a string into it.
type Setter = fn(&mut Inputs, String) -> Result<(), String>;

/// Sets an enum-typed field the way the REST API would: through JSON.
fn via_json<T: serde::Serialize + serde::de::DeserializeOwned>(
    target: &mut T,
    path: &[&str],
    value: String,
) -> Result<(), String> {
    let mut json = serde_json::to_value(&*target).map_err(|e| e.to_string())?;
    let mut slot = &mut json;
    for key in path {
        slot = match key.parse::<usize>() {
            Ok(i) => &mut slot[i],
            Err(_) => &mut slot[*key],
        };
    }
    *slot = serde_json::Value::String(value);
    *target = serde_json::from_value(json).map_err(|e| e.to_string())?;
    Ok(())
}

const FIELDS: &[(&str, &str, Setter)] = &[
    ("endpoint.extension", "1001", |i, v| {
        i.endpoints[0].extension = v;
        Ok(())
    }),
    ("endpoint.display_name", "Alice Smith", |i, v| {
        i.endpoints[0].display_name = v;
        Ok(())
    }),
    ("endpoint.mac", "00:0b:82:1a:2b:3d", |i, v| {
        i.endpoints[0].mac = Some(v);
        Ok(())
    }),
    ("endpoint.secret", "Xk9#Vb2!Lm7zQ8r%Tw", |i, v| {
        i.endpoints[0].secret = Some(v);
        Ok(())
    }),
    ("endpoint.permit", "198.51.100.0/24", |i, v| {
        i.endpoints[0].permit = vec![v];
        Ok(())
    }),
    ("endpoint.deny", "198.51.100.9", |i, v| {
        i.endpoints[0].deny = vec![v];
        Ok(())
    }),
    ("endpoint.calling_class", "national", |i, v| {
        via_json(&mut i.endpoints[0], &["calling_class"], v)
    }),
    ("endpoint.codec", "ulaw", |i, v| {
        via_json(&mut i.endpoints[0], &["codecs", "0"], v)
    }),
    ("endpoint.transport", "udp", |i, v| {
        via_json(&mut i.endpoints[0], &["transport"], v)
    }),
    ("trunk.name", "itsp", |i, v| {
        i.trunks[0].name = v;
        Ok(())
    }),
    ("trunk.peer", "192.0.2.10", |i, v| {
        i.trunks[0].peer = v;
        Ok(())
    }),
    ("trunk.sources", "192.0.2.0/24", |i, v| {
        i.trunks[0].sources = vec![v];
        Ok(())
    }),
    ("trunk.did", "4930123456", |i, v| {
        i.trunks[0].dids[0].did = v;
        Ok(())
    }),
    ("trunk.did_extension", "1001", |i, v| {
        i.trunks[0].dids[0].extension = v;
        Ok(())
    }),
    ("trunk.transport", "udp", |i, v| {
        via_json(&mut i.trunks[0], &["transport"], v)
    }),
    ("trunk.registration.username", "4930123400", |i, v| {
        registration(i).username = v;
        Ok(())
    }),
    ("trunk.registration.secret", "Itsp-Pr0vider+Pass", |i, v| {
        registration(i).secret = Some(v);
        Ok(())
    }),
    (
        "trunk.registration.auth_username",
        "auth4930123400",
        |i, v| {
            registration(i).auth_username = Some(v);
            Ok(())
        },
    ),
    ("trunk.registration.contact_user", "4930123400", |i, v| {
        registration(i).contact_user = Some(v);
        Ok(())
    }),
    ("ami.name", "monitor", |i, v| {
        i.ami_users[0].name = v;
        Ok(())
    }),
    ("ami.secret", "Qm7Vb2Lx9Kp4Wz8Nc3Hd", |i, v| {
        i.ami_users[0].secret = Some(v);
        Ok(())
    }),
    ("ami.permit", "127.0.0.1", |i, v| {
        i.ami_users[0].permit = vec![v];
        Ok(())
    }),
    ("ami.read_class", "call", |i, v| {
        via_json(&mut i.ami_users[0], &["read", "0"], v)
    }),
    ("policy.realm", "pbx.example.net", |i, v| {
        i.settings.realm = v;
        Ok(())
    }),
    ("policy.user_agent", "Office PBX", |i, v| {
        i.settings.user_agent = v;
        Ok(())
    }),
    ("policy.national_pattern", "_0ZXXXXX.", |i, v| {
        i.settings.national_patterns[0] = v;
        Ok(())
    }),
    ("policy.emergency_number", "112", |i, v| {
        i.settings.emergency_numbers[0] = v;
        Ok(())
    }),
    (
        "policy.tls_cert_file",
        "/etc/asterisk/keys/pbx.crt",
        |i, v| {
            if let Some(tls) = &mut i.settings.tls {
                tls.cert_file = v;
            }
            Ok(())
        },
    ),
    ("policy.guard_ami_user", "sipwarden-guard", |i, v| {
        i.settings.guard_ami_user = v;
        Ok(())
    }),
    ("policy.apply_ami_user", "sipwarden-apply", |i, v| {
        i.settings.apply_ami_user = v;
        Ok(())
    }),
    (
        "policy.apply_ami_secret",
        "ApplySecret0123456789abcdEFGH",
        |i, v| {
            i.settings.apply_ami_secret = Some(v);
            Ok(())
        },
    ),
    (
        "policy.guard_ami_secret",
        "GuardSecret0123456789abcdEFGH",
        |i, v| {
            i.settings.guard_ami_secret = Some(v);
            Ok(())
        },
    ),
    ("policy.default_network", "10.0.0.0/8", |i, v| {
        i.settings.default_endpoint_networks = vec![v];
        // Let the default apply: the last endpoint has no permit list of its own.
        Ok(())
    }),
];

static TRIED: AtomicUsize = AtomicUsize::new(0);
static REFUSED_FIELD: AtomicUsize = AtomicUsize::new(0);
static REFUSED_MODEL: AtomicUsize = AtomicUsize::new(0);
static ACCEPTED: AtomicUsize = AtomicUsize::new(0);

/// An error message is safe to show and log: one line, bounded, no raw control characters.
fn assert_clear_message(message: &str, value: &str, field: &str) -> Result<(), TestCaseError> {
    prop_assert!(!message.is_empty());
    prop_assert!(
        message.len() < 400,
        "{field}: message of {} bytes",
        message.len()
    );
    prop_assert!(
        !message
            .chars()
            .any(|c| c.is_control() || c == '\u{202e}' || c == '\u{2028}'),
        "{field}: message carries a control character: {message:?}"
    );
    if field.ends_with("secret") && value.len() > 3 {
        prop_assert!(
            !message.contains(value),
            "{field}: message echoes the secret"
        );
    }
    Ok(())
}

fn check_field(index: usize, hostile: &str, placement: Placement) -> Result<(), TestCaseError> {
    let (field, valid, set) = FIELDS[index];
    let value = match placement {
        Placement::Alone => hostile.to_owned(),
        Placement::After => format!("{valid}{hostile}"),
        Placement::Before => format!("{hostile}{valid}"),
    };
    TRIED.fetch_add(1, Ordering::Relaxed);
    let mut i = inputs();
    if let Err(message) = set(&mut i, value.clone()) {
        // Refused while deserialising the API's JSON, by the type's checked constructor.
        REFUSED_FIELD.fetch_add(1, Ordering::Relaxed);
        return assert_clear_message(&message, &value, field);
    }
    match build(i) {
        Err(BuildError::Field(e)) => {
            REFUSED_FIELD.fetch_add(1, Ordering::Relaxed);
            prop_assert!(!e.field().is_empty() && !e.rule().is_empty());
            assert_clear_message(&e.to_string(), &value, field)
        }
        Err(BuildError::Model(e)) => {
            REFUSED_MODEL.fetch_add(1, Ordering::Relaxed);
            assert_clear_message(&e.to_string(), &value, field)
        }
        Ok(model) => {
            ACCEPTED.fetch_add(1, Ordering::Relaxed);
            for target in [Target::Asterisk22Pjsip, Target::LegacyChanSip] {
                let bundle = render(&model, target, Revision::new(9));
                if let Err(e) = verify_round_trip(&model, &bundle) {
                    return Err(TestCaseError::fail(format!(
                        "{field} = {value:?} was accepted but does not round-trip for {target:?}: {e}"
                    )));
                }
            }
            Ok(())
        }
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

#[test]
fn every_hostile_input_is_refused_with_a_clear_message_or_rendered_inert() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = prop::collection::vec(hostile(), FIELDS.len());
    runner
        .run(&strategy, |values| {
            for (index, (hostile, placement)) in values.iter().enumerate() {
                check_field(index, hostile, *placement)?;
            }
            Ok(())
        })
        .unwrap();
    let tried = TRIED.load(Ordering::Relaxed);
    eprintln!(
        "hostile inputs tried: {tried} over {} fields ({} refused by a constructor, {} refused by a model rule, {} accepted, rendered and round-tripped on both targets)",
        FIELDS.len(),
        REFUSED_FIELD.load(Ordering::Relaxed),
        REFUSED_MODEL.load(Ordering::Relaxed),
        ACCEPTED.load(Ordering::Relaxed),
    );
    assert!(tried >= FIELDS.len() * cases() as usize);
}

#[test]
fn the_valid_value_of_every_field_is_accepted() {
    // Guards the test above: with no hostile text each setter must leave a valid model.
    for (index, _) in FIELDS.iter().enumerate() {
        let (field, valid, set) = FIELDS[index];
        let mut i = inputs();
        set(&mut i, valid.to_owned()).unwrap();
        if let Err(e) = build(i) {
            panic!("{field} = {valid:?}: {e:?}");
        }
    }
}

fn display_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.'@+/!?#*%:_-][A-Za-z0-9 .'@+/!?#*%:_-]{0,37}[A-Za-z0-9.'@+/!?#*%:_-]"
}

fn network() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<[u8; 4]>(), 8u8..=32).prop_map(|(a, len)| {
            ipnet::Ipv4Net::new(a.into(), len)
                .expect("prefix length is at most 32")
                .trunc()
                .to_string()
        }),
        (any::<[u16; 8]>(), 16u8..=128).prop_map(|(a, len)| {
            ipnet::Ipv6Net::new(a.into(), len)
                .expect("prefix length is at most 128")
                .trunc()
                .to_string()
        }),
    ]
    .prop_filter("not IPv4-mapped", |n| !n.starts_with("::ffff:"))
}

proptest! {
    #![proptest_config(Config { cases: 64, failure_persistence: None, ..Config::default() })]

    #[test]
    fn any_model_built_from_valid_random_input_round_trips(
        phones in prop::collection::vec(
            (display_name(), prop::collection::vec(network(), 1..4), 0usize..3, 1u32..20, any::<bool>()),
            1..25,
        )
    ) {
        let mut i = inputs();
        i.trunks.iter_mut().for_each(|t| t.dids.clear());
        i.endpoints = phones
            .into_iter()
            .enumerate()
            .map(|(n, (name, permit, class, max_calls, enabled))| NewEndpoint {
                extension: format!("{}", 2000 + n),
                display_name: name,
                permit,
                calling_class: CallingClass::ALL[class],
                max_calls,
                enabled,
                ..NewEndpoint::default()
            })
            .collect();
        match build(i) {
            Ok(model) => {
                for target in [Target::Asterisk22Pjsip, Target::LegacyChanSip] {
                    let bundle = render(&model, target, Revision::new(3));
                    prop_assert_eq!(verify_round_trip(&model, &bundle), Ok(()));
                }
            }
            // Random networks may repeat or be v6-only, which is a legitimate refusal.
            Err(BuildError::Field(e)) => prop_assert!(e.field().starts_with("permit"), "{e}"),
            Err(BuildError::Model(e)) => prop_assert!(false, "{e}"),
        }
    }

    #[test]
    fn the_parser_never_panics_and_reports_a_line_within_the_file(
        text in prop_oneof![
            "\\PC{0,300}",
            prop::collection::vec(select(FRAGMENTS), 0..40).prop_map(|v| v.concat()),
        ]
    ) {
        if let Err(e) = parse_config(&text) {
            prop_assert!(e.line >= 1 && e.line <= text.split('\n').count());
        }
    }
}

/// The lines of `pjsip.conf` that are not comments: what Asterisk reads.
fn code_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .collect()
}

#[test]
fn no_accepted_registration_value_adds_a_line_or_changes_another() {
    let baseline = render(
        &asterisk_support::model(),
        Target::Asterisk22Pjsip,
        Revision::new(9),
    );
    let baseline = code_lines(baseline.file("pjsip.conf").unwrap_or_default())
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let text = || prop_oneof![hostile_core(), "[ -~]{1,40}"];
    let strategy = (text(), text(), text(), text());
    runner
        .run(&strategy, |(username, secret, auth, contact)| {
            let mut i = inputs();
            let registration = registration(&mut i);
            registration.username = username;
            registration.secret = Some(secret.clone());
            registration.auth_username = Some(auth);
            registration.contact_user = Some(contact);
            let Ok(model) = build(i) else {
                return Ok(());
            };
            let bundle = render(&model, Target::Asterisk22Pjsip, Revision::new(9));
            let pjsip = bundle.file("pjsip.conf").unwrap_or_default();
            let lines = code_lines(pjsip);
            // Same lines, same keys in the same order: only the registration's values differ.
            prop_assert_eq!(lines.len(), baseline.len());
            for (got, want) in lines.iter().zip(&baseline) {
                let key = |l: &str| l.split('=').next().unwrap_or("").to_owned();
                prop_assert_eq!(key(got), key(want));
            }
            let password = format!("password={secret}");
            prop_assert!(lines.contains(&password.as_str()));
            prop_assert!(verify_round_trip(&model, &bundle).is_ok());
            Ok(())
        })
        .unwrap();
}
