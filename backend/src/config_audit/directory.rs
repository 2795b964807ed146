//! A configuration directory read from the filesystem into memory, with bounds.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};

const MAX_FILES: usize = 5000;
const MAX_FILE_BYTES: u64 = 32 << 20;
const MAX_DEPTH: usize = 4;

/// A configuration directory read once into memory: every regular file up to four levels
/// down (FreePBX keeps its custom files beside the generated ones), each at most 32 MiB, at
/// most 5,000 files. Symbolic links are followed only to files.
pub(crate) fn read_directory(root: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
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
    Ok(files)
}
