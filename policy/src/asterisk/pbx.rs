//! The whole PBX: policy, endpoints, trunks and AMI users, with the rules that span objects.

use super::ami::{AmiClass, AmiUser};
use super::decision::DecisionPoint;
use super::endpoint::{Endpoint, Transport};
use super::names::{Did, Extension};
use super::policy::GlobalPolicy;
use super::trunk::Trunk;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// A rule that spans several objects and was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelProblem {
    /// Two endpoints share an extension.
    #[error("extension {0} belongs to more than one endpoint")]
    DuplicateExtension(Extension),
    /// Two endpoints, or an endpoint and a trunk, share a name (one PJSIP endpoint namespace).
    #[error("the name {0} is used by more than one endpoint or trunk")]
    DuplicateName(String),
    /// An endpoint sipwarden named has an id that equals an extension or is all digits
    /// (cannot happen with generated ids; checked anyway). Adopted endpoints may keep theirs.
    #[error("endpoint id {0} is a number or equals an extension number")]
    IdIsExtension(String),
    /// The same DID is routed twice.
    #[error("DID {0} is routed by more than one trunk")]
    DuplicateDid(Did),
    /// A DID routes to an extension no endpoint has.
    #[error("DID {did} on trunk {trunk} routes to extension {extension}, which no endpoint has")]
    DidToUnknownExtension {
        /// The trunk.
        trunk: String,
        /// The DID.
        did: Did,
        /// The missing extension.
        extension: Extension,
    },
    /// An endpoint's digest was computed for another realm, so it could never log in.
    #[error(
        "endpoint {0}: its digest was made for realm {1}, not the policy realm; set a new secret"
    )]
    RealmMismatch(String, String),
    /// TLS is used but the policy has no certificate.
    #[error("{0} uses TLS, but the policy configures no TLS certificate")]
    TlsNotConfigured(String),
    /// An endpoint or trunk needs IPv6 but no IPv6 transport exists.
    #[error("{0} needs IPv6, but the policy binds no IPv6 address")]
    Ipv6NotBound(String),
    /// More than one trunk is marked outbound.
    #[error("only one trunk may be outbound, but {0} and {1} both are")]
    SeveralOutboundTrunks(String, String),
    /// Two AMI users share a name.
    #[error("AMI user {0} is defined more than once")]
    DuplicateAmiUser(String),
    /// An AMI user takes the name of one of sipwarden's own accounts.
    #[error("AMI user {0} has the name of one of sipwarden's own AMI accounts")]
    AmiUserIsOwn(String),
}

/// The cross-object rules a model broke (at most [`ModelError::MAX_PROBLEMS`] listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError {
    problems: Vec<ModelProblem>,
}

impl ModelError {
    /// Problems beyond this many are not listed, to keep the error small.
    pub const MAX_PROBLEMS: usize = 100;

    /// Every problem found.
    pub fn problems(&self) -> &[ModelProblem] {
        &self.problems
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the PBX model is inconsistent: ")?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ModelError {}

/// A consistent PBX, ready to render. Objects are kept sorted (endpoints by extension,
/// trunks and AMI users by name), so the rendered files do not depend on input order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PbxModel {
    policy: GlobalPolicy,
    endpoints: Vec<Endpoint>,
    trunks: Vec<Trunk>,
    ami_users: Vec<AmiUser>,
    decision_point: Option<DecisionPoint>,
}

/// Numeric order for digit strings of different lengths.
fn numeric_key(digits: &str) -> (usize, &str) {
    (digits.len(), digits)
}

impl PbxModel {
    /// Checks every rule that spans objects and builds the model.
    pub fn new(
        policy: GlobalPolicy,
        mut endpoints: Vec<Endpoint>,
        mut trunks: Vec<Trunk>,
        mut ami_users: Vec<AmiUser>,
    ) -> Result<Self, ModelError> {
        endpoints.sort_by(|a, b| {
            numeric_key(a.extension().as_str()).cmp(&numeric_key(b.extension().as_str()))
        });
        trunks.sort_by(|a, b| a.name().cmp(b.name()));
        ami_users.sort_by(|a, b| a.name().cmp(b.name()));

        let mut problems = Vec::new();
        let mut push = |p: ModelProblem| {
            if problems.len() < ModelError::MAX_PROBLEMS {
                problems.push(p);
            }
        };

        let mut extensions: HashSet<&str> = HashSet::with_capacity(endpoints.len());
        let mut names: HashSet<&str> = HashSet::with_capacity(endpoints.len() + trunks.len());
        for e in &endpoints {
            if !extensions.insert(e.extension().as_str()) {
                push(ModelProblem::DuplicateExtension(e.extension().clone()));
            }
            if !names.insert(e.id().as_str()) {
                push(ModelProblem::DuplicateName(e.id().to_string()));
            }
            if e.credentials().realm() != policy.realm() {
                push(ModelProblem::RealmMismatch(
                    e.id().to_string(),
                    e.credentials().realm().to_string(),
                ));
            }
            if e.transport() == Transport::Tls && policy.tls().is_none() {
                push(ModelProblem::TlsNotConfigured(format!(
                    "endpoint {}",
                    e.id()
                )));
            }
            if e.acl().families() == (false, true) && policy.sip_bind_v6().is_none() {
                push(ModelProblem::Ipv6NotBound(format!("endpoint {}", e.id())));
            }
        }
        for e in &endpoints {
            // Generated ids always contain a letter; this guards hand-edited databases. An
            // adopted endpoint keeps its phone's name, which the posture reports (step 6).
            let numeric = e.id().as_str().bytes().all(|b| b.is_ascii_digit());
            if e.adopted().is_none() && (numeric || extensions.contains(e.id().as_str())) {
                push(ModelProblem::IdIsExtension(e.id().to_string()));
            }
        }

        let mut dids: HashMap<&Did, &str> = HashMap::new();
        let mut outbound: Option<&str> = None;
        for t in &trunks {
            if !names.insert(t.name().as_str()) {
                push(ModelProblem::DuplicateName(t.name().to_string()));
            }
            if t.transport() == Transport::Tls && policy.tls().is_none() {
                push(ModelProblem::TlsNotConfigured(format!(
                    "trunk {}",
                    t.name()
                )));
            }
            if t.peer().is_ipv6() && policy.sip_bind_v6().is_none() {
                push(ModelProblem::Ipv6NotBound(format!("trunk {}", t.name())));
            }
            if t.outbound() {
                match outbound {
                    Some(first) => push(ModelProblem::SeveralOutboundTrunks(
                        first.to_owned(),
                        t.name().to_string(),
                    )),
                    None => outbound = Some(t.name().as_str()),
                }
            }
            for route in t.dids() {
                if dids.insert(route.did(), t.name().as_str()).is_some() {
                    push(ModelProblem::DuplicateDid(route.did().clone()));
                }
                if !extensions.contains(route.extension().as_str()) {
                    push(ModelProblem::DidToUnknownExtension {
                        trunk: t.name().to_string(),
                        did: route.did().clone(),
                        extension: route.extension().clone(),
                    });
                }
            }
        }

        let mut ami_names: HashSet<String> = HashSet::new();
        for u in &ami_users {
            // manager.c compares user names case-insensitively.
            let key = u.name().as_str().to_ascii_lowercase();
            if key == policy.guard().name().as_str().to_ascii_lowercase()
                || key == policy.apply_account().name().as_str().to_ascii_lowercase()
            {
                push(ModelProblem::AmiUserIsOwn(u.name().to_string()));
            }
            if !ami_names.insert(key) {
                push(ModelProblem::DuplicateAmiUser(u.name().to_string()));
            }
        }

        if problems.is_empty() {
            Ok(Self {
                policy,
                endpoints,
                trunks,
                ami_users,
                decision_point: None,
            })
        } else {
            Err(ModelError { problems })
        }
    }

    /// The global policy.
    pub fn policy(&self) -> &GlobalPolicy {
        &self.policy
    }
    /// Endpoints, by extension.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }
    /// Trunks, by name.
    pub fn trunks(&self) -> &[Trunk] {
        &self.trunks
    }
    /// AMI users, by name (the guard's account is in the policy).
    pub fn ami_users(&self) -> &[AmiUser] {
        &self.ami_users
    }
    /// The same model with every call through a trunk asking `point` first (the pre-call
    /// fraud decision). Without one the dialplan dials the trunk directly.
    #[must_use]
    pub fn with_decision_point(mut self, point: DecisionPoint) -> Self {
        self.decision_point = Some(point);
        self
    }
    /// Where calls through a trunk ask for the pre-call decision, if anywhere.
    pub fn decision_point(&self) -> Option<&DecisionPoint> {
        self.decision_point.as_ref()
    }
    /// The trunk outbound calls use, if any.
    pub fn outbound_trunk(&self) -> Option<&Trunk> {
        self.trunks.iter().find(|t| t.outbound())
    }
    /// AMI users holding dangerous classes, with those classes, for the console to flag.
    pub fn dangerous_ami_users(&self) -> Vec<(&AmiUser, Vec<AmiClass>)> {
        self.ami_users
            .iter()
            .map(|u| (u, u.dangerous_classes()))
            .filter(|(_, classes)| !classes.is_empty())
            .collect()
    }
}
