//! An existing Asterisk configuration as Asterisk reads it: each file with its `#include` and
//! `#tryinclude` chains expanded in place (globs too), templates applied and `(+)` additions
//! merged, every entry still knowing the file and line it came from.

use std::collections::BTreeMap;

use crate::asterisk::{ParseError, Section, parse_config};

/// Where the audit reads files from: a directory, an uploaded archive, a test's map.
pub trait ConfigFiles {
    /// The text of `name` (a path relative to the configuration directory), if it exists.
    fn read(&self, name: &str) -> Option<String>;
    /// Every file name there is, for `#include "dir/*.conf"` globs.
    fn names(&self) -> Vec<String>;
}

impl ConfigFiles for BTreeMap<String, String> {
    fn read(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

/// Includes nested deeper than this are refused (Asterisk has no limit, a loop would hang it).
const MAX_DEPTH: usize = 16;
/// The expanded text of one file may not exceed this (an include loop through globs, a huge
/// generated file): the audit answers in bounded memory.
const MAX_EXPANDED: usize = 64 << 20;

/// Why a configuration cannot be read, naming the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {problem}")]
pub struct TreeError {
    pub file: String,
    pub line: usize,
    pub problem: String,
}

/// A place in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

/// One entry as an object holds it: key (lower case), value, where it was written.
pub type Located = (String, String, Origin);

/// One object of a file after templates and additions: its effective entries in order
/// (inherited first), each with where it was written.
#[derive(Debug, Clone)]
pub struct Object {
    pub name: String,
    pub origin: Origin,
    pub entries: Vec<Located>,
}

impl Object {
    /// The last value of `key` (a later line overrides an inherited one), with its origin.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<(&str, &Origin)> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v, o)| (v.as_str(), o))
    }

    /// Every value of `key`, in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v, _)| v.as_str())
    }
}

/// A configuration file as Asterisk loads it: `None` when it does not exist.
pub fn load(files: &dyn ConfigFiles, name: &str) -> Result<Option<Vec<Object>>, TreeError> {
    let Some(text) = files.read(name) else {
        return Ok(None);
    };
    let mut expanded = String::new();
    let mut lines = Vec::new();
    expand(
        files,
        name,
        &text,
        0,
        &mut vec![name.to_owned()],
        &mut expanded,
        &mut lines,
    )?;
    let doc = parse_config(&expanded).map_err(|e: ParseError| {
        let at = lines
            .get(e.line.saturating_sub(1))
            .cloned()
            .unwrap_or(Origin {
                file: name.to_owned(),
                line: e.line,
            });
        TreeError {
            file: at.file,
            line: at.line,
            problem: e.kind.to_string(),
        }
    })?;
    Ok(Some(objects(&doc.sections, &lines, name)))
}

/// Appends `text` (the file `name`) to `out` with its includes expanded; `lines` gets the
/// origin of each line written.
fn expand(
    files: &dyn ConfigFiles,
    name: &str,
    text: &str,
    depth: usize,
    chain: &mut Vec<String>,
    out: &mut String,
    lines: &mut Vec<Origin>,
) -> Result<(), TreeError> {
    for (i, line) in text.lines().enumerate() {
        let at = || Origin {
            file: name.to_owned(),
            line: i + 1,
        };
        let fail = |problem: String| {
            let at = at();
            TreeError {
                file: at.file,
                line: at.line,
                problem,
            }
        };
        let trimmed = line.trim_start();
        let directive = ["#include", "#tryinclude"]
            .into_iter()
            .find(|d| trimmed.starts_with(d));
        if let Some(directive) = directive {
            let argument = trimmed[directive.len()..]
                .trim()
                .trim_matches(|c| c == '"' || c == '<' || c == '>')
                .trim();
            let targets = matching(files, argument);
            if targets.is_empty() && directive == "#include" && !argument.contains('*') {
                return Err(fail(format!("#include {argument}: no such file")));
            }
            if depth + 1 > MAX_DEPTH {
                return Err(fail(format!("includes nested deeper than {MAX_DEPTH}")));
            }
            for target in targets {
                if chain.contains(&target) {
                    return Err(fail(format!("#include {target} includes itself")));
                }
                let Some(included) = files.read(&target) else {
                    continue;
                };
                chain.push(target.clone());
                expand(files, &target, &included, depth + 1, chain, out, lines)?;
                chain.pop();
            }
            continue;
        }
        if out.len() + line.len() + 1 > MAX_EXPANDED {
            return Err(fail(
                "the configuration is larger than 64 MiB with its includes".to_owned(),
            ));
        }
        out.push_str(line);
        out.push('\n');
        lines.push(at());
    }
    Ok(())
}

/// The files an include argument names: itself, or the names a `*` glob matches (sorted,
/// as Asterisk's glob does). Absolute paths count from the configuration directory's name
/// (`/etc/asterisk/x.conf` is `x.conf`).
fn matching(files: &dyn ConfigFiles, argument: &str) -> Vec<String> {
    let argument = argument
        .strip_prefix("/etc/asterisk/")
        .unwrap_or(argument)
        .trim_start_matches("./");
    if !argument.contains('*') {
        return files
            .read(argument)
            .map(|_| vec![argument.to_owned()])
            .unwrap_or_default();
    }
    let (prefix, suffix) = argument.split_once('*').unwrap_or((argument, ""));
    let mut names: Vec<String> = files
        .names()
        .into_iter()
        .filter(|n| {
            n.starts_with(prefix) && n.ends_with(suffix) && n.len() >= prefix.len() + suffix.len()
        })
        .collect();
    names.sort();
    names
}

/// Sections turned into objects: templates applied (inherited entries first, recursively),
/// `(+)` additions merged into the section they add to, templates themselves left out.
fn objects(sections: &[Section], lines: &[Origin], file: &str) -> Vec<Object> {
    let origin = |line: usize| {
        lines
            .get(line.saturating_sub(1))
            .cloned()
            .unwrap_or(Origin {
                file: file.to_owned(),
                line,
            })
    };
    let own = |s: &Section| -> Vec<Located> {
        s.entries
            .iter()
            .map(|e| (e.key.to_ascii_lowercase(), e.value.clone(), origin(e.line)))
            .collect()
    };
    fn inherited(
        sections: &[Section],
        s: &Section,
        own: &dyn Fn(&Section) -> Vec<Located>,
        depth: usize,
        out: &mut Vec<Located>,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        for parent in &s.inherits {
            if let Some(p) = sections.iter().find(|t| &t.name == parent && !t.append) {
                inherited(sections, p, own, depth + 1, out);
                out.extend(own(p));
            }
        }
    }
    let mut result: Vec<Object> = Vec::new();
    for s in sections {
        if s.template {
            continue;
        }
        if s.append
            && let Some(earlier) = result.iter_mut().rev().find(|o| o.name == s.name)
        {
            earlier.entries.extend(own(s));
            continue;
        }
        let mut entries = Vec::new();
        inherited(sections, s, &own, 0, &mut entries);
        entries.extend(own(s));
        result.push(Object {
            name: s.name.clone(),
            origin: origin(s.line),
            entries,
        });
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn includes_expand_in_place_and_keep_their_origin() {
        let f = files(&[
            (
                "sip.conf",
                "[general]\nallowguest=no\n#include sip_custom.conf\n#tryinclude missing.conf\n[1001]\nsecret=x\n",
            ),
            ("sip_custom.conf", "; custom\nalwaysauthreject=no\n"),
        ]);
        let objects = load(&f, "sip.conf").unwrap().unwrap();
        let general = &objects[0];
        let (value, origin) = general.get("alwaysauthreject").unwrap();
        assert_eq!(value, "no");
        assert_eq!(
            origin,
            &Origin {
                file: "sip_custom.conf".to_owned(),
                line: 2
            }
        );
        assert_eq!(
            objects[1].origin,
            Origin {
                file: "sip.conf".to_owned(),
                line: 5
            }
        );
    }

    #[test]
    fn templates_and_additions_apply_and_loops_are_errors() {
        let f = files(&[(
            "pjsip.conf",
            "[phone](!)\ntype=endpoint\ncontext=default\n[1001](phone)\ncontext=internal\n[1001](+)\nallow=ulaw\n",
        )]);
        let objects = load(&f, "pjsip.conf").unwrap().unwrap();
        assert_eq!(objects.len(), 1, "templates are no objects");
        assert_eq!(objects[0].get("type").unwrap().0, "endpoint");
        assert_eq!(
            objects[0].get("context").unwrap().0,
            "internal",
            "own lines win"
        );
        assert_eq!(objects[0].get("allow").unwrap().0, "ulaw");

        let looping = files(&[
            ("a.conf", "#include b.conf\n"),
            ("b.conf", "#include a.conf\n"),
        ]);
        let e = load(&looping, "a.conf").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("b.conf", 1), "{e}");
        let missing = files(&[("a.conf", "[x]\n#include gone.conf\n")]);
        assert_eq!(
            load(&missing, "a.conf").unwrap_err().to_string(),
            "a.conf:2: #include gone.conf: no such file"
        );
        assert!(load(&missing, "nothing.conf").unwrap().is_none());
    }

    #[test]
    fn globs_include_every_match_in_order() {
        let f = files(&[
            ("extensions.conf", "#include \"ext.d/*.conf\"\n"),
            ("ext.d/b.conf", "[b]\n"),
            ("ext.d/a.conf", "[a]\n"),
        ]);
        let names: Vec<String> = load(&f, "extensions.conf")
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}
