//! Taking over an existing Asterisk configuration (#16): `policy::import` plans it under the
//! stored policy; here the plan meets what sipwarden already holds, and the rest is stored
//! in one transaction through the same write path (lock, whole-model check, audit) as every
//! other change. Nothing stored is replaced: an object that clashes with one sipwarden has is
//! listed as not imported, with the reason.

use std::collections::BTreeMap;

use policy::audit::tree::Origin;
use policy::import::{ImportOptions, ImportPlan, Imported, plan};
use wire::config_import::{
    ConfigImport, ImportOrigin, ImportedAmiUser, ImportedContext, ImportedEndpoint, ImportedTrunk,
    NotImported,
};

use super::{
    Admin, Core, InvalidField, OsRng, PbxError, Stored, insert_ami_user, insert_endpoint,
    insert_trunk, load_all, write,
};
use crate::services::audit::{self, Action, Record};

/// What to import and how.
#[derive(Debug, Default)]
pub struct ImportRequest {
    /// The configuration's files by name relative to its directory (they hold plain secrets:
    /// read, planned and dropped, never stored or logged).
    pub files: BTreeMap<String, String>,
    pub options: ImportOptions,
    /// Plan and check only; store nothing.
    pub dry_run: bool,
}

/// Imports `request.files` (or previews it). `admin` is `None` from the command line.
pub async fn import_configuration(
    core: &Core,
    admin: Option<&Admin>,
    request: ImportRequest,
) -> Result<ConfigImport, PbxError> {
    let ImportRequest {
        files,
        options,
        dry_run,
    } = request;
    if dry_run {
        let stored = load_all(&core.db).await?;
        let (changed, report) = reconcile(stored, &files, &options, true)?;
        changed.into_model()?;
        return Ok(report);
    }
    let outcome = write(core, move |txn, stored| {
        Box::pin(async move {
            // What was stored before; everything after it in `changed` is the import's.
            let had = (
                stored.endpoints.len(),
                stored.trunks.len(),
                stored.ami_users.len(),
            );
            let (changed, report) = reconcile(stored, &files, &options, false)?;
            for e in &changed.endpoints[had.0..] {
                insert_endpoint(txn, e).await?;
            }
            for t in &changed.trunks[had.1..] {
                insert_trunk(txn, t).await?;
            }
            for u in &changed.ami_users[had.2..] {
                insert_ami_user(txn, u).await?;
            }
            Ok((changed, report))
        })
    })
    .await;
    let detail = match &outcome {
        Ok(r) => format!(
            "configuration import: {} endpoints, {} trunks, {} AMI users; {} not imported",
            r.endpoints.len(),
            r.trunks.len(),
            r.ami_users.len(),
            r.not_imported.len()
        ),
        Err(e) => format!("configuration import: {e}"),
    };
    let line = match admin {
        Some(admin) => Record::by_caller(
            admin.caller(),
            Action::ConfigImport,
            outcome.is_ok(),
            &detail,
        ),
        None => Record {
            actor: None,
            source_ip: None,
            action: Action::ConfigImport,
            success: outcome.is_ok(),
            detail: &detail,
        },
    };
    audit::record(&core.db, line).await?;
    outcome
}

/// The plan made under the stored policy, without what clashes with stored objects, added
/// to `stored`; and the report of it. Secrets are only in the report of a real import.
fn reconcile(
    mut stored: Stored,
    files: &BTreeMap<String, String>,
    options: &ImportOptions,
    dry_run: bool,
) -> Result<(Stored, ConfigImport), PbxError> {
    let planned = plan(files, &stored.policy, options, &mut OsRng)
        .map_err(|e| InvalidField::new("configuration", e.to_string()))?;
    let ImportPlan {
        files,
        endpoints,
        trunks,
        ami_users,
        contexts,
        not_imported,
    } = planned;
    let mut report = ConfigImport {
        dry_run,
        files,
        endpoints: Vec::new(),
        trunks: Vec::new(),
        ami_users: Vec::new(),
        contexts: contexts
            .into_iter()
            .map(|c| ImportedContext {
                context: c.context,
                calling_class: c.class.as_str().to_owned(),
                reason: c.reason,
            })
            .collect(),
        not_imported: not_imported
            .into_iter()
            .map(|n| NotImported {
                file: n.file,
                line: n.line,
                kind: n.kind.to_owned(),
                object: n.object,
                reason: n.reason,
            })
            .collect(),
    };
    let mut skip = |at: &Origin, kind: &str, object: &str, reason: String| {
        report.not_imported.push(NotImported {
            file: at.file.clone(),
            line: at.line,
            kind: kind.to_owned(),
            object: object.to_owned(),
            reason,
        });
    };
    let mut taken_endpoints = Vec::new();
    for Imported {
        object: e,
        origin,
        notes,
    } in endpoints
    {
        let id = e.id().as_str();
        let clash = if stored.endpoints.iter().any(|o| o.id() == e.id())
            || stored.trunks.iter().any(|t| t.name().as_str() == id)
        {
            Some(format!(
                "sipwarden has an endpoint or trunk named {id} already"
            ))
        } else {
            stored
                .endpoints
                .iter()
                .find(|o| o.extension() == e.extension())
                .map(|o| format!("extension {} belongs to {} already", e.extension(), o.id()))
        };
        if let Some(reason) = clash {
            skip(&origin, "endpoint", id, reason);
            continue;
        }
        taken_endpoints.push(ImportedEndpoint {
            id: id.to_owned(),
            extension: e.extension().to_string(),
            display_name: e.display_name().to_string(),
            calling_class: e.calling_class().as_str().to_owned(),
            from: from(&origin),
            notes,
        });
        stored.endpoints.push(e);
    }
    // The DIDs routed before the import (the plan routes none of its own twice).
    let stored_dids: Vec<String> = stored
        .trunks
        .iter()
        .flat_map(|o| o.dids().iter().map(|d| d.did().to_string()))
        .collect();
    let mut taken_trunks = Vec::new();
    for Imported {
        object: t,
        origin,
        mut notes,
    } in trunks
    {
        let name = t.name().to_string();
        if stored.trunks.iter().any(|o| o.name() == t.name())
            || stored.endpoints.iter().any(|e| e.id().as_str() == name)
        {
            skip(
                &origin,
                "trunk",
                &name,
                format!("sipwarden has a trunk or endpoint named {name} already"),
            );
            continue;
        }
        if let Some(did) = t
            .dids()
            .iter()
            .find(|d| stored_dids.contains(&d.did().to_string()))
        {
            skip(
                &origin,
                "trunk",
                &name,
                format!(
                    "DID {} is routed by a trunk sipwarden has already",
                    did.did()
                ),
            );
            continue;
        }
        let t = if t.outbound() && stored.trunks.iter().any(policy::asterisk::Trunk::outbound) {
            notes.push(
                "not made the outbound trunk: sipwarden has one already (one trunk carries \
                 outbound calls)"
                    .to_owned(),
            );
            let mut new = policy::asterisk::NewTrunk::from(t.clone());
            new.outbound = false;
            if let (Some(r), Some(stored_r)) = (&mut new.registration, t.registration()) {
                r.secret = Some(stored_r.secret().expose().to_owned());
            }
            policy::asterisk::Trunk::new(new)?
        } else {
            t
        };
        taken_trunks.push(ImportedTrunk {
            name,
            peer: t.peer().to_string(),
            outbound: t.outbound(),
            registers: t.registration().is_some(),
            dids: t.dids().len(),
            from: from(&origin),
            notes,
        });
        stored.trunks.push(t);
    }
    let mut taken_ami = Vec::new();
    for Imported {
        object,
        origin,
        notes,
    } in ami_users
    {
        let name = object.user.name().as_str();
        if stored
            .ami_users
            .iter()
            .any(|u| u.name().as_str().eq_ignore_ascii_case(name))
        {
            skip(
                &origin,
                "ami_user",
                name,
                format!("sipwarden has an AMI user named {name} already"),
            );
            continue;
        }
        taken_ami.push(ImportedAmiUser {
            name: name.to_owned(),
            // Shown in the one response that stores it; a preview stores nothing to show.
            secret: object
                .new_secret
                .filter(|_| !dry_run)
                .map(policy::asterisk::PlainSecret::reveal),
            from: from(&origin),
            notes,
        });
        stored.ami_users.push(object.user);
    }
    report.endpoints = taken_endpoints;
    report.trunks = taken_trunks;
    report.ami_users = taken_ami;
    Ok((stored, report))
}

fn from(origin: &Origin) -> ImportOrigin {
    ImportOrigin {
        file: origin.file.clone(),
        line: origin.line,
    }
}
