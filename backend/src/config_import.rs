//! `sipwarden import DIR`: takes an existing Asterisk configuration over into sipwarden's
//! database (see `services::pbx::import_configuration`), and prints what it took, what it
//! changed on the way in and what it could not represent. Rendering and applying stay the
//! administrator's next step, after reading that.

use std::path::Path;

use anyhow::Context;
use policy::import::ImportOptions;
use wire::config_import::ConfigImport;

use crate::config::Config;
use crate::core::Core;
use crate::core::events::EventQueue;
use crate::services::pbx::{ImportRequest, PbxError, import_configuration};

/// Reads `dir`, imports it into the database of `config` (or only checks, `dry_run`) and
/// prints the report.
pub async fn run(
    config: Config,
    dir: &Path,
    dry_run: bool,
    json: bool,
    classes: &[String],
) -> anyhow::Result<()> {
    let options = ImportOptions::from_pairs(classes).map_err(|e| anyhow::anyhow!("--{e}"))?;
    let files = crate::config_audit::read_directory(dir)?;
    crate::server::ensure_data_dir(&config.data_dir)?;
    let db = crate::db::open_and_migrate(&config.database_path()).await?;
    let core = Core::new(db, config, EventQueue::new().0);
    let request = ImportRequest {
        files,
        options,
        dry_run,
    };
    let report = import_configuration(&core, None, request)
        .await
        .map_err(|e| match e {
            PbxError::Internal(e) => anyhow::Error::from(e),
            refused => anyhow::anyhow!("{refused}"),
        })
        .context("nothing was imported")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report, dir));
    }
    Ok(())
}

fn notes(out: &mut String, notes: &[String]) {
    for n in notes {
        out.push_str(&format!("      - {n}\n"));
    }
}

fn text(r: &ConfigImport, dir: &Path) -> String {
    let mut out = format!(
        "{} ({}){}\n",
        dir.display(),
        r.files.join(", "),
        if r.dry_run {
            ": dry run, nothing stored"
        } else {
            ""
        }
    );
    out.push_str(&format!("endpoints: {}\n", r.endpoints.len()));
    for e in &r.endpoints {
        out.push_str(&format!(
            "  {:<12} extension {:<8} {:<13} \"{}\" ({}:{})\n",
            e.id, e.extension, e.calling_class, e.display_name, e.from.file, e.from.line
        ));
        notes(&mut out, &e.notes);
    }
    out.push_str(&format!("trunks: {}\n", r.trunks.len()));
    for t in &r.trunks {
        let mut traits = vec![format!("{} DIDs", t.dids)];
        if t.outbound {
            traits.push("outbound".to_owned());
        }
        if t.registers {
            traits.push("registers".to_owned());
        }
        out.push_str(&format!(
            "  {:<12} {} ({}) ({}:{})\n",
            t.name,
            t.peer,
            traits.join(", "),
            t.from.file,
            t.from.line
        ));
        notes(&mut out, &t.notes);
    }
    out.push_str(&format!("AMI users: {}\n", r.ami_users.len()));
    for u in &r.ami_users {
        out.push_str(&format!(
            "  {:<12} ({}:{})\n",
            u.name, u.from.file, u.from.line
        ));
        if let Some(secret) = &u.secret {
            // The one place it is shown: standard output, to whoever ran the import.
            out.push_str(&format!("      new secret: {secret}\n"));
        }
        notes(&mut out, &u.notes);
    }
    out.push_str("contexts:\n");
    for c in &r.contexts {
        out.push_str(&format!(
            "  {} -> {} ({})\n",
            c.context, c.calling_class, c.reason
        ));
    }
    out.push_str(&format!("not imported: {}\n", r.not_imported.len()));
    for n in &r.not_imported {
        out.push_str(&format!(
            "  {}:{} {} {}: {}\n",
            n.file, n.line, n.kind, n.object, n.reason
        ));
    }
    if !r.dry_run {
        out.push_str(
            "Nothing is written to Asterisk yet: review the above, then apply the configuration \
             (console, or POST /api/v1/config/apply).\n",
        );
    }
    out
}
