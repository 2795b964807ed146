//! A dialplan of the administrator's own (`extensions_custom.conf` style): IVR menus, voicemail,
//! announcements, conference rooms, time-of-day routing — inside the calling-class limits.
//!
//! The text defines contexts named `custom-…`. Three names are hooks sipwarden includes into
//! the calling classes: `custom-internal` into every class, `custom-national` into national
//! and international, `custom-international` into international. They are included *after*
//! sipwarden's own contexts, so an emergency number or an extension is always sipwarden's.
//!
//! Why an allow-list rather than a file included as it is: one `Dial(PJSIP/…@trunk)` in an
//! included file would reach the trunk without the caller's call limit (and without the
//! coming fraud decision), and `System()` or `SHELL()` would run commands as Asterisk. So the
//! text is read line by line, and only what cannot leave the custom contexts passes:
//! - applications from [`APPLICATIONS`] (no `Dial`, no `Originate`, no `System`);
//! - jumps (`Goto`, `GotoIf`, `Gosub`, `GosubIf`) to a literal `custom-…` context or to
//!   `sw-dial-local` (an internal extension, through the caller's call limit);
//! - no dialplan functions that run commands, touch files or the database, change call
//!   counting or channel handlers ([`FORBIDDEN_FUNCTIONS`]); no `Set` of sipwarden's `SW_`
//!   variables; no directives (`#include`, `#exec`), templates, `switch` or `;` escapes.
//!
//! What passes is kept as parsed lines and rendered from them, never copied as text.

use super::error::InvalidField;

/// The longest text accepted.
pub const MAX_CUSTOM_DIALPLAN_BYTES: usize = 64 * 1024;
/// The longest line accepted.
const MAX_LINE: usize = 512;
/// The hooks and the calling classes that include them (cumulative, like the dial classes).
pub const HOOKS: [&str; 3] = ["custom-internal", "custom-national", "custom-international"];
/// The one sipwarden context custom code may jump to.
const DIAL_LOCAL: &str = "sw-dial-local";

/// Applications custom code may run (compared without case).
pub const APPLICATIONS: &[&str] = &[
    "Answer",
    "Background",
    "Busy",
    "ConfBridge",
    "Congestion",
    "Echo",
    "Gosub",
    "GosubIf",
    "Goto",
    "GotoIf",
    "GotoIfTime",
    "Hangup",
    "MusicOnHold",
    "NoOp",
    "Playback",
    "Playtones",
    "Progress",
    "Read",
    "Return",
    "Ringing",
    "SayAlpha",
    "SayDigits",
    "SayNumber",
    "Set",
    "StopPlaytones",
    "Verbose",
    "VoiceMail",
    "VoiceMailMain",
    "Wait",
    "WaitExten",
];

/// Dialplan functions that must not appear anywhere in an argument (compared without case):
/// they run commands, read or write files, the database or the environment, or change the
/// call counting and channel handlers the call limits rest on.
pub const FORBIDDEN_FUNCTIONS: &[&str] = &[
    "SHELL(",
    "SYSTEM",
    "EXEC",
    "EVAL(",
    "FILE(",
    "FILE_",
    "DB(",
    "DB_",
    "CURL",
    "ODBC",
    "REALTIME",
    "ENV(",
    "GROUP",
    "CHANNEL(",
    "SET(",
    "SHARED(",
    "IMPORT(",
    "SPRINTF(",
    "HASH(",
    "STAT(",
    "PJSIP_",
    "SIP_HEADER",
    "HANGUP_HANDLER",
    "DIALPLAN_EXISTS(",
];

/// One checked line of a custom context.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Line {
    /// `exten => pattern,priority,App(args)`.
    Exten { pattern: String, step: String },
    /// `same => priority,App(args)`.
    Same { step: String },
    /// `include => custom-…`.
    Include(String),
}

/// A custom context, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Context {
    name: String,
    lines: Vec<Line>,
}

/// The administrator's dialplan, checked; empty by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomDialplan {
    contexts: Vec<Context>,
}

impl CustomDialplan {
    /// Checks `text`; a refusal names the line and the rule (field `custom_dialplan`).
    pub fn parse(text: &str) -> Result<Self, InvalidField> {
        if text.len() > MAX_CUSTOM_DIALPLAN_BYTES {
            return Err(InvalidField::new(
                "custom_dialplan",
                format!("must be at most {MAX_CUSTOM_DIALPLAN_BYTES} bytes"),
            ));
        }
        let mut contexts: Vec<Context> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let refuse = |rule: String| {
                InvalidField::new("custom_dialplan", format!("line {}: {rule}", i + 1))
            };
            if raw.len() > MAX_LINE {
                return Err(refuse(format!("is longer than {MAX_LINE} bytes")));
            }
            if raw.contains("\\;") {
                return Err(refuse(
                    "`\\;` is not supported here: keep `;` out of the dialplan".into(),
                ));
            }
            // `;` starts a comment, as in Asterisk; `;--` block comments are not supported.
            let line = raw.split(';').next().unwrap_or("").trim();
            if raw.trim_start().starts_with(";--") {
                return Err(refuse("block comments (`;--`) are not supported".into()));
            }
            if line.is_empty() {
                continue;
            }
            if line.starts_with('#') {
                return Err(refuse(
                    "directives (#include, #tryinclude, #exec) are not allowed".into(),
                ));
            }
            if let Some(header) = line.strip_prefix('[') {
                let name = header.strip_suffix(']').ok_or_else(|| {
                    refuse(
                        "a context header is `[custom-name]`, nothing after it (no templates)"
                            .into(),
                    )
                })?;
                check_context_name(name).map_err(refuse)?;
                if contexts.iter().any(|c| c.name == name) {
                    return Err(refuse(format!("context [{name}] is defined twice")));
                }
                contexts.push(Context {
                    name: name.to_owned(),
                    lines: Vec::new(),
                });
                continue;
            }
            let Some(context) = contexts.last_mut() else {
                return Err(refuse("comes before the first [custom-…] context".into()));
            };
            let (key, value) = line
                .split_once("=>")
                .or_else(|| line.split_once('='))
                .ok_or_else(|| refuse("is not `exten =>`, `same =>` or `include =>`".into()))?;
            let value = value.trim();
            let parsed = match key.trim().to_ascii_lowercase().as_str() {
                "exten" => {
                    let (pattern, step) = value.split_once(',').ok_or_else(|| {
                        refuse("an extension is `pattern,priority,App(…)`".into())
                    })?;
                    check_pattern(pattern.trim()).map_err(refuse)?;
                    Line::Exten {
                        pattern: pattern.trim().to_owned(),
                        step: check_step(step.trim()).map_err(refuse)?,
                    }
                }
                "same" => {
                    if context.lines.is_empty() {
                        return Err(refuse("`same =>` needs an `exten =>` before it".into()));
                    }
                    Line::Same {
                        step: check_step(value).map_err(refuse)?,
                    }
                }
                "include" => {
                    check_context_name(value).map_err(refuse)?;
                    Line::Include(value.to_owned())
                }
                other => {
                    return Err(refuse(format!(
                        "`{other}` is not allowed here (only exten, same and include)"
                    )));
                }
            };
            context.lines.push(parsed);
        }
        // Includes and jumps may only name contexts that exist (a typo would silently
        // reach nothing).
        let names: Vec<&str> = contexts.iter().map(|c| c.name.as_str()).collect();
        for context in &contexts {
            for line in &context.lines {
                let targets = match line {
                    Line::Include(name) => vec![name.clone()],
                    Line::Exten { step, .. } | Line::Same { step } => jump_contexts(step),
                };
                for target in targets {
                    if target != DIAL_LOCAL && !names.contains(&target.as_str()) {
                        return Err(InvalidField::new(
                            "custom_dialplan",
                            format!(
                                "[{}] reaches [{target}], which is not defined",
                                context.name
                            ),
                        ));
                    }
                }
            }
        }
        Ok(Self { contexts })
    }

    /// Whether there is no custom context.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.contexts.is_empty()
    }

    /// Whether the hook `name` is defined.
    #[must_use]
    pub fn defines(&self, name: &str) -> bool {
        self.contexts.iter().any(|c| c.name == name)
    }

    /// The contexts as `(name, [(key, value)])`, for the renderer.
    pub fn sections(&self) -> impl Iterator<Item = (&str, Vec<(&'static str, String)>)> {
        self.contexts.iter().map(|c| {
            let lines = c
                .lines
                .iter()
                .map(|l| match l {
                    Line::Exten { pattern, step } => ("exten", format!("{pattern},{step}")),
                    Line::Same { step } => ("same", step.clone()),
                    Line::Include(name) => ("include", name.clone()),
                })
                .collect();
            (c.name.as_str(), lines)
        })
    }

    /// The text it was checked from, normalised (one statement per line, no comments).
    #[must_use]
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (name, lines) in self.sections() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!("[{name}]\n"));
            for (key, value) in lines {
                out.push_str(&format!("{key} => {value}\n"));
            }
        }
        out
    }
}

fn check_context_name(name: &str) -> Result<(), String> {
    let rest = name.strip_prefix("custom-").unwrap_or("");
    let ok = !rest.is_empty()
        && rest.len() <= 40
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !rest.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is no custom context name: `custom-` then up to 40 of a-z, 0-9 and -"
        ))
    }
}

fn check_pattern(pattern: &str) -> Result<(), String> {
    let ok = !pattern.is_empty()
        && pattern.len() <= 40
        && pattern
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_*#+.![]-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{pattern}` is no extension pattern (up to 40 of letters, digits and _*#+.![]-)"
        ))
    }
}

/// Checks `priority,App(args)` and returns it as it will be written.
fn check_step(step: &str) -> Result<String, String> {
    let (priority, call) = step.split_once(',').ok_or("a step is `priority,App(…)`")?;
    let priority = priority.trim();
    check_priority(priority)?;
    let call = call.trim();
    let (app, args) = match call.split_once('(') {
        Some((app, rest)) => (
            app.trim(),
            rest.strip_suffix(')')
                .ok_or_else(|| format!("`{call}` does not end with `)`"))?,
        ),
        None => (call, ""),
    };
    let Some(&known) = APPLICATIONS.iter().find(|a| a.eq_ignore_ascii_case(app)) else {
        return Err(format!(
            "application `{app}` is not allowed in a custom dialplan (calls leave only through \
             sipwarden's classes: Goto(sw-dial-local,…) for an extension; allowed: {})",
            APPLICATIONS.join(", ")
        ));
    };
    if args.bytes().any(|b| b.is_ascii_control() || !b.is_ascii()) {
        return Err("arguments must be printable ASCII".to_owned());
    }
    let upper = args.to_ascii_uppercase();
    if let Some(f) = FORBIDDEN_FUNCTIONS.iter().find(|f| upper.contains(*f)) {
        return Err(format!(
            "`{}` is not allowed in a custom dialplan",
            f.trim_end_matches('(')
        ));
    }
    match known {
        "Set" => check_set(args)?,
        "Goto" | "GotoIf" | "GotoIfTime" | "Gosub" | "GosubIf" => {
            for label in labels(known, args) {
                check_label(&label)?;
            }
        }
        _ => {}
    }
    Ok(if args.is_empty() && !call.contains('(') {
        format!("{priority},{known}")
    } else {
        format!("{priority},{known}({args})")
    })
}

fn check_priority(priority: &str) -> Result<(), String> {
    let (number, label) = match priority.split_once('(') {
        Some((n, l)) => (
            n,
            Some(
                l.strip_suffix(')')
                    .ok_or("a priority label ends with `)`")?,
            ),
        ),
        None => (priority, None),
    };
    let number_ok = number == "n"
        || number == "hint"
        || (!number.is_empty() && number.len() <= 4 && number.bytes().all(|b| b.is_ascii_digit()));
    let label_ok = label.is_none_or(|l| {
        !l.is_empty()
            && l.len() <= 32
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if number_ok && label_ok && number != "hint" {
        Ok(())
    } else {
        Err(format!(
            "`{priority}` is no priority (a number, `n`, or either with a `(label)`)"
        ))
    }
}

/// `Set(NAME=value)`: never one of sipwarden's variables, never a function, never inherited.
fn check_set(args: &str) -> Result<(), String> {
    let (name, _) = args.split_once('=').ok_or("Set needs `NAME=value`")?;
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= 40
        && name.as_bytes()[0].is_ascii_alphabetic()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.to_ascii_uppercase().starts_with("SW_");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` cannot be set here (a plain variable name, not sipwarden's SW_…)"
        ))
    }
}

/// The jump targets of a Goto-like call (each `[[context,]exten,]priority`).
fn labels(app: &str, args: &str) -> Vec<String> {
    let strip_args = |label: &str| -> String {
        // Gosub's `label(arg1,arg2)`: the arguments are not part of the target.
        label.split('(').next().unwrap_or(label).trim().to_owned()
    };
    match app {
        "Goto" | "Gosub" => vec![strip_args(args)],
        // `condition?iftrue:iffalse`; GotoIfTime's condition is `times,weekdays,mdays,months`.
        "GotoIf" | "GosubIf" | "GotoIfTime" => {
            let branches = args.split_once('?').map_or("", |(_, b)| b);
            if branches.is_empty() {
                return vec![String::new()];
            }
            branches
                .split(':')
                .filter(|b| !b.trim().is_empty())
                .map(strip_args)
                .collect()
        }
        _ => Vec::new(),
    }
}

fn check_label(label: &str) -> Result<(), String> {
    let parts: Vec<&str> = label.split(',').map(str::trim).collect();
    if label.is_empty() || parts.len() > 3 {
        return Err(format!(
            "`{label}` is no jump target (`[[context,]exten,]priority`)"
        ));
    }
    if parts.len() == 3 {
        let context = parts[0];
        if context.contains('$') {
            return Err(format!(
                "a jump's context must be written out, not computed (`{context}`)"
            ));
        }
        if context != DIAL_LOCAL && check_context_name(context).is_err() {
            return Err(format!(
                "a jump may reach custom-… contexts and {DIAL_LOCAL} only, not `{context}`"
            ));
        }
    }
    Ok(())
}

/// The contexts a step jumps to by name.
fn jump_contexts(step: &str) -> Vec<String> {
    let Some((_, call)) = step.split_once(',') else {
        return Vec::new();
    };
    let Some((app, rest)) = call.split_once('(') else {
        return Vec::new();
    };
    let args = rest.strip_suffix(')').unwrap_or(rest);
    labels(app, args)
        .into_iter()
        .filter_map(|label| {
            let parts: Vec<&str> = label.split(',').map(str::trim).collect();
            (parts.len() == 3).then(|| parts[0].to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IVR: &str = "\
; the office menu
[custom-internal]
exten => 800,1,Answer()
 same => n,Background(welcome)
 same => n,WaitExten(5)
exten => 1,1,Goto(sw-dial-local,1001,1)  ; sales
exten => 2,1,Goto(custom-support,s,1)
exten => *98,1,VoiceMailMain(${CALLERID(num)}@default)
include => custom-support

[custom-support]
exten => s,1,GotoIfTime(08:00-17:00,mon-fri,*,*?open,1:closed,1)
exten => open,1,Goto(sw-dial-local,1002,1)
exten => closed,1,Playback(closed)
 same => n,Set(REASON=closed)
 same => n,Hangup()
";

    #[test]
    fn an_office_menu_passes_and_is_rendered_from_its_parsed_lines() {
        let plan = CustomDialplan::parse(IVR).unwrap();
        assert!(plan.defines("custom-internal") && !plan.defines("custom-national"));
        let text = plan.text();
        assert!(
            text.contains("exten => 1,1,Goto(sw-dial-local,1001,1)\n"),
            "{text}"
        );
        assert!(
            !text.contains("sales"),
            "comments are not carried over: {text}"
        );
        assert_eq!(
            CustomDialplan::parse(&text).unwrap(),
            plan,
            "the rendering reads back"
        );
    }

    fn refused(text: &str, words: &str) {
        let err = CustomDialplan::parse(text).unwrap_err();
        assert_eq!(err.field(), "custom_dialplan");
        assert!(err.rule().contains(words), "{text:?}: {}", err.rule());
    }

    #[test]
    fn what_would_leave_the_calling_classes_is_refused_with_the_line() {
        let one = |line: &str| format!("[custom-internal]\n{line}\n");
        refused(
            &one("exten => _X.,1,Dial(PJSIP/${EXTEN}@provider)"),
            "line 2: application `Dial`",
        );
        refused(&one("exten => 9,1,System(rm -rf /)"), "`System`");
        refused(
            &one("exten => 9,1,Goto(sw-dial-international,0044,1)"),
            "not `sw-dial-international`",
        );
        refused(&one("exten => 9,1,Goto(${CTX},s,1)"), "written out");
        refused(
            &one("exten => 9,1,GotoIf($[1]?sw-class-international,1,1)"),
            "not `sw-class-international`",
        );
        refused(
            &one("exten => 9,1,Gosub(sw-caller-limit,s,1)"),
            "not `sw-caller-limit`",
        );
        refused(&one("exten => 9,1,Set(SW_MAXCALLS=99)"), "SW_");
        refused(&one("exten => 9,1,Set(GROUP(sw_calls)=x)"), "GROUP");
        refused(&one("exten => 9,1,NoOp(${SHELL(id)})"), "SHELL");
        refused(
            &one("exten => 9,1,Verbose(${FILE(/etc/asterisk/manager.conf)})"),
            "FILE",
        );
        refused(
            &one("exten => 9,1,Set(x=${CHANNEL(hangup_handler_push)})"),
            "CHANNEL",
        );
        refused(&one("#include /etc/passwd"), "directives");
        refused(&one("switch => Realtime/x"), "`switch`");
        refused("exten => 1,1,Answer()\n", "before the first");
        refused(
            "[default]\nexten => 1,1,Answer()\n",
            "no custom context name",
        );
        refused("[custom-a](!)\n", "no templates");
        refused(
            "[custom-a]\ninclude => custom-b\n",
            "[custom-b], which is not defined",
        );
        refused(&one("exten => 9,1,Goto(custom-nowhere,s,1)"), "not defined");
        refused(&one("exten => 9,1,Playback(a\\;b)"), "`\\;`");
        refused(&"x".repeat(MAX_CUSTOM_DIALPLAN_BYTES + 1), "at most");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Lines built from the pieces an attacker on the policy form would try.
    fn line() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec!["exten => ", "same => ", "include => ", "[", "#", ""]);
        let app = prop::sample::select(vec![
            "Dial",
            "Goto",
            "GotoIf",
            "Gosub",
            "Set",
            "System",
            "Playback",
            "Background",
            "Answer",
        ]);
        let target = prop::sample::select(vec![
            "custom-a",
            "custom-b",
            "sw-dial-local",
            "sw-dial-international",
            "sw-class-national",
            "${X}",
            "default",
            "",
        ]);
        (key, "[0-9_X.s]{0,4}", app, target, "[ -~]{0,12}").prop_map(
            |(key, ext, app, target, noise)| format!("{key}{ext},1,{app}({target},{noise},1)"),
        )
    }

    proptest! {
        #[test]
        fn whatever_passes_stays_in_the_custom_contexts(
            lines in prop::collection::vec(line(), 0..12),
            header in prop::sample::select(vec!["[custom-a]", "[custom-b]", "[custom-internal]", "[other]"]),
        ) {
            let text = format!("[custom-a]\n[custom-b]\n{header}\n{}", lines.join("\n"));
            if let Ok(plan) = CustomDialplan::parse(&text) {
                let rendered = plan.text();
                let upper = rendered.to_ascii_uppercase();
                prop_assert!(!upper.contains("DIAL(") && !upper.contains("SYSTEM("), "{rendered}");
                for (_, lines) in plan.sections() {
                    for (key, value) in lines {
                        prop_assert!(["exten", "same", "include"].contains(&key));
                        let step = if key == "exten" {
                            value.split_once(',').map_or("", |(_, step)| step)
                        } else {
                            value.as_str()
                        };
                        for context in jump_contexts(step) {
                            prop_assert!(context == DIAL_LOCAL || context.starts_with("custom-"), "{value}");
                        }
                    }
                }
            }
        }

        #[test]
        fn arbitrary_text_is_refused_or_accepted_never_a_panic(text in "\\PC{0,400}") {
            let _ = CustomDialplan::parse(&text);
        }
    }
}
