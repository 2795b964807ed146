//! The audit of an Asterisk configuration sipwarden did not write (`policy::audit`), read
//! with bounds from a directory (`sipwarden audit DIR`) or from an uploaded archive
//! (`POST /api/v1/audit/config`, the console's audit page), printed for people or as JSON.
//!
//! Both readers give the audit the same thing: file names relative to the configuration
//! directory (`pjsip.conf`, `custom/extra.conf`) and their text. Nothing read is kept: the
//! files hold plain secrets.

pub mod archive;
mod directory;

pub(crate) use directory::read_directory;

use std::path::Path;

use policy::audit::{AuditReport, audit};
use wire::config_audit::{ConfigAudit, ConfigFinding};

/// Why an uploaded configuration could not be audited.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The upload is no archive of a configuration.
    #[error(transparent)]
    Archive(#[from] archive::ArchiveError),
    /// A file Asterisk could not read either (`file:line: problem`).
    #[error("cannot read the configuration: {0}")]
    Unreadable(String),
}

/// Audits an uploaded archive (tar or tar.gz) of a configuration directory.
pub fn audit_upload(bytes: &[u8]) -> Result<ConfigAudit, AuditError> {
    let files = archive::read_archive(bytes)?;
    audit(&files)
        .map(to_wire)
        .map_err(|e| AuditError::Unreadable(e.to_string()))
}

fn to_wire(report: AuditReport) -> ConfigAudit {
    ConfigAudit {
        score: report.score,
        files: report.files,
        findings: report
            .findings
            .into_iter()
            .map(|f| ConfigFinding {
                rule: f.rule.to_owned(),
                severity: f.severity.as_str().to_owned(),
                step: f.step,
                file: f.file,
                line: f.line,
                object: f.object,
                message: f.message,
            })
            .collect(),
    }
}

/// Audits `dir` and prints the report.
pub fn run(dir: &Path, json: bool) -> anyhow::Result<()> {
    let files = read_directory(dir)?;
    let report =
        audit(&files).map_err(|e| anyhow::anyhow!("cannot read the configuration: {e}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report, dir));
    }
    Ok(())
}

fn text(report: &AuditReport, dir: &Path) -> String {
    let mut out = format!(
        "{}: score {} / 100, {} findings in {}\n",
        dir.display(),
        report.score,
        report.findings.len(),
        report.files.join(", ")
    );
    for f in &report.findings {
        out.push_str(&format!(
            "{:<6} {}:{} [{}] {}: {}\n",
            format!("{:?}", f.severity).to_uppercase(),
            f.file,
            f.line,
            f.object,
            f.rule,
            f.message
        ));
    }
    out
}
