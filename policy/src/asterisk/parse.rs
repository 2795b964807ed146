//! A parser for Asterisk's configuration file format, modelled on `main/config.c`.
//!
//! It exists to prove the renderers right: for any model, parsing what was rendered must give
//! back exactly the sections, keys and values the model says. Where Asterisk would silently
//! do something surprising (a stray `--;` that ends a comment which never began, an
//! over-long line skipped, a name truncated), this parser refuses with an error instead, so a
//! rendered file that would confuse Asterisk can never pass the round trip.

use std::fmt;

/// Lines of this many bytes or more are skipped by Asterisk (8 KiB read buffer), which could
/// silently drop a `deny=` line (reference §5.1).
pub const MAX_LINE_BYTES: usize = 8190;
/// Asterisk truncates section names to 79 characters (reference §5.3).
pub const MAX_SECTION_NAME: usize = 79;
/// Asterisk nests block comments up to this depth.
pub const MAX_COMMENT_DEPTH: usize = 128;

/// A parsed configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigDoc {
    /// Sections in file order.
    pub sections: Vec<Section>,
    /// `#include`, `#tryinclude` and `#exec` lines, in file order.
    pub directives: Vec<Directive>,
}

/// One `[name]` section and its entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The name between the brackets.
    pub name: String,
    /// Line of the header, from 1.
    pub line: usize,
    /// `(!)`: a template, not an object.
    pub template: bool,
    /// `(+)`: appends to an earlier section of the same name.
    pub append: bool,
    /// Templates or sections this one inherits from, in order.
    pub inherits: Vec<String>,
    /// Entries in order.
    pub entries: Vec<Entry>,
}

impl Section {
    /// Values of every entry named `key`, in order.
    pub fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.key == key)
            .map(|e| e.value.as_str())
    }

    /// The value of the only (or first) entry named `key`.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }
}

/// How an entry assigns its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assign {
    /// `key = value`
    Set,
    /// `key => value` (the "object" form used by the dialplan)
    Object,
    /// `key += value`
    Append,
}

/// One `key = value` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Name before the `=`.
    pub key: String,
    /// Value after it, comments removed and `\;` unescaped.
    pub value: String,
    /// Which operator was used.
    pub assign: Assign,
    /// Line, from 1.
    pub line: usize,
}

/// The kind of a `#` directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectiveKind {
    /// `#include`: a missing file stops the module loading.
    Include,
    /// `#tryinclude`: a missing file is tolerated.
    TryInclude,
    /// `#exec`: runs a program (only with `execincludes=yes`).
    Exec,
}

/// One `#include`/`#tryinclude`/`#exec` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    /// Which directive.
    pub kind: DirectiveKind,
    /// Its argument, quotes or angle brackets removed.
    pub argument: String,
    /// Line, from 1.
    pub line: usize,
}

/// Why a file did not parse, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    /// Line, from 1.
    pub line: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

/// What is wrong with a line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// Asterisk would skip the whole line.
    #[error("line is {0} bytes long; Asterisk skips lines of 8191 bytes or more")]
    LineTooLong(usize),
    /// A NUL byte ends the line early for Asterisk's C string handling.
    #[error("contains a NUL byte")]
    Nul,
    /// `[` without `]`.
    #[error("section header without a closing ']'")]
    UnterminatedSection,
    /// `[]`.
    #[error("empty section name")]
    EmptySectionName,
    /// Name longer than Asterisk keeps.
    #[error("section name longer than {MAX_SECTION_NAME} characters; Asterisk would truncate it")]
    SectionNameTooLong,
    /// `(` without `)` after a section name.
    #[error("section options without a closing ')'")]
    UnterminatedOptions,
    /// An empty entry in `(a,,b)`.
    #[error("empty section option")]
    EmptyOption,
    /// Text after `]` or `)`.
    #[error("unexpected text after the section header")]
    TrailingText,
    /// `key = value` before any section.
    #[error("entry outside of any section")]
    EntryOutsideSection,
    /// A line that is neither header, directive nor `key = value`.
    #[error("no '=' in line")]
    MissingEquals,
    /// `= value`.
    #[error("empty key")]
    EmptyKey,
    /// `#something` other than include/tryinclude/exec.
    #[error("unknown directive")]
    UnknownDirective,
    /// `#include` with nothing after it.
    #[error("directive without an argument")]
    DirectiveWithoutArgument,
    /// `--;` with no block comment open: Asterisk's nesting count would go negative.
    #[error("'--;' closes a block comment that was never opened")]
    UnbalancedCommentEnd,
    /// Block comments nested too deeply.
    #[error("block comments nested more than {MAX_COMMENT_DEPTH} deep")]
    CommentTooDeep,
    /// A `;--` still open at the end of the file.
    #[error("block comment opened on line {0} is never closed")]
    UnclosedComment(usize),
}

impl fmt::Display for DirectiveKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Include => "#include",
            Self::TryInclude => "#tryinclude",
            Self::Exec => "#exec",
        })
    }
}

/// Removes comments from one line and unescapes `\;`, tracking block-comment depth across
/// lines the way `config.c` does (the escape is checked first, `;---` does not open).
fn strip_comments(
    line: &str,
    depth: &mut usize,
    opened_at: &mut usize,
    lineno: usize,
) -> Result<String, ParseErrorKind> {
    let mut out = String::with_capacity(line.len());
    let bytes = line.as_bytes();
    let opens = |i: usize| bytes[i..].starts_with(b";--") && bytes.get(i + 3) != Some(&b'-');
    let mut i = 0;
    while i < bytes.len() {
        if *depth > 0 {
            if opens(i) {
                if *depth >= MAX_COMMENT_DEPTH {
                    return Err(ParseErrorKind::CommentTooDeep);
                }
                *depth += 1;
                i += 3;
            } else if bytes[i..].starts_with(b"--;") {
                *depth -= 1;
                i += 3;
            } else {
                i += 1;
            }
            continue;
        }
        match bytes[i] {
            b'\\' if bytes.get(i + 1) == Some(&b';') => {
                out.push(';');
                i += 2;
            }
            b';' if opens(i) => {
                *depth = 1;
                *opened_at = lineno;
                i += 3;
            }
            b';' => break,
            b'-' if bytes[i..].starts_with(b"--;") => {
                return Err(ParseErrorKind::UnbalancedCommentEnd);
            }
            _ => {
                // Copy one whole UTF-8 character.
                let ch_len = line[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&line[i..i + ch_len]);
                i += ch_len;
            }
        }
    }
    Ok(out)
}

/// Whitespace as C's `isspace` sees it.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

fn parse_section(text: &str, lineno: usize) -> Result<Section, ParseErrorKind> {
    let body = &text[1..];
    let close = body.find(']').ok_or(ParseErrorKind::UnterminatedSection)?;
    let name = &body[..close];
    if name.is_empty() {
        return Err(ParseErrorKind::EmptySectionName);
    }
    if name.chars().count() > MAX_SECTION_NAME {
        return Err(ParseErrorKind::SectionNameTooLong);
    }
    let mut section = Section {
        name: name.to_owned(),
        line: lineno,
        template: false,
        append: false,
        inherits: Vec::new(),
        entries: Vec::new(),
    };
    let rest = &body[close + 1..];
    if rest.is_empty() {
        return Ok(section);
    }
    let Some(options) = rest.strip_prefix('(') else {
        return Err(ParseErrorKind::TrailingText);
    };
    let end = options
        .find(')')
        .ok_or(ParseErrorKind::UnterminatedOptions)?;
    if !options[end + 1..].is_empty() {
        return Err(ParseErrorKind::TrailingText);
    }
    for option in options[..end].split(',') {
        match option {
            "" => return Err(ParseErrorKind::EmptyOption),
            "!" => section.template = true,
            "+" => section.append = true,
            other => section.inherits.push(other.to_owned()),
        }
    }
    Ok(section)
}

fn parse_directive(text: &str, lineno: usize) -> Result<Directive, ParseErrorKind> {
    let body = &text[1..];
    let word_end = body.find(is_space).unwrap_or(body.len());
    let kind = match &body[..word_end] {
        "include" => DirectiveKind::Include,
        "tryinclude" => DirectiveKind::TryInclude,
        "exec" => DirectiveKind::Exec,
        _ => return Err(ParseErrorKind::UnknownDirective),
    };
    let mut argument = body[word_end..].trim_matches(is_space);
    for (open, close) in [('"', '"'), ('<', '>')] {
        if argument.len() >= 2 && argument.starts_with(open) && argument.ends_with(close) {
            argument = &argument[1..argument.len() - 1];
        }
    }
    if argument.is_empty() {
        return Err(ParseErrorKind::DirectiveWithoutArgument);
    }
    Ok(Directive {
        kind,
        argument: argument.to_owned(),
        line: lineno,
    })
}

fn parse_entry(text: &str, lineno: usize) -> Result<Entry, ParseErrorKind> {
    let eq = text.find('=').ok_or(ParseErrorKind::MissingEquals)?;
    let mut key = text[..eq].trim_matches(is_space);
    let mut value = &text[eq + 1..];
    let mut assign = Assign::Set;
    if let Some(stripped) = key.strip_suffix('+') {
        key = stripped.trim_matches(is_space);
        assign = Assign::Append;
    } else if let Some(stripped) = value.strip_prefix('>') {
        value = stripped;
        assign = Assign::Object;
    }
    if key.is_empty() {
        return Err(ParseErrorKind::EmptyKey);
    }
    Ok(Entry {
        key: key.to_owned(),
        value: value.trim_matches(is_space).to_owned(),
        assign,
        line: lineno,
    })
}

/// Parses one Asterisk configuration file.
pub fn parse_config(text: &str) -> Result<ConfigDoc, ParseError> {
    let mut doc = ConfigDoc::default();
    let mut depth = 0usize;
    let mut opened_at = 0usize;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, raw) in text.split('\n').enumerate() {
        let lineno = index + 1;
        let fail = |kind| ParseError { line: lineno, kind };
        if raw.len() > MAX_LINE_BYTES {
            return Err(fail(ParseErrorKind::LineTooLong(raw.len())));
        }
        if raw.contains('\0') {
            return Err(fail(ParseErrorKind::Nul));
        }
        let stripped = strip_comments(raw, &mut depth, &mut opened_at, lineno).map_err(fail)?;
        let line = stripped.trim_matches(is_space);
        if line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            doc.sections
                .push(parse_section(line, lineno).map_err(fail)?);
        } else if line.starts_with('#') {
            doc.directives
                .push(parse_directive(line, lineno).map_err(fail)?);
        } else {
            let entry = parse_entry(line, lineno).map_err(fail)?;
            match doc.sections.last_mut() {
                Some(section) => section.entries.push(entry),
                None => return Err(fail(ParseErrorKind::EntryOutsideSection)),
            }
        }
    }
    if depth > 0 {
        return Err(ParseError {
            line: opened_at,
            kind: ParseErrorKind::UnclosedComment(opened_at),
        });
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_templates_and_both_assignment_forms_are_parsed() {
        let doc = parse_config(
            "[base](!)\ntype=endpoint\n[k7](base,other)\ncontext = x ; comment\n[ctx]\nexten => 1,1,Hangup()\nallow += ulaw\n",
        )
        .unwrap();
        assert_eq!(doc.sections.len(), 3);
        assert!(doc.sections[0].template);
        assert_eq!(doc.sections[1].inherits, ["base", "other"]);
        assert_eq!(doc.sections[1].value("context"), Some("x"));
        let exten = &doc.sections[2].entries[0];
        assert_eq!(
            (exten.assign, exten.value.as_str(), exten.line),
            (Assign::Object, "1,1,Hangup()", 6)
        );
        assert_eq!(doc.sections[2].entries[1].assign, Assign::Append);
    }

    #[test]
    fn an_escaped_semicolon_is_a_literal_and_block_comments_nest() {
        let doc = parse_config("[a]\nk=v\\;w ; real comment\n;-- one ;-- two --; still --;\nz=1")
            .unwrap();
        assert_eq!(doc.sections[0].value("k"), Some("v;w"));
        assert_eq!(doc.sections[0].entries.len(), 2);
    }

    #[test]
    fn a_block_comment_can_span_lines() {
        let doc = parse_config("[a]\n;--\nk=hidden\n--;\nk=seen\n").unwrap();
        assert_eq!(doc.sections[0].values("k").collect::<Vec<_>>(), ["seen"]);
    }

    #[test]
    fn directives_are_recognised_and_reported() {
        let doc =
            parse_config("#include \"extra.conf\"\n[a]\n#exec /bin/evil\n#tryinclude <x.conf>\n")
                .unwrap();
        let kinds: Vec<_> = doc
            .directives
            .iter()
            .map(|d| (d.kind, d.argument.as_str(), d.line))
            .collect();
        assert_eq!(
            kinds,
            [
                (DirectiveKind::Include, "extra.conf", 1),
                (DirectiveKind::Exec, "/bin/evil", 3),
                (DirectiveKind::TryInclude, "x.conf", 4)
            ]
        );
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let cases = [
            ("[a\n", 1, ParseErrorKind::UnterminatedSection),
            ("k=v\n", 1, ParseErrorKind::EntryOutsideSection),
            ("[a]\njunk\n", 2, ParseErrorKind::MissingEquals),
            ("[a]\nk=v--;\n", 2, ParseErrorKind::UnbalancedCommentEnd),
            ("[a]\n;--\n", 2, ParseErrorKind::UnclosedComment(2)),
            ("[a](+\n", 1, ParseErrorKind::UnterminatedOptions),
            ("[a]x\n", 1, ParseErrorKind::TrailingText),
            ("#evil x\n", 1, ParseErrorKind::UnknownDirective),
        ];
        for (text, line, kind) in cases {
            assert_eq!(
                parse_config(text).unwrap_err(),
                ParseError { line, kind },
                "{text:?}"
            );
        }
        let long = format!("[a]\nk={}\n", "x".repeat(9000));
        assert!(matches!(
            parse_config(&long).unwrap_err().kind,
            ParseErrorKind::LineTooLong(_)
        ));
    }

    #[test]
    fn three_dashes_after_a_semicolon_are_a_line_comment_not_a_block() {
        let doc = parse_config("[a]\n;--- heading\nk=v\n").unwrap();
        assert_eq!(doc.sections[0].value("k"), Some("v"));
    }
}
