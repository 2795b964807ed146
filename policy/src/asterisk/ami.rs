//! AMI users (step 4): generated secrets, per-user ACLs, and explicit consent for the
//! classes that amount to root on the PBX.

use super::error::InvalidField;
use super::names::{ObjectName, keyword_enum};
use super::net::Acl;
use super::secret::{AmiSecret, PlainSecret, SecretContext};
use rand::Rng;
use serde::{Deserialize, Serialize};

keyword_enum!(
    /// A manager.conf permission class (the `perms[]` table of `manager.c`).
    AmiClass,
    "class",
    {
        /// Originate applications, module reloads, PJSIP endpoint details (with auth data).
        System => "system",
        /// Call events and actions.
        Call => "call",
        /// Log events.
        Log => "log",
        /// Verbose events.
        Verbose => "verbose",
        /// Any CLI command.
        Command => "command",
        /// Queue agents.
        Agent => "agent",
        /// User events.
        User => "user",
        /// Read and write config files.
        Config => "config",
        /// DTMF events.
        Dtmf => "dtmf",
        /// Reporting actions.
        Reporting => "reporting",
        /// CDR events.
        Cdr => "cdr",
        /// Dialplan events.
        Dialplan => "dialplan",
        /// Originate calls.
        Originate => "originate",
        /// AGI commands on channels.
        Agi => "agi",
        /// Call completion.
        Cc => "cc",
        /// Advice of charge.
        Aoc => "aoc",
        /// Test events.
        Test => "test",
        /// Security events.
        Security => "security",
        /// Message events.
        Message => "message",
        /// Every class.
        All => "all",
    }
);

impl AmiClass {
    /// Whether the class is root-equivalent (reference §3 "Dangerous classes"): `system`,
    /// `command`, `originate` and `config` can run programs or rewrite files, `agi` drives
    /// AGI on channels, `all` includes them all.
    pub fn is_dangerous(self) -> bool {
        matches!(
            self,
            Self::System | Self::Command | Self::Originate | Self::Config | Self::Agi | Self::All
        )
    }
}

/// What the API accepts (and, with `secret` set, the database stores) for an AMI user.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewAmiUser {
    /// Login name, `^[a-z0-9][a-z0-9_-]{2,63}$`.
    #[cfg_attr(feature = "utoipa", schema(pattern = "^[a-z0-9][a-z0-9_-]{2,63}$"))]
    pub name: String,
    /// Secret; generated when absent.
    pub secret: Option<String>,
    /// Networks the user may log in from; loopback by default.
    pub permit: Vec<String>,
    /// Exceptions inside `permit`.
    pub deny: Vec<String>,
    /// Classes of events the user receives.
    pub read: Vec<AmiClass>,
    /// Classes of actions the user may run.
    pub write: Vec<AmiClass>,
    /// Explicit consent to dangerous classes; without it they are refused.
    pub allow_dangerous: bool,
}

impl Default for NewAmiUser {
    fn default() -> Self {
        Self {
            name: String::new(),
            secret: None,
            permit: vec!["127.0.0.1/32".to_owned()],
            deny: Vec::new(),
            read: Vec::new(),
            write: Vec::new(),
            allow_dangerous: false,
        }
    }
}

impl std::fmt::Debug for NewAmiUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAmiUser")
            .field("name", &self.name)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("permit", &self.permit)
            .field("deny", &self.deny)
            .field("read", &self.read)
            .field("write", &self.write)
            .field("allow_dangerous", &self.allow_dangerous)
            .finish()
    }
}

/// A checked AMI user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "NewAmiUser", into = "NewAmiUser")]
pub struct AmiUser {
    name: ObjectName,
    secret: AmiSecret,
    acl: Acl,
    read: Vec<AmiClass>,
    write: Vec<AmiClass>,
    allow_dangerous: bool,
}

fn classes(
    field: &str,
    list: &[AmiClass],
    allow_dangerous: bool,
) -> Result<Vec<AmiClass>, InvalidField> {
    for (i, class) in list.iter().enumerate() {
        if list[..i].contains(class) {
            return Err(InvalidField::new(
                format!("{field}[{i}]"),
                format!("{class} is listed twice"),
            ));
        }
        if class.is_dangerous() && !allow_dangerous {
            return Err(InvalidField::new(
                format!("{field}[{i}]"),
                format!(
                    "class '{class}' is dangerous (root-equivalent); set allow_dangerous to grant it"
                ),
            ));
        }
    }
    Ok(list.to_vec())
}

impl AmiUser {
    /// Checks `new`. A missing secret is generated; a typed-in one is strength-checked. The
    /// returned plain secret is for showing once.
    pub fn create<R: Rng + ?Sized>(
        new: NewAmiUser,
        rng: &mut R,
    ) -> Result<(Self, PlainSecret), InvalidField> {
        let name = ObjectName::parse(&new.name)?;
        let secret = match &new.secret {
            Some(typed) => AmiSecret::typed(
                typed,
                &SecretContext {
                    username: Some(name.as_str()),
                    ..SecretContext::default()
                },
            )?,
            None => AmiSecret::generate(rng),
        };
        let user = Self::checked(name, secret, &new)?;
        let plain = user.secret.to_plain();
        Ok((user, plain))
    }

    fn checked(
        name: ObjectName,
        secret: AmiSecret,
        new: &NewAmiUser,
    ) -> Result<Self, InvalidField> {
        Ok(Self {
            name,
            secret,
            acl: Acl::from_strings(&new.permit, &new.deny)?,
            read: classes("read", &new.read, new.allow_dangerous)?,
            write: classes("write", &new.write, new.allow_dangerous)?,
            allow_dangerous: new.allow_dangerous,
        })
    }

    /// Login name.
    pub fn name(&self) -> &ObjectName {
        &self.name
    }
    /// Secret, for rendering.
    pub fn secret(&self) -> &AmiSecret {
        &self.secret
    }
    /// Who may log in.
    pub fn acl(&self) -> &Acl {
        &self.acl
    }
    /// Read classes.
    pub fn read(&self) -> &[AmiClass] {
        &self.read
    }
    /// Write classes.
    pub fn write(&self) -> &[AmiClass] {
        &self.write
    }
    /// The dangerous classes this user holds, read or write, for reporting.
    pub fn dangerous_classes(&self) -> Vec<AmiClass> {
        let mut out: Vec<AmiClass> = self
            .read
            .iter()
            .chain(&self.write)
            .copied()
            .filter(|c| c.is_dangerous())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

impl TryFrom<NewAmiUser> for AmiUser {
    type Error = InvalidField;
    fn try_from(new: NewAmiUser) -> Result<Self, Self::Error> {
        let name = ObjectName::parse(&new.name)?;
        let Some(secret) = &new.secret else {
            return Err(InvalidField::new(
                "secret",
                "a stored AMI user must carry its secret",
            ));
        };
        let secret = AmiSecret::parse(secret)?;
        Self::checked(name, secret, &new)
    }
}

impl From<AmiUser> for NewAmiUser {
    fn from(u: AmiUser) -> Self {
        Self {
            name: u.name.to_string(),
            secret: Some(u.secret.as_str().to_owned()),
            permit: u.acl.permit().iter().map(ToString::to_string).collect(),
            deny: u.acl.deny().iter().map(ToString::to_string).collect(),
            read: u.read,
            write: u.write,
            allow_dangerous: u.allow_dangerous,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn a_dangerous_class_without_the_flag_is_refused() {
        let new = NewAmiUser {
            name: "reloader".into(),
            write: vec![AmiClass::Config],
            ..NewAmiUser::default()
        };
        let err = AmiUser::create(new.clone(), &mut StdRng::seed_from_u64(1)).unwrap_err();
        assert_eq!(err.field(), "write[0]");
        assert!(err.rule().contains("allow_dangerous"));
        let ok = NewAmiUser {
            allow_dangerous: true,
            ..new
        };
        let (user, _) = AmiUser::create(ok, &mut StdRng::seed_from_u64(1)).unwrap();
        assert_eq!(user.dangerous_classes(), vec![AmiClass::Config]);
    }
}
