//! The PBX model (endpoints, trunks, AMI users, global policy), secrets, the Asterisk
//! renderers and the Asterisk config parser.
//!
//! Flow: raw input (`NewEndpoint`, `NewTrunk`, `NewAmiUser`, `PolicySettings`, all
//! deserialisable from the REST API) -> checked objects (`Endpoint`, `Trunk`, `AmiUser`,
//! `GlobalPolicy`), whose constructors refuse anything outside a whitelist with an
//! [`InvalidField`] naming the field and the rule -> [`PbxModel::new`], which checks the rules
//! that span objects -> [`render`], a pure function to a [`Bundle`] of files ->
//! [`verify_round_trip`], which parses them back with [`parse_config`] and checks that they
//! say exactly what the model says.
//!
//! ```
//! use policy::asterisk::*;
//! use rand::SeedableRng;
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(1);
//! let policy = GlobalPolicy::new(PolicySettings::default(), &mut rng)?;
//! let alice = Endpoint::provision(
//!     NewEndpoint { extension: "1001".into(), display_name: "Alice".into(), ..Default::default() },
//!     &policy,
//!     &mut rng,
//! )?;
//! let _show_once: String = alice.secret.reveal();
//! let model = PbxModel::new(policy, vec![alice.endpoint], vec![], vec![])?;
//! let bundle = render(&model, Target::Asterisk22Pjsip, Revision::new(1));
//! verify_round_trip(&model, &bundle)?;
//! assert!(bundle.file("pjsip.conf").unwrap().contains("auth_type=md5"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod ami;
mod changes;
mod custom_dialplan;
pub mod decision;
mod endpoint;
mod error;
mod names;
mod net;
mod parse;
mod pbx;
mod policy;
mod redact;
mod registration;
mod render;
mod roundtrip;
mod secret;
mod trunk;

pub use ami::{AmiClass, AmiUser, NewAmiUser};
pub use changes::{ChangeSummary, Delta, registrations_to_restart, summarise};
pub use custom_dialplan::{
    CustomDialplan, HOOKS as CUSTOM_DIALPLAN_HOOKS, MAX_CUSTOM_DIALPLAN_BYTES,
};
pub use endpoint::{
    AdoptedSecret, Adoption, CallingClass, Codec, Codecs, Endpoint, MaxCalls, MaxContacts,
    NewEndpoint, Provisioned, SipCredentials, Transport,
};
pub use error::InvalidField;
pub use names::{
    DialPattern, Did, DisplayName, EmergencyNumber, EndpointId, Extension, FilePath, MacAddress,
    ObjectName, Realm, UserAgent,
};
pub use net::{Acl, AclLists, DENY_ALL_V4, DENY_ALL_V6, MAX_NETWORKS, Network};
pub use parse::{
    Assign, ConfigDoc, Directive, DirectiveKind, Entry, MAX_LINE_BYTES, ParseError, ParseErrorKind,
    Section, parse_config,
};
pub use pbx::{ModelError, ModelProblem, PbxModel};
pub use policy::{GlobalPolicy, OwnAmiAccount, PolicySettings, TlsFiles, TlsSettings};
pub use redact::{Credential, HIDDEN, credentials, redact_secrets};
pub use registration::{
    DEFAULT_EXPIRATION, DEFAULT_FORBIDDEN_RETRY_INTERVAL, DEFAULT_RETRY_INTERVAL,
    MAX_PROVIDER_SECRET_LEN, MAX_SIP_USER_LEN, NewRegistration, ProviderSecret, Registration,
    SipUser,
};
pub use render::{
    Bundle, CALL_GROUP_CATEGORY, CONTEXT_LOCAL, RenderedFile, Revision, Target, render,
};
pub use roundtrip::{RoundTripError, verify_round_trip};
pub use secret::{
    AmiSecret, GENERATED_AMI_SECRET_LEN, GENERATED_SIP_SECRET_LEN, Ha1, MIN_TYPED_SECRET_LEN,
    PlainSecret, SAFE_ALPHABET, SecretContext, WeakSecret,
};
pub use trunk::{DidRoute, NewDidRoute, NewTrunk, Trunk};
