//! SIP endpoints (phones): the input the API accepts, and the checked endpoint it becomes.

use super::error::InvalidField;
use super::names::{DisplayName, EndpointId, Extension, MacAddress, Realm, keyword_enum};
use super::net::Acl;
use super::policy::GlobalPolicy;
use super::secret::{Ha1, PlainSecret, SecretContext};
use md5::{Digest, Md5};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

keyword_enum!(
    /// Audio codecs an endpoint or trunk may offer (`allow=` after `disallow=all`).
    Codec,
    "codec",
    {
        /// G.711 µ-law.
        Ulaw => "ulaw",
        /// G.711 A-law.
        Alaw => "alaw",
        /// G.722 wideband.
        G722 => "g722",
        /// G.729.
        G729 => "g729",
        /// Opus.
        Opus => "opus",
        /// GSM.
        Gsm => "gsm",
    }
);

keyword_enum!(
    /// SIP transport protocol.
    #[derive(Default)]
    Transport,
    "transport",
    {
        /// UDP.
        #[default]
        Udp => "udp",
        /// TCP.
        Tcp => "tcp",
        /// TLS (needs `tls` in the policy).
        Tls => "tls",
    }
);

keyword_enum!(
    /// What an endpoint may dial beyond internal extensions and emergency numbers (step 7).
    #[derive(Default)]
    CallingClass,
    "calling_class",
    {
        /// Internal extensions and emergency numbers only.
        #[default]
        Internal => "internal",
        /// Also the policy's national patterns.
        National => "national",
        /// Also the policy's international patterns.
        International => "international",
    }
);

impl CallingClass {
    /// The dialplan context an endpoint of this class starts in.
    pub fn context(self) -> &'static str {
        match self {
            Self::Internal => "sw-class-internal",
            Self::National => "sw-class-national",
            Self::International => "sw-class-international",
        }
    }
}

/// Declares a bounded integer newtype.
macro_rules! bounded_u32 {
    ($(#[$meta:meta])* $name:ident, $field:literal, $min:literal, $max:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "u32", into = "u32")]
        pub struct $name(u32);

        impl $name {
            /// Checks the bounds.
            pub fn new(value: u32) -> Result<Self, InvalidField> {
                if ($min..=$max).contains(&value) {
                    Ok(Self(value))
                } else {
                    Err(InvalidField::new($field, format!("must be between {} and {}", $min, $max)))
                }
            }
            /// The number.
            pub fn get(self) -> u32 {
                self.0
            }
        }

        impl TryFrom<u32> for $name {
            type Error = InvalidField;
            fn try_from(value: u32) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for u32 {
            fn from(value: $name) -> u32 {
                value.0
            }
        }
    };
}

bounded_u32!(
    /// Concurrent calls one endpoint may be part of, both directions together (step 5).
    MaxCalls,
    "max_calls",
    1,
    100
);

bounded_u32!(
    /// Contacts that may register to the endpoint's AoR at once.
    MaxContacts,
    "max_contacts",
    1,
    10
);

/// A non-empty list of distinct codecs, in preference order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Codec>", into = "Vec<Codec>")]
pub struct Codecs(Vec<Codec>);

impl Codecs {
    /// Checks the list: at least one codec, none twice.
    pub fn new(codecs: Vec<Codec>) -> Result<Self, InvalidField> {
        if codecs.is_empty() {
            return Err(InvalidField::new("codecs", "must list at least one codec"));
        }
        for (i, codec) in codecs.iter().enumerate() {
            if codecs[..i].contains(codec) {
                return Err(InvalidField::new(
                    format!("codecs[{i}]"),
                    format!("{codec} is listed twice"),
                ));
            }
        }
        Ok(Self(codecs))
    }
    /// The codecs in preference order.
    pub fn as_slice(&self) -> &[Codec] {
        &self.0
    }
}

impl Default for Codecs {
    fn default() -> Self {
        Self(vec![Codec::Ulaw, Codec::Alaw])
    }
}

impl TryFrom<Vec<Codec>> for Codecs {
    type Error = InvalidField;
    fn try_from(value: Vec<Codec>) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Codecs> for Vec<Codec> {
    fn from(value: Codecs) -> Self {
        value.0
    }
}

/// What the API accepts to create an endpoint. Only `extension` and `display_name` are
/// required; the id, auth name and (unless typed in) the secret are generated.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewEndpoint {
    /// Extension number, `^[0-9]{2,15}$`.
    #[cfg_attr(feature = "utoipa", schema(pattern = "^[0-9]{2,15}$"))]
    pub extension: String,
    /// Name shown on phones.
    #[cfg_attr(feature = "utoipa", schema(min_length = 1, max_length = 40))]
    pub display_name: String,
    /// The device's MAC address; when given, the id is derived from it.
    pub mac: Option<String>,
    /// A secret the administrator typed in; generated when absent.
    pub secret: Option<String>,
    /// Networks the endpoint may connect from; the policy's defaults when empty.
    pub permit: Vec<String>,
    /// Exceptions inside `permit`.
    pub deny: Vec<String>,
    /// Concurrent calls, both directions.
    #[cfg_attr(feature = "utoipa", schema(minimum = 1, maximum = 100))]
    pub max_calls: u32,
    /// What the endpoint may dial.
    pub calling_class: CallingClass,
    /// Codecs in preference order.
    pub codecs: Vec<Codec>,
    /// Transport protocol.
    pub transport: Transport,
    /// Registered contacts at once.
    #[cfg_attr(feature = "utoipa", schema(minimum = 1, maximum = 10))]
    pub max_contacts: u32,
    /// Disabled endpoints keep their extension but are not rendered.
    pub enabled: bool,
}

impl Default for NewEndpoint {
    fn default() -> Self {
        Self {
            extension: String::new(),
            display_name: String::new(),
            mac: None,
            secret: None,
            permit: Vec::new(),
            deny: Vec::new(),
            max_calls: 2,
            calling_class: CallingClass::Internal,
            codecs: vec![Codec::Ulaw, Codec::Alaw],
            transport: Transport::Udp,
            max_contacts: 1,
            enabled: true,
        }
    }
}

impl fmt::Debug for NewEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewEndpoint")
            .field("extension", &self.extension)
            .field("display_name", &self.display_name)
            .field("mac", &self.mac)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("permit", &self.permit)
            .field("deny", &self.deny)
            .field("max_calls", &self.max_calls)
            .field("calling_class", &self.calling_class)
            .field("codecs", &self.codecs)
            .field("transport", &self.transport)
            .field("max_contacts", &self.max_contacts)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// The digest of an endpoint's secret and the realm it was computed for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipCredentials {
    realm: Realm,
    ha1: Ha1,
}

impl SipCredentials {
    /// The realm the digest was made for.
    pub fn realm(&self) -> &Realm {
        &self.realm
    }
    /// HA1 = md5(id:realm:secret).
    pub fn ha1(&self) -> &Ha1 {
        &self.ha1
    }
}

/// A checked SIP endpoint. Serialises to (and deserialises from, re-checking everything) the
/// form the database stores: digests only, never the secret (step 3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    id: EndpointId,
    extension: Extension,
    display_name: DisplayName,
    #[serde(default)]
    mac: Option<MacAddress>,
    credentials: SipCredentials,
    acl: Acl,
    max_calls: MaxCalls,
    calling_class: CallingClass,
    codecs: Codecs,
    transport: Transport,
    max_contacts: MaxContacts,
    enabled: bool,
    /// Set when the endpoint was imported from an existing configuration (#16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adopted: Option<Adoption>,
}

/// What an endpoint imported from an existing configuration (#16) kept from it, so that its
/// phone keeps working without being re-provisioned: the posture reports both until the
/// administrator replaces them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adoption {
    /// Why the secret taken over is weaker than sipwarden would accept; `None` when it
    /// passed the strength rules, or once it was rotated.
    pub weak_secret: Option<String>,
}

/// The secret an imported configuration holds for an endpoint.
pub enum AdoptedSecret {
    /// In plain text (`password=`, `secret=`): hashed for the policy's realm, then dropped.
    Plain(String),
    /// Only as a digest (`md5_cred=`, `md5secret=`) made for `realm`: usable only when that is
    /// the policy's realm, since a digest cannot be re-made for another.
    Digest {
        /// The realm the digest was made for.
        realm: String,
        /// The digest.
        ha1: String,
    },
}

impl fmt::Debug for AdoptedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(_) => f.write_str("Plain(<redacted>)"),
            Self::Digest { realm, .. } => {
                write!(f, "Digest {{ realm: {realm:?}, ha1: <redacted> }}")
            }
        }
    }
}

/// A freshly created endpoint and its plain secret, to be shown once and then dropped.
#[derive(Debug)]
pub struct Provisioned {
    /// The endpoint to store.
    pub endpoint: Endpoint,
    /// The secret to show the administrator once.
    pub secret: PlainSecret,
}

/// Length of generated endpoint ids (first a letter, then letters and digits).
const ID_LEN: usize = 10;

fn random_id<R: Rng + ?Sized>(rng: &mut R) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(ID_LEN);
    id.push(char::from(LETTERS[rng.gen_range(0..LETTERS.len())]));
    for _ in 1..ID_LEN {
        id.push(char::from(ALNUM[rng.gen_range(0..ALNUM.len())]));
    }
    id
}

/// An id derived from a MAC address: `m` + 11 hex digits of md5(realm + MAC).
///
/// Why: naming devices after their MAC is the best-practice advice, but the bare digits of
/// a MAC may be all decimal (an extension look-alike) and are printed on the device. A hash
/// with a leading letter is stable per device and realm, never numeric, and not the label.
fn id_from_mac(mac: &MacAddress, realm: &Realm) -> String {
    let mut hasher = Md5::new();
    hasher.update(b"sipwarden-device:");
    hasher.update(realm.as_str().as_bytes());
    hasher.update(b":");
    hasher.update(mac.as_str().as_bytes());
    let digest = hex::encode(hasher.finalize());
    format!("m{}", &digest[..11])
}

impl Endpoint {
    /// Checks `new` and creates the endpoint: generates its id (from the MAC when given),
    /// generates or strength-checks its secret, and keeps only the HA1 digest of it.
    pub fn provision<R: Rng + ?Sized>(
        new: NewEndpoint,
        policy: &GlobalPolicy,
        rng: &mut R,
    ) -> Result<Provisioned, InvalidField> {
        let extension = Extension::parse(&new.extension)?;
        let display_name = DisplayName::parse(&new.display_name)?;
        let mac = new.mac.as_deref().map(MacAddress::parse).transpose()?;
        let id = match &mac {
            Some(mac) => id_from_mac(mac, policy.realm()),
            None => random_id(rng),
        };
        let id = EndpointId::try_from(id)?;
        let secret = match &new.secret {
            Some(typed) => PlainSecret::typed(
                typed,
                &SecretContext {
                    extension: Some(extension.as_str()),
                    username: Some(id.as_str()),
                    display_name: Some(display_name.as_str()),
                },
            )
            .map_err(|e| e.into_field("secret"))?,
            None => PlainSecret::generate(rng),
        };
        let credentials = SipCredentials {
            ha1: Ha1::compute(&id, policy.realm(), &secret),
            realm: policy.realm().clone(),
        };
        let endpoint = Self::assemble(id, mac, credentials, new, policy, None)?;
        Ok(Provisioned { endpoint, secret })
    }

    /// An endpoint taken over from an existing configuration (#16): it keeps `name`, the
    /// name its phone registers and authenticates with (often its extension number, which
    /// the posture then reports), and the phone's secret, of which only the digest for the
    /// policy's realm is kept. A weak secret is kept too, and reported until rotated.
    pub fn adopt(
        name: &str,
        secret: AdoptedSecret,
        new: NewEndpoint,
        policy: &GlobalPolicy,
    ) -> Result<Self, InvalidField> {
        if new.mac.is_some() || new.secret.is_some() {
            return Err(InvalidField::new(
                "secret",
                "an adopted endpoint takes its name and secret from the imported configuration",
            ));
        }
        let id = EndpointId::parse(name)?;
        let (credentials, weak_secret) = match secret {
            AdoptedSecret::Plain(plain) => {
                let (plain, weak) = PlainSecret::adopted(
                    &plain,
                    &SecretContext {
                        extension: Some(&new.extension),
                        username: Some(id.as_str()),
                        display_name: Some(&new.display_name),
                    },
                )
                .map_err(|e| e.into_field("secret"))?;
                let credentials = SipCredentials {
                    ha1: Ha1::compute(&id, policy.realm(), &plain),
                    realm: policy.realm().clone(),
                };
                (credentials, weak.map(|w| w.to_string()))
            }
            AdoptedSecret::Digest { realm, ha1 } => {
                if realm != policy.realm().as_str() {
                    return Err(InvalidField::new(
                        "secret",
                        format!(
                            "only a digest for realm '{realm}' was found, and a digest cannot be \
                             re-made for the policy's realm '{}'; set the policy's realm to \
                             '{realm}' before importing, or give the phone a new secret",
                            policy.realm()
                        ),
                    ));
                }
                let credentials = SipCredentials {
                    ha1: Ha1::parse(&ha1.to_ascii_lowercase())?,
                    realm: policy.realm().clone(),
                };
                // Its strength is unknown; the audit of the old configuration cannot see it either.
                (credentials, None)
            }
        };
        Self::assemble(
            id,
            None,
            credentials,
            new,
            policy,
            Some(Adoption { weak_secret }),
        )
    }

    /// The checks every endpoint's fields go through, however it was named.
    fn assemble(
        id: EndpointId,
        mac: Option<MacAddress>,
        credentials: SipCredentials,
        new: NewEndpoint,
        policy: &GlobalPolicy,
        adopted: Option<Adoption>,
    ) -> Result<Self, InvalidField> {
        let extension = Extension::parse(&new.extension)?;
        let display_name = DisplayName::parse(&new.display_name)?;
        if new.permit.is_empty() && !new.deny.is_empty() {
            return Err(InvalidField::new("deny", "needs an explicit permit list"));
        }
        let acl = if new.permit.is_empty() {
            Acl::new(policy.default_endpoint_networks().to_vec(), Vec::new())
                .map_err(|e| e.for_field("permit (policy default_endpoint_networks)"))?
        } else {
            Acl::from_strings(&new.permit, &new.deny)?
        };
        Ok(Self {
            id,
            extension,
            display_name,
            mac,
            credentials,
            acl,
            max_calls: MaxCalls::new(new.max_calls)?,
            calling_class: new.calling_class,
            codecs: Codecs::new(new.codecs)?,
            transport: new.transport,
            max_contacts: MaxContacts::new(new.max_contacts)?,
            enabled: new.enabled,
            adopted,
        })
    }

    /// The same endpoint with a new secret (generated, or typed in and strength-checked),
    /// hashed for the policy's current realm.
    pub fn with_new_secret<R: Rng + ?Sized>(
        &self,
        typed: Option<&str>,
        policy: &GlobalPolicy,
        rng: &mut R,
    ) -> Result<Provisioned, InvalidField> {
        let secret = match typed {
            Some(typed) => PlainSecret::typed(
                typed,
                &SecretContext {
                    extension: Some(self.extension.as_str()),
                    username: Some(self.id.as_str()),
                    display_name: Some(self.display_name.as_str()),
                },
            )
            .map_err(|e| e.into_field("secret"))?,
            None => PlainSecret::generate(rng),
        };
        let mut endpoint = self.clone();
        endpoint.credentials = SipCredentials {
            ha1: Ha1::compute(&self.id, policy.realm(), &secret),
            realm: policy.realm().clone(),
        };
        if let Some(adoption) = &mut endpoint.adopted {
            // The secret taken over is gone; the name stays until the phone is re-provisioned.
            adoption.weak_secret = None;
        }
        Ok(Provisioned { endpoint, secret })
    }

    /// The same endpoint with the editable fields of `changes` (everything but the id, the
    /// MAC it was derived from and the secret, which [`Endpoint::with_new_secret`] rotates).
    /// An empty `permit` takes the policy's default networks, as at creation.
    pub fn edited(
        &self,
        changes: NewEndpoint,
        policy: &GlobalPolicy,
    ) -> Result<Self, InvalidField> {
        if changes.secret.is_some() {
            return Err(InvalidField::new(
                "secret",
                "cannot be set by an edit; rotate the secret instead",
            ));
        }
        if changes.mac.is_some()
            && changes.mac.as_deref() != self.mac.as_ref().map(MacAddress::as_str)
        {
            return Err(InvalidField::new(
                "mac",
                "cannot change (the id is derived from it); create a new endpoint instead",
            ));
        }
        if changes.permit.is_empty() && !changes.deny.is_empty() {
            return Err(InvalidField::new("deny", "needs an explicit permit list"));
        }
        let acl = if changes.permit.is_empty() {
            Acl::new(policy.default_endpoint_networks().to_vec(), Vec::new())
                .map_err(|e| e.for_field("permit (policy default_endpoint_networks)"))?
        } else {
            Acl::from_strings(&changes.permit, &changes.deny)?
        };
        Ok(Self {
            id: self.id.clone(),
            extension: Extension::parse(&changes.extension)?,
            display_name: DisplayName::parse(&changes.display_name)?,
            mac: self.mac.clone(),
            credentials: self.credentials.clone(),
            acl,
            max_calls: MaxCalls::new(changes.max_calls)?,
            calling_class: changes.calling_class,
            codecs: Codecs::new(changes.codecs)?,
            transport: changes.transport,
            max_contacts: MaxContacts::new(changes.max_contacts)?,
            enabled: changes.enabled,
            adopted: self.adopted.clone(),
        })
    }

    /// The id: endpoint, auth and AoR section name, auth username, chan_sip peer name.
    pub fn id(&self) -> &EndpointId {
        &self.id
    }
    /// The extension number.
    pub fn extension(&self) -> &Extension {
        &self.extension
    }
    /// The display name.
    pub fn display_name(&self) -> &DisplayName {
        &self.display_name
    }
    /// The MAC address the id was derived from, if any.
    pub fn mac(&self) -> Option<&MacAddress> {
        self.mac.as_ref()
    }
    /// The stored digest.
    pub fn credentials(&self) -> &SipCredentials {
        &self.credentials
    }
    /// Who may connect.
    pub fn acl(&self) -> &Acl {
        &self.acl
    }
    /// Concurrent call limit.
    pub fn max_calls(&self) -> MaxCalls {
        self.max_calls
    }
    /// Calling class.
    pub fn calling_class(&self) -> CallingClass {
        self.calling_class
    }
    /// Codecs.
    pub fn codecs(&self) -> &Codecs {
        &self.codecs
    }
    /// Transport.
    pub fn transport(&self) -> Transport {
        self.transport
    }
    /// Registered contacts at once.
    pub fn max_contacts(&self) -> MaxContacts {
        self.max_contacts
    }
    /// Whether the endpoint is rendered.
    pub fn enabled(&self) -> bool {
        self.enabled
    }
    /// What it kept from the configuration it was imported from, if it was.
    pub fn adopted(&self) -> Option<&Adoption> {
        self.adopted.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asterisk::policy::PolicySettings;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn policy() -> GlobalPolicy {
        GlobalPolicy::new(PolicySettings::default(), &mut StdRng::seed_from_u64(1)).unwrap()
    }

    #[test]
    fn an_endpoint_from_the_minimal_input_gets_a_non_numeric_generated_id() {
        let mut rng = StdRng::seed_from_u64(2);
        let new = NewEndpoint {
            extension: "1001".into(),
            display_name: "Alice".into(),
            ..NewEndpoint::default()
        };
        let p = Endpoint::provision(new, &policy(), &mut rng).unwrap();
        assert_ne!(p.endpoint.id().as_str(), "1001");
        assert!(
            p.endpoint
                .id()
                .as_str()
                .starts_with(|c: char| c.is_ascii_lowercase())
        );
        assert_eq!(
            p.endpoint.acl().permit().len(),
            4,
            "policy default networks"
        );
        assert!(p.secret.reveal().len() >= 20);
    }

    #[test]
    fn a_mac_address_gives_a_stable_hashed_id_not_the_mac_digits() {
        let mut rng = StdRng::seed_from_u64(3);
        let new = NewEndpoint {
            extension: "1002".into(),
            display_name: "Bob".into(),
            mac: Some("00:11:22:33:44:55".into()),
            ..NewEndpoint::default()
        };
        let a = Endpoint::provision(new.clone(), &policy(), &mut rng).unwrap();
        let b = Endpoint::provision(new, &policy(), &mut rng).unwrap();
        assert_eq!(a.endpoint.id(), b.endpoint.id());
        assert!(!a.endpoint.id().as_str().contains("001122334455"));
        assert_ne!(
            a.endpoint.credentials().ha1(),
            b.endpoint.credentials().ha1()
        );
    }

    #[test]
    fn the_stored_form_holds_the_digest_and_never_the_secret() {
        let mut rng = StdRng::seed_from_u64(4);
        let new = NewEndpoint {
            extension: "1003".into(),
            display_name: "Carol".into(),
            secret: Some("Xk9#Vb2!Lm7zQ8r%Tw".into()),
            ..NewEndpoint::default()
        };
        let p = Endpoint::provision(new, &policy(), &mut rng).unwrap();
        let json = serde_json::to_string(&p.endpoint).unwrap();
        assert!(!json.contains("Xk9#Vb2!Lm7zQ8r%Tw"));
        let back: Endpoint = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p.endpoint);
    }

    #[test]
    fn an_edit_keeps_id_and_digest_and_refuses_secret_and_mac_changes() {
        let mut rng = StdRng::seed_from_u64(6);
        let new = NewEndpoint {
            extension: "1005".into(),
            display_name: "Erin".into(),
            ..NewEndpoint::default()
        };
        let p = Endpoint::provision(new.clone(), &policy(), &mut rng).unwrap();
        let edited = p
            .endpoint
            .edited(
                NewEndpoint {
                    extension: "1006".into(),
                    max_calls: 4,
                    ..new.clone()
                },
                &policy(),
            )
            .unwrap();
        assert_eq!(edited.id(), p.endpoint.id());
        assert_eq!(edited.credentials(), p.endpoint.credentials());
        assert_eq!(edited.extension().as_str(), "1006");
        assert_eq!(edited.max_calls().get(), 4);
        let secret = NewEndpoint {
            secret: Some("Xk9#Vb2!Lm7zQ8r%Tw".into()),
            ..new.clone()
        };
        assert_eq!(
            p.endpoint.edited(secret, &policy()).unwrap_err().field(),
            "secret"
        );
        let mac = NewEndpoint {
            mac: Some("00:11:22:33:44:55".into()),
            ..new
        };
        assert_eq!(
            p.endpoint.edited(mac, &policy()).unwrap_err().field(),
            "mac"
        );
    }

    #[test]
    fn a_stored_endpoint_with_a_bad_field_does_not_deserialise() {
        let mut rng = StdRng::seed_from_u64(5);
        let new = NewEndpoint {
            extension: "1004".into(),
            display_name: "Dave".into(),
            ..NewEndpoint::default()
        };
        let p = Endpoint::provision(new, &policy(), &mut rng).unwrap();
        let json = serde_json::to_string(&p.endpoint)
            .unwrap()
            .replace("\"Dave\"", "\"Dave\\n[evil]\"");
        let err = serde_json::from_str::<Endpoint>(&json).unwrap_err();
        assert!(err.to_string().contains("display_name"), "{err}");
    }
}
