//! Renderers: pure functions from a checked [`PbxModel`] to Asterisk files.
//!
//! Output depends on nothing but the model, the target and the revision, so it is stable
//! byte for byte. Every value written came through a whitelist in `names`, `net` or
//! `secret`; the writer still escapes `;` as defence in depth.

mod dialplan;
mod logger;
mod manager;
mod pjsip;
mod sip;
mod writer;

use super::pbx::PbxModel;
use std::fmt;

/// Which Asterisk the files are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// Asterisk 22 with chan_pjsip: `pjsip.conf`.
    Asterisk22Pjsip,
    /// Asterisk 13–20 with the legacy chan_sip: `sip.conf`.
    LegacyChanSip,
}

/// The configuration revision the files belong to (assigned by the backend, passed in).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(u64);

impl Revision {
    /// Wraps a revision number.
    pub fn new(number: u64) -> Self {
        Self(number)
    }
    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One rendered file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedFile {
    /// File name inside Asterisk's config directory.
    pub name: &'static str,
    /// Contents.
    pub contents: String,
}

/// The files of one target, in a fixed order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// Which Asterisk they are for.
    pub target: Target,
    /// The revision written into every header.
    pub revision: Revision,
    /// The files.
    pub files: Vec<RenderedFile>,
}

impl Bundle {
    /// The contents of the file called `name`.
    pub fn file(&self, name: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.contents.as_str())
    }
}

/// Renders every file of `target` for `model`.
pub fn render(model: &PbxModel, target: Target, revision: Revision) -> Bundle {
    let channel_file = match target {
        Target::Asterisk22Pjsip => RenderedFile {
            name: "pjsip.conf",
            contents: pjsip::render_pjsip(model, revision),
        },
        Target::LegacyChanSip => RenderedFile {
            name: "sip.conf",
            contents: sip::render_sip(model, revision),
        },
    };
    Bundle {
        target,
        revision,
        files: vec![
            channel_file,
            RenderedFile {
                name: "extensions.conf",
                contents: dialplan::render_extensions(model, target, revision),
            },
            RenderedFile {
                name: "manager.conf",
                contents: manager::render_manager(model, revision),
            },
            RenderedFile {
                name: "logger.conf",
                contents: logger::render_logger(revision),
            },
        ],
    }
}

pub use dialplan::{CALL_GROUP_CATEGORY, CONTEXT_LOCAL};
pub(crate) use manager::APPLY_WRITE_CLASSES;
pub(crate) use pjsip::peer_uri;

/// Section names of the PJSIP transports rendered for `model`.
pub(crate) fn transport_sections(model: &PbxModel) -> Vec<&'static str> {
    pjsip::transports_in_use(model)
        .into_iter()
        .map(|(t, v6)| pjsip::transport_name(t, v6))
        .collect()
}
