//! `sipwarden audit DIR`: the audit of an Asterisk configuration directory sipwarden did not
//! write (`policy::audit`), read from the filesystem with bounds, printed for people or as
//! JSON.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};

use policy::audit::{AuditReport, audit, tree::ConfigFiles};

/// A configuration directory read once into memory: every regular file up to four levels
/// down (FreePBX keeps its custom files beside the generated ones), each at most 32 MiB, at
/// most 5,000 files. Symbolic links are followed only to files.
struct Directory(BTreeMap<String, String>);

const MAX_FILES: usize = 5000;
const MAX_FILE_BYTES: u64 = 32 << 20;
const MAX_DEPTH: usize = 4;

impl Directory {
    fn read(root: &Path) -> anyhow::Result<Self> {
        let mut files = BTreeMap::new();
        let mut pending = vec![(root.to_path_buf(), 0)];
        while let Some((dir, depth)) = pending.pop() {
            let entries = std::fs::read_dir(&dir)
                .with_context(|| format!("cannot read {}", dir.display()))?;
            for entry in entries {
                let entry = entry?;
                let path = entry.path();
                let meta = std::fs::metadata(&path)?;
                if meta.is_dir() {
                    if depth < MAX_DEPTH {
                        pending.push((path, depth + 1));
                    }
                    continue;
                }
                if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
                    continue;
                }
                if files.len() >= MAX_FILES {
                    bail!("{} holds more than {MAX_FILES} files", root.display());
                }
                let name = path
                    .strip_prefix(root)?
                    .to_string_lossy()
                    .replace('\\', "/");
                // Asterisk reads bytes; a file that is not UTF-8 is audited as it reads.
                let text = String::from_utf8_lossy(&std::fs::read(&path)?).into_owned();
                files.insert(name, text);
            }
        }
        Ok(Self(files))
    }
}

impl ConfigFiles for Directory {
    fn read(&self, name: &str) -> Option<String> {
        self.0.read(name)
    }
    fn names(&self) -> Vec<String> {
        self.0.names()
    }
}

/// Audits `dir` and prints the report.
pub fn run(dir: &Path, json: bool) -> anyhow::Result<()> {
    let files = Directory::read(dir)?;
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
