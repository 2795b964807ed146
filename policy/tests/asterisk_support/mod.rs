//! The representative PBX the golden files and the hostile-input tests start from.
#![allow(
    dead_code,
    reason = "each test crate uses a different part of this module"
)]

use policy::asterisk::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// A fixed seed, so generated ids and secrets (and so the golden files) never change.
pub fn rng() -> StdRng {
    StdRng::seed_from_u64(0x5195_a7de)
}

pub fn settings() -> PolicySettings {
    PolicySettings {
        realm: "pbx.example.net".into(),
        user_agent: "Office PBX".into(),
        sip_bind_v4: std::net::Ipv4Addr::new(192, 0, 2, 5),
        sip_bind_v6: Some(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5)),
        tls: Some(TlsSettings {
            cert_file: "/etc/asterisk/keys/pbx.crt".into(),
            key_file: "/etc/asterisk/keys/pbx.key".into(),
        }),
        national_patterns: vec!["_0ZXXXXX.".into(), "_118XX".into()],
        international_patterns: vec!["_00ZXXXXX.".into()],
        emergency_numbers: vec!["112".into(), "110".into()],
        guard_ami_secret: Some("GuardSecret0123456789abcdEFGH".into()),
        apply_ami_secret: Some("ApplySecret0123456789abcdEFGH".into()),
        ..PolicySettings::default()
    }
}

/// The inputs of the representative model, before any check.
#[derive(Clone, Debug)]
pub struct Inputs {
    pub settings: PolicySettings,
    pub endpoints: Vec<NewEndpoint>,
    pub trunks: Vec<NewTrunk>,
    pub ami_users: Vec<NewAmiUser>,
}

pub fn inputs() -> Inputs {
    Inputs {
        settings: settings(),
        endpoints: vec![
            NewEndpoint {
                extension: "1001".into(),
                display_name: "Alice Smith".into(),
                permit: vec!["198.51.100.0/24".into()],
                deny: vec!["198.51.100.9".into()],
                calling_class: CallingClass::National,
                ..NewEndpoint::default()
            },
            NewEndpoint {
                extension: "1002".into(),
                display_name: "Bob O'Neil".into(),
                mac: Some("00:0B:82:1A:2B:3C".into()),
                secret: Some("Xk9#Vb2!Lm7zQ8r%Tw".into()),
                permit: vec!["2001:db8:10::/48".into()],
                calling_class: CallingClass::International,
                codecs: vec![Codec::G722, Codec::Ulaw],
                transport: Transport::Tcp,
                max_calls: 4,
                max_contacts: 2,
                ..NewEndpoint::default()
            },
            NewEndpoint {
                extension: "1003".into(),
                display_name: "Reception".into(),
                permit: vec!["10.20.0.0/16".into(), "fd00:20::/32".into()],
                transport: Transport::Tls,
                max_calls: 1,
                ..NewEndpoint::default()
            },
            NewEndpoint {
                extension: "1004".into(),
                display_name: "Lab phone".into(),
                enabled: false,
                ..NewEndpoint::default()
            },
        ],
        trunks: vec![
            NewTrunk {
                name: "itsp".into(),
                peer: "192.0.2.10".into(),
                sources: vec!["192.0.2.10".into(), "192.0.2.11".into()],
                dids: vec![
                    NewDidRoute {
                        did: "4930123456".into(),
                        extension: "1001".into(),
                    },
                    NewDidRoute {
                        did: "4930123457".into(),
                        extension: "1002".into(),
                    },
                ],
                outbound: true,
                registration: Some(NewRegistration {
                    username: "4930123400".into(),
                    secret: Some("Itsp-Pr0vider+Pass".into()),
                    auth_username: Some("auth4930123400".into()),
                    contact_user: Some("4930123400".into()),
                    retry_interval: 30,
                    forbidden_retry_interval: 600,
                    expiration: 600,
                    outbound_auth: true,
                }),
                ..NewTrunk::default()
            },
            NewTrunk {
                name: "backup-v6".into(),
                peer: "2001:db8:99::1".into(),
                sources: vec!["2001:db8:99::/64".into()],
                dids: vec![NewDidRoute {
                    did: "4930999000".into(),
                    extension: "1003".into(),
                }],
                transport: Transport::Tcp,
                codecs: vec![Codec::Alaw],
                ..NewTrunk::default()
            },
        ],
        ami_users: vec![
            NewAmiUser {
                name: "monitor".into(),
                read: vec![AmiClass::Call, AmiClass::Cdr],
                ..NewAmiUser::default()
            },
            NewAmiUser {
                name: "cfgreload".into(),
                permit: vec!["127.0.0.1/32".into(), "192.0.2.50".into()],
                write: vec![AmiClass::Config],
                allow_dangerous: true,
                ..NewAmiUser::default()
            },
        ],
    }
}

/// Why building a model from inputs failed.
#[derive(Debug)]
pub enum BuildError {
    Field(InvalidField),
    Model(ModelError),
}

/// Runs every checked constructor over the inputs, as the backend would.
pub fn build(inputs: Inputs) -> Result<PbxModel, BuildError> {
    let mut rng = rng();
    let policy = GlobalPolicy::new(inputs.settings, &mut rng).map_err(BuildError::Field)?;
    let mut endpoints = Vec::new();
    for new in inputs.endpoints {
        let p = Endpoint::provision(new, &policy, &mut rng).map_err(BuildError::Field)?;
        endpoints.push(p.endpoint);
    }
    let trunks = inputs
        .trunks
        .into_iter()
        .map(Trunk::new)
        .collect::<Result<Vec<_>, _>>()
        .map_err(BuildError::Field)?;
    let mut ami_users = Vec::new();
    for new in inputs.ami_users {
        ami_users.push(AmiUser::create(new, &mut rng).map_err(BuildError::Field)?.0);
    }
    PbxModel::new(policy, endpoints, trunks, ami_users).map_err(BuildError::Model)
}

pub fn model() -> PbxModel {
    build(inputs()).expect("the representative model is valid")
}
