//! Feeds arbitrary bytes into the PBX model's constructors. The input is split on 0x1E into
//! fields (an empty field takes a valid default, so the fuzzer can work on one field at a
//! time). Whatever is accepted is rendered for both targets and must round-trip; nothing may
//! panic. The raw input also goes through the config parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::asterisk::*;
use rand::SeedableRng;

const DEFAULTS: &[&str] = &[
    "1001",            // 0 extension
    "Alice",           // 1 display name
    "",                // 2 mac (none)
    "",                // 3 typed secret (generated)
    "198.51.100.0/24", // 4 permit
    "",                // 5 deny (none)
    "national",        // 6 calling class
    "ulaw",            // 7 codec
    "udp",             // 8 transport
    "itsp",            // 9 trunk name
    "192.0.2.10",      // 10 trunk peer
    "192.0.2.0/24",    // 11 trunk source
    "4930123456",      // 12 DID
    "1001",            // 13 DID extension
    "monitor",         // 14 AMI user
    "",                // 15 AMI secret (generated)
    "127.0.0.1",       // 16 AMI permit
    "call",            // 17 AMI read class
    "pbx.example.net", // 18 realm
    "Office PBX",      // 19 user agent
    "_0ZXXXXX.",       // 20 national pattern
];

fn field(fields: &[String], i: usize) -> String {
    match fields.get(i) {
        Some(f) if !f.is_empty() => f.clone(),
        _ => DEFAULTS[i].to_owned(),
    }
}

fn optional(value: String) -> Option<String> {
    if value.is_empty() { None } else { Some(value) }
}

fn json_enum<T: serde::de::DeserializeOwned>(value: String) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(value)).ok()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_config(&text);

    let fields: Vec<String> = data
        .split(|&b| b == 0x1e)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let f = |i| field(&fields, i);
    let mut rng = rand::rngs::StdRng::seed_from_u64(data.len() as u64);

    let settings = PolicySettings {
        realm: f(18),
        user_agent: f(19),
        national_patterns: vec![f(20)],
        ..PolicySettings::default()
    };
    let Ok(policy) = GlobalPolicy::new(settings, &mut rng) else {
        return;
    };
    let (Some(calling_class), Some(codec), Some(transport), Some(read)) = (
        json_enum::<CallingClass>(f(6)),
        json_enum::<Codec>(f(7)),
        json_enum::<Transport>(f(8)),
        json_enum::<AmiClass>(f(17)),
    ) else {
        return;
    };
    let deny = f(5);
    let new = NewEndpoint {
        extension: f(0),
        display_name: f(1),
        mac: optional(fields.get(2).cloned().unwrap_or_default()),
        secret: optional(fields.get(3).cloned().unwrap_or_default()),
        permit: vec![f(4)],
        deny: if deny.is_empty() { vec![] } else { vec![deny] },
        calling_class,
        codecs: vec![codec],
        transport,
        ..NewEndpoint::default()
    };
    let Ok(endpoint) = Endpoint::provision(new, &policy, &mut rng) else {
        return;
    };
    let Ok(trunk) = Trunk::new(NewTrunk {
        name: f(9),
        peer: f(10),
        sources: vec![f(11)],
        dids: vec![NewDidRoute {
            did: f(12),
            extension: f(13),
        }],
        outbound: true,
        ..NewTrunk::default()
    }) else {
        return;
    };
    let Ok((ami, _)) = AmiUser::create(
        NewAmiUser {
            name: f(14),
            secret: optional(fields.get(15).cloned().unwrap_or_default()),
            permit: vec![f(16)],
            read: vec![read],
            ..NewAmiUser::default()
        },
        &mut rng,
    ) else {
        return;
    };
    let Ok(model) = PbxModel::new(policy, vec![endpoint.endpoint], vec![trunk], vec![ami]) else {
        return;
    };
    for target in [Target::Asterisk22Pjsip, Target::LegacyChanSip] {
        let bundle = render(&model, target, Revision::new(1));
        if let Err(e) = verify_round_trip(&model, &bundle) {
            panic!("accepted input does not round-trip for {target:?}: {e}");
        }
    }
});
