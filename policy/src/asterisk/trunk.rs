//! SIP trunks: identified by source address, never by name, reaching only their own DIDs;
//! optionally registering to the provider (see [`super::registration`]).

use super::endpoint::{Codec, Codecs, Transport};
use super::error::InvalidField;
use super::names::{Did, Extension, ObjectName};
use super::net::{Acl, Network};
use super::registration::{NewRegistration, Registration};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One DID a trunk delivers and the extension it rings.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDidRoute {
    /// The number as the provider sends it.
    #[cfg_attr(feature = "utoipa", schema(pattern = "^[0-9]{2,20}$"))]
    pub did: String,
    /// The internal extension it rings.
    #[cfg_attr(feature = "utoipa", schema(pattern = "^[0-9]{2,15}$"))]
    pub extension: String,
}

/// A checked DID route.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DidRoute {
    did: Did,
    extension: Extension,
}

impl DidRoute {
    /// The number the trunk delivers.
    pub fn did(&self) -> &Did {
        &self.did
    }
    /// The extension it rings.
    pub fn extension(&self) -> &Extension {
        &self.extension
    }
}

/// What the API accepts (and the database stores) for a trunk.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewTrunk {
    /// Section name, `^[a-z0-9][a-z0-9_-]{2,63}$`.
    #[cfg_attr(feature = "utoipa", schema(pattern = "^[a-z0-9][a-z0-9_-]{2,63}$"))]
    pub name: String,
    /// The provider's signalling address (outbound calls go there).
    #[cfg_attr(feature = "utoipa", schema(example = "198.51.100.10"))]
    pub peer: String,
    /// The provider's SIP port.
    #[cfg_attr(feature = "utoipa", schema(minimum = 1))]
    pub port: u16,
    /// Source networks that identify the trunk and are the only ones permitted; the peer
    /// address alone when empty.
    pub sources: Vec<String>,
    /// DIDs this trunk delivers.
    pub dids: Vec<NewDidRoute>,
    /// Transport protocol.
    pub transport: Transport,
    /// Codecs in preference order.
    pub codecs: Vec<Codec>,
    /// Whether national/international/emergency calls leave through this trunk.
    pub outbound: bool,
    /// Outbound registration to the provider, when it wants one.
    pub registration: Option<NewRegistration>,
}

impl Default for NewTrunk {
    fn default() -> Self {
        Self {
            name: String::new(),
            peer: String::new(),
            port: 5060,
            sources: Vec::new(),
            dids: Vec::new(),
            transport: Transport::Udp,
            codecs: vec![Codec::Ulaw, Codec::Alaw],
            outbound: false,
            registration: None,
        }
    }
}

/// Most DIDs one trunk may carry.
pub const MAX_DIDS: usize = 10_000;

/// A checked trunk.
///
/// Why no inbound auth: providers authenticate by address. `identify` only maps an address
/// to the endpoint, it is not a firewall (reference §1c), so the same networks are also the
/// endpoint's only `permit=` lines, and its context reaches nothing but its DIDs. A
/// registration changes none of that: it only makes the provider send calls here (and
/// `line=yes` tags them so they are matched to this trunk too).
///
/// No serde: its input form, [`NewTrunk`], never carries the registration's secret back out
/// (see [`From<Trunk> for NewTrunk`](NewTrunk)), so a `Trunk` could not be rebuilt from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trunk {
    name: ObjectName,
    peer: IpAddr,
    port: u16,
    sources: Acl,
    dids: Vec<DidRoute>,
    transport: Transport,
    codecs: Codecs,
    outbound: bool,
    registration: Option<Registration>,
}

impl Trunk {
    /// Checks a trunk.
    pub fn new(new: NewTrunk) -> Result<Self, InvalidField> {
        let name = ObjectName::parse(&new.name)?;
        let peer: IpAddr = if new.peer.len() > 64 {
            return Err(InvalidField::new("peer", "must be an IP address"));
        } else {
            new.peer
                .parse()
                .map_err(|_| InvalidField::new("peer", "must be an IPv4 or IPv6 address"))?
        };
        if peer.is_unspecified() || peer.is_multicast() {
            return Err(InvalidField::new("peer", "must be a unicast address"));
        }
        if new.port == 0 {
            return Err(InvalidField::new(
                "port",
                "must be a port between 1 and 65535",
            ));
        }
        let sources = if new.sources.is_empty() {
            Acl::new(vec![Network::from(peer)], Vec::new())?
        } else {
            Acl::from_strings(&new.sources, &[]).map_err(|e| {
                let field = e.field().replacen("permit", "sources", 1);
                e.for_field(field)
            })?
        };
        if !sources.permit().iter().any(|n| n.contains(&peer)) {
            // Why: the provider's own replies and calls would fail the trunk's ACL.
            return Err(InvalidField::new(
                "sources",
                "must include the peer address",
            ));
        }
        if new.dids.len() > MAX_DIDS {
            return Err(InvalidField::new(
                "dids",
                format!("must list at most {MAX_DIDS} numbers"),
            ));
        }
        let mut dids: Vec<DidRoute> = Vec::with_capacity(new.dids.len());
        for (i, route) in new.dids.iter().enumerate() {
            let did = Did::parse(&route.did).map_err(|e| e.for_field(format!("dids[{i}].did")))?;
            let extension = Extension::parse(&route.extension)
                .map_err(|e| e.for_field(format!("dids[{i}].extension")))?;
            if dids.iter().any(|r| r.did == did) {
                return Err(InvalidField::new(
                    format!("dids[{i}].did"),
                    "is listed twice",
                ));
            }
            dids.push(DidRoute { did, extension });
        }
        Ok(Self {
            name,
            peer,
            port: new.port,
            sources,
            dids,
            transport: new.transport,
            codecs: Codecs::new(new.codecs)?,
            outbound: new.outbound,
            registration: new
                .registration
                .as_ref()
                .map(Registration::new)
                .transpose()?,
        })
    }

    /// The section and endpoint name.
    pub fn name(&self) -> &ObjectName {
        &self.name
    }
    /// The provider's address.
    pub fn peer(&self) -> IpAddr {
        self.peer
    }
    /// The provider's port.
    pub fn port(&self) -> u16 {
        self.port
    }
    /// Source networks: `identify` matches and the only permits.
    pub fn sources(&self) -> &Acl {
        &self.sources
    }
    /// DID routes.
    pub fn dids(&self) -> &[DidRoute] {
        &self.dids
    }
    /// Transport.
    pub fn transport(&self) -> Transport {
        self.transport
    }
    /// Codecs.
    pub fn codecs(&self) -> &Codecs {
        &self.codecs
    }
    /// Whether outbound calls use this trunk.
    pub fn outbound(&self) -> bool {
        self.outbound
    }
    /// The outbound registration, if the provider wants one.
    pub fn registration(&self) -> Option<&Registration> {
        self.registration.as_ref()
    }
    /// The dialplan context calls from this trunk enter.
    pub fn context(&self) -> String {
        format!("sw-trunk-{}", self.name)
    }
}

impl TryFrom<NewTrunk> for Trunk {
    type Error = InvalidField;
    fn try_from(value: NewTrunk) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

/// The input form back, **without** the registration's secret: what may be stored beside
/// the secret or shown. Whoever keeps the secret keeps it apart
/// ([`Registration::secret`]).
impl From<Trunk> for NewTrunk {
    fn from(t: Trunk) -> Self {
        Self {
            name: t.name.to_string(),
            peer: t.peer.to_string(),
            port: t.port,
            sources: t.sources.permit().iter().map(ToString::to_string).collect(),
            dids: t
                .dids
                .iter()
                .map(|r| NewDidRoute {
                    did: r.did.to_string(),
                    extension: r.extension.to_string(),
                })
                .collect(),
            transport: t.transport,
            codecs: t.codecs.as_slice().to_vec(),
            outbound: t.outbound,
            registration: t
                .registration
                .as_ref()
                .map(Registration::to_new_without_secret),
        }
    }
}
