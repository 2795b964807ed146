//! What an imported `extensions.conf` says about the objects sipwarden models: how far each
//! context reaches (its calling class), which extension rings a phone, which DID a trunk's
//! context routes where, and which trunks carry outbound calls.
//!
//! Only `exten`/`same` lines, `include` and `Goto` are followed; a context that reaches a
//! trunk in a way not read here (AGI, macros, `Local/` channels) is not seen, which is why
//! the mapping is listed in the import's report and can be overridden per context.

use std::collections::{BTreeMap, BTreeSet};

use crate::asterisk::CallingClass;
use crate::audit::tree::{Object, Origin};

/// Contexts nested deeper than this through `include`/`Goto` are not followed.
const MAX_DEPTH: usize = 8;

/// One extension pattern of a context and the applications its priorities run.
#[derive(Debug, Clone)]
struct Extension {
    pattern: String,
    apps: Vec<String>,
    origin: Origin,
}

/// The dialplan, by context.
#[derive(Debug, Default)]
pub(super) struct Dialplan {
    contexts: BTreeMap<String, (Vec<Extension>, Vec<String>)>,
}

/// A channel a `Dial` names: technology and resource (`PJSIP`, `${EXTEN}@provider`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DialTarget {
    pub tech: String,
    pub resource: String,
}

impl DialTarget {
    /// The trunk (peer) this target goes out through, if it names one: `x@trunk`,
    /// `SIP/trunk/number`, or a bare name that is a trunk.
    pub(super) fn trunk<'a>(&'a self, is_trunk: &dyn Fn(&str) -> bool) -> Option<&'a str> {
        if let Some((_, host)) = self.resource.rsplit_once('@') {
            return Some(host);
        }
        let first = self.resource.split('/').next().unwrap_or_default();
        (self.resource.contains('/') || is_trunk(first)).then_some(first)
    }
}

impl Dialplan {
    pub(super) fn new(objects: &[Object]) -> Self {
        let mut contexts: BTreeMap<String, (Vec<Extension>, Vec<String>)> = BTreeMap::new();
        for object in objects {
            let (extens, includes) = contexts.entry(object.name.clone()).or_default();
            for (key, value, origin) in &object.entries {
                match key.as_str() {
                    "exten" => {
                        let mut parts = value.splitn(3, ',');
                        let pattern = parts.next().unwrap_or_default().trim().to_owned();
                        let app = parts.nth(1).unwrap_or_default().trim().to_owned();
                        match extens.iter_mut().rev().find(|e| e.pattern == pattern) {
                            Some(e) => e.apps.push(app),
                            None => extens.push(Extension {
                                pattern,
                                apps: vec![app],
                                origin: origin.clone(),
                            }),
                        }
                    }
                    "same" => {
                        let app = value.split_once(',').map_or("", |(_, a)| a).trim();
                        if let Some(last) = extens.last_mut() {
                            last.apps.push(app.to_owned());
                        }
                    }
                    "include" => includes.push(value.trim().to_owned()),
                    _ => {}
                }
            }
        }
        Self { contexts }
    }

    /// Whether `context` exists.
    pub(super) fn has(&self, context: &str) -> bool {
        self.contexts.contains_key(context)
    }

    /// Every (pattern, dial target, origin) reachable from `context` through includes and
    /// `Goto`s, each context once.
    fn reachable(&self, context: &str) -> Vec<(String, DialTarget, Origin)> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        self.walk(context, 0, &mut seen, &mut out);
        out
    }

    fn walk(
        &self,
        context: &str,
        depth: usize,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<(String, DialTarget, Origin)>,
    ) {
        if depth > MAX_DEPTH || !seen.insert(context.to_owned()) {
            return;
        }
        let Some((extens, includes)) = self.contexts.get(context) else {
            return;
        };
        for e in extens {
            for app in &e.apps {
                for target in dial_targets(app) {
                    out.push((e.pattern.clone(), target, e.origin.clone()));
                }
                if let Some(next) = goto_context(app) {
                    self.walk(&next, depth + 1, seen, out);
                }
            }
        }
        for include in includes {
            self.walk(include, depth + 1, seen, out);
        }
    }

    /// The class a context's reach corresponds to, and why: international when a pattern
    /// that dials a trunk can match a number starting with an international prefix,
    /// national when one dials a trunk at all, internal otherwise. Emergency numbers do not
    /// count (every class may dial them).
    pub(super) fn class_of(
        &self,
        context: &str,
        is_trunk: &dyn Fn(&str) -> bool,
        international_prefixes: &[String],
        emergency: &[&str],
    ) -> (CallingClass, String) {
        let mut class = CallingClass::Internal;
        let mut why = format!("[{context}] dials no trunk");
        for (pattern, target, origin) in self.reachable(context) {
            let Some(trunk) = target.trunk(is_trunk) else {
                continue;
            };
            if emergency.contains(&pattern.as_str()) {
                continue;
            }
            let international = international_prefixes
                .iter()
                .any(|p| can_start_with(&pattern, p));
            let found = if international {
                CallingClass::International
            } else {
                CallingClass::National
            };
            if found > class {
                class = found;
                why = format!(
                    "{}:{}: {pattern} dials trunk {trunk}{}",
                    origin.file,
                    origin.line,
                    if international {
                        " and can match an international number"
                    } else {
                        ""
                    }
                );
            }
        }
        (class, why)
    }

    /// The trunks any of `contexts` dials out through, in order of first use.
    pub(super) fn trunks_dialled(
        &self,
        contexts: &BTreeSet<String>,
        is_trunk: &dyn Fn(&str) -> bool,
    ) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for context in contexts {
            for (_, target, _) in self.reachable(context) {
                if let Some(trunk) = target.trunk(is_trunk)
                    && !out.iter().any(|t| t == trunk)
                {
                    out.push(trunk.to_owned());
                }
            }
        }
        out
    }

    /// The extension number that dials phone `name` (`exten => 1001,1,Dial(PJSIP/alice)`).
    /// The shortest wins: a provider's context may ring the phone for its longer DID too.
    pub(super) fn extension_dialling(&self, tech: &[&str], name: &str) -> Option<String> {
        self.contexts
            .values()
            .flat_map(|(e, _)| e)
            .filter(|e| {
                let digits = !e.pattern.is_empty() && e.pattern.bytes().all(|b| b.is_ascii_digit());
                digits
                    && e.apps.iter().flat_map(|a| dial_targets(a)).any(|t| {
                        tech.iter().any(|x| t.tech.eq_ignore_ascii_case(x)) && t.resource == name
                    })
            })
            .map(|e| e.pattern.clone())
            .min_by_key(|p| (p.len(), p.clone()))
    }

    /// The literal numbers `context` sends somewhere, with where each goes: the phone a
    /// `Dial` names or the extension a `Goto(context,ext,1)` jumps to.
    pub(super) fn routes(&self, context: &str) -> Vec<(String, Route, Origin)> {
        let Some((extens, _)) = self.contexts.get(context) else {
            return Vec::new();
        };
        extens
            .iter()
            .map(|e| {
                let route = e.apps.iter().find_map(|app| {
                    if let Some(t) = dial_targets(app).into_iter().next() {
                        return Some(Route::Dial(t));
                    }
                    goto_extension(app).map(Route::Extension)
                });
                (
                    e.pattern.clone(),
                    route.unwrap_or(Route::Other),
                    e.origin.clone(),
                )
            })
            .collect()
    }
}

/// Where one number of a trunk's context goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    Dial(DialTarget),
    Extension(String),
    Other,
}

/// The application name and its arguments: `Dial(PJSIP/a&SIP/b,30)` → (`dial`, `PJSIP/a&…`).
fn application(app: &str) -> Option<(String, &str)> {
    let (name, rest) = app.split_once('(')?;
    let args = rest.strip_suffix(')').unwrap_or(rest);
    Some((name.trim().to_ascii_lowercase(), args))
}

/// The channels a `Dial(...)` names.
pub(super) fn dial_targets(app: &str) -> Vec<DialTarget> {
    let Some(("dial", args)) = application(app).as_ref().map(|(n, a)| (n.as_str(), *a)) else {
        return Vec::new();
    };
    let channels = args.split(',').next().unwrap_or_default();
    channels
        .split('&')
        .filter_map(|c| {
            let (tech, resource) = c.trim().split_once('/')?;
            Some(DialTarget {
                tech: tech.to_owned(),
                resource: resource.to_owned(),
            })
        })
        .collect()
}

/// The arguments of a `Goto`/`Gosub`: (context, extension) when they name both.
fn goto_arguments(app: &str) -> Option<(String, String)> {
    let (name, args) = application(app)?;
    if !matches!(name.as_str(), "goto" | "gosub") {
        return None;
    }
    let args = args.split('(').next().unwrap_or_default();
    let parts: Vec<&str> = args.split(',').map(str::trim).collect();
    match parts.as_slice() {
        [context, exten, _priority] => Some(((*context).to_owned(), (*exten).to_owned())),
        [exten, _priority] => Some((String::new(), (*exten).to_owned())),
        _ => None,
    }
}

fn goto_context(app: &str) -> Option<String> {
    goto_arguments(app)
        .map(|(c, _)| c)
        .filter(|c| !c.is_empty() && !c.contains('$'))
}

fn goto_extension(app: &str) -> Option<String> {
    goto_arguments(app)
        .map(|(_, e)| e)
        .filter(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether an extension pattern can match some number that starts with `prefix` (digits,
/// or `+`): `_X.` and `_0X.` can start with `00`, `_1XXX` cannot.
pub(super) fn can_start_with(pattern: &str, prefix: &str) -> bool {
    let Some(pattern) = pattern.strip_prefix('_') else {
        return pattern.starts_with(prefix);
    };
    let mut chars = pattern.chars();
    for wanted in prefix.chars() {
        let Some(p) = chars.next() else {
            return false;
        };
        let ok = match p.to_ascii_uppercase() {
            '.' | '!' => return true,
            'X' => wanted.is_ascii_digit(),
            'Z' => ('1'..='9').contains(&wanted),
            'N' => ('2'..='9').contains(&wanted),
            '[' => {
                let set: String = chars.by_ref().take_while(|&c| c != ']').collect();
                in_set(&set, wanted)
            }
            literal => literal == wanted,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether `c` is in a pattern's `[...]` set (`1-5`, `13579`).
fn in_set(set: &str, c: char) -> bool {
    let chars: Vec<char> = set.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if i + 2 < chars.len() && chars[i + 1] == '-' {
            if (chars[i]..=chars[i + 2]).contains(&c) {
                return true;
            }
            i += 3;
        } else {
            if chars[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_that_can_start_with_an_international_prefix() {
        for (pattern, expected) in [
            ("_X.", true),
            ("_0X.", true),
            ("_00ZXXXXX.", true),
            ("_[0-1]0.", true),
            ("_1XXX", false),
            ("_0ZXXXXX.", false),
            ("_NXXNXXXXXX", false),
            ("0044123", true),
            ("112", false),
            ("_!", true),
        ] {
            assert_eq!(can_start_with(pattern, "00"), expected, "{pattern}");
        }
    }

    #[test]
    fn dial_targets_and_their_trunks() {
        let targets = dial_targets("Dial(PJSIP/${EXTEN}@provider&SIP/itsp/${EXTEN},30,tT)");
        let no = |_: &str| false;
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].trunk(&no), Some("provider"));
        assert_eq!(targets[1].trunk(&no), Some("itsp"));
        let local = dial_targets("Dial(PJSIP/${EXTEN})");
        assert_eq!(local[0].trunk(&no), None);
        assert_eq!(local[0].trunk(&|n| n == "${EXTEN}"), Some("${EXTEN}"));
        assert!(dial_targets("NoOp(Dial(SIP/x))").is_empty());
    }
}
