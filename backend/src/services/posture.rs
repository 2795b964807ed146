//! The posture check over the stored model (pure rules in `policy::posture`) and over what is
//! live on disk: configuration files that differ from the revision sipwarden made live were
//! edited by hand, and the model no longer says what Asterisk runs.

use policy::posture::{Finding, Posture, Severity, check};

use crate::asterisk::confdir::ConfigDir;
use crate::core::Core;
use crate::services::{Internal, config, pbx};

/// The model's findings plus the disk's, with the score over both.
pub async fn posture(core: &Core) -> Result<Posture, Internal> {
    let model = pbx::load_all(&core.db)
        .await?
        .into_model()
        .map_err(|e| Internal::Corrupt(format!("stored model: {e}")))?;
    let mut posture = check(&model);
    for finding in edited_by_hand(core).await? {
        posture.score = posture.score.saturating_sub(finding.severity.weight());
        posture.findings.push(finding);
    }
    posture
        .findings
        .sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok(posture)
}

/// One finding per file that differs from the live revision's copy.
async fn edited_by_hand(core: &Core) -> Result<Vec<Finding>, Internal> {
    let dir = ConfigDir::new(core.config.asterisk_dir());
    let Some(live) = dir.live_revision() else {
        return Ok(Vec::new());
    };
    let number = i32::try_from(live).unwrap_or(i32::MAX);
    let files = match config::revision(core, number).await {
        Ok((_, files)) => files,
        Err(pbx::PbxError::Internal(e)) => return Err(e),
        // The link points at a revision the database does not know: say so below.
        Err(_) => Vec::new(),
    };
    let mut findings = Vec::new();
    for (name, contents) in &files {
        let on_disk = dir
            .read_live(name)
            .map_err(|e| Internal::Io(format!("reading {name}: {e}")))?;
        if on_disk.as_deref() != Some(contents.as_str()) {
            findings.push(Finding {
                rule: "config.edited_by_hand",
                severity: Severity::High,
                object_kind: "config",
                object: name.clone(),
                message: format!(
                    "differs from revision {live}, which sipwarden made live: edited by hand (apply again to restore it)"
                ),
                step: 0,
            });
        }
    }
    Ok(findings)
}
