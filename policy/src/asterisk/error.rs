//! The error every checked constructor of this module returns.

/// Why a value was refused: the field it came from and the rule it broke.
///
/// The refused value itself is never echoed. It may be a secret, 9 000 bytes long, or carry
/// control characters that would corrupt a log line, a terminal or a JSON error body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct InvalidField {
    field: String,
    rule: String,
}

impl InvalidField {
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// The input field that was refused, e.g. `display_name` or `permit[2]`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The rule the value broke, in words an administrator understands.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// Re-labels the error with the name of the input field it came from.
    pub(crate) fn for_field(self, field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule: self.rule,
        }
    }
}

/// Describes a refused character without printing it raw: control and non-ASCII characters
/// are shown as code points, so the message itself stays a safe single line.
pub(crate) fn describe_char(c: char) -> String {
    if c.is_ascii_graphic() {
        format!("the character '{c}'")
    } else if c == ' ' {
        "a space".to_owned()
    } else if c.is_control() {
        format!("the control character U+{:04X}", u32::from(c))
    } else {
        format!("the non-ASCII character U+{:04X}", u32::from(c))
    }
}
