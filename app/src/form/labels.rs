//! The words people read for a form field the backend names by its input name
//! (`max_calls`, `permit[2]`, `tls.cert_file`): one table for every form's refusals, so an
//! error says "Networks it may connect from, entry 3" rather than `permit[2]`.

/// Input names and what the forms call them.
const LABELS: &[(&str, &str)] = &[
    // Endpoints
    ("extension", "Extension"),
    ("display_name", "Display name"),
    ("calling_class", "Calling class"),
    ("transport", "Transport"),
    ("permit", "Networks it may connect from"),
    ("deny", "Exceptions inside those networks"),
    ("max_calls", "Concurrent calls"),
    ("max_contacts", "Registered contacts"),
    ("codecs", "Codecs"),
    ("mac", "MAC address"),
    ("secret", "Secret"),
    ("id", "Id"),
    // Trunks
    ("name", "Name"),
    ("peer", "Provider address"),
    ("port", "Port"),
    ("sources", "Source networks"),
    ("dids", "DIDs"),
    ("outbound", "Outbound calls"),
    ("confirm", "Trunk name, typed again"),
    ("registration", "Registration"),
    ("registration.username", "Provider username"),
    ("registration.secret", "Provider password"),
    ("registration.auth_username", "Auth username (if different)"),
    ("registration.contact_user", "Contact user"),
    ("registration.retry_interval", "Retry after a failure"),
    (
        "registration.forbidden_retry_interval",
        "Retry after 403 Forbidden",
    ),
    ("registration.expiration", "Registration lifetime"),
    // AMI users
    ("read", "Read classes"),
    ("write", "Write classes"),
    ("allow_dangerous", "Root-equivalent classes"),
    // Policy
    ("realm", "Digest realm"),
    ("user_agent", "User-Agent"),
    ("sip_bind_v4", "IPv4 address SIP binds to"),
    ("sip_bind_v6", "IPv6 address SIP binds to"),
    ("sip_port", "SIP port"),
    ("tls", "TLS files"),
    ("tls.cert_file", "TLS certificate file"),
    ("tls.key_file", "TLS key file"),
    ("tls_cert_file", "TLS certificate file"),
    ("tls_key_file", "TLS key file"),
    ("tls_port", "TLS port"),
    (
        "unidentified_request_count",
        "Requests from an unknown source",
    ),
    ("unidentified_request_period", "Unknown-source period"),
    (
        "unidentified_request_prune_interval",
        "Forget unknown sources after",
    ),
    ("default_endpoint_networks", "Default endpoint networks"),
    ("national_patterns", "National patterns"),
    ("international_patterns", "International patterns"),
    ("emergency_numbers", "Emergency numbers"),
    ("custom_dialplan", "Your own dialplan"),
    ("ami_bind", "Address AMI listens on"),
    ("ami_port", "AMI port"),
    ("ami_auth_timeout", "AMI login time"),
    ("ami_auth_limit", "Concurrent unauthenticated AMI sessions"),
    ("guard_ami_user", "sipwarden's guard account"),
    ("guard_ami_secret", "Secret of sipwarden's guard account"),
    ("apply_ami_user", "sipwarden's apply account"),
    ("apply_ami_secret", "Secret of sipwarden's apply account"),
    (
        "guard_ami_permit",
        "Networks sipwarden connects to AMI from",
    ),
    // Firewall
    ("sip_udp_port", "SIP UDP port"),
    ("sip_tcp_port", "SIP TCP port"),
    ("sip_tls_port", "SIP TLS port"),
    ("console_port", "Console port"),
    ("trusted_networks", "Trusted networks"),
    ("admin_networks", "Admin networks"),
    ("ami_networks", "AMI networks"),
    ("blocklist", "Blocklist"),
    ("confirm_window_secs", "Confirm window"),
    ("restrict_console", "Restrict the console"),
    // Bans, allowlist, alerts
    ("address", "Address"),
    ("reason", "Reason"),
    ("duration_minutes", "Minutes"),
    ("duration_secs", "Duration"),
    ("hours", "Hours"),
    ("note", "Note"),
    ("url", "URL"),
    ("rate_per_minute", "Rate-spike threshold"),
    ("kind", "Kind"),
];

/// The input name a field path refers to: `permit[2]` → `permit`.
fn field_base(field: &str) -> &str {
    field.split('[').next().unwrap_or(field)
}

/// What people call `field`: its label, with the entry of a list (`permit[2]` → "Networks it
/// may connect from, entry 3"). A field without a label reads as its words
/// (`some_thing` → "some thing").
#[must_use]
pub fn field_label(field: &str) -> String {
    let base = field_base(field);
    let label = LABELS.iter().find(|(name, _)| *name == base).map_or_else(
        || base.replace(['_', '.'], " "),
        |(_, label)| (*label).to_owned(),
    );
    let entry = field
        .get(base.len()..)
        .and_then(|rest| rest.strip_prefix('['))
        .and_then(|rest| rest.split(']').next())
        .and_then(|n| n.parse::<usize>().ok());
    match entry {
        Some(i) => format!("{label}, entry {}", i + 1),
        None => label,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_as_their_labels() {
        assert_eq!(
            field_label("permit[0]"),
            "Networks it may connect from, entry 1"
        );
        assert_eq!(field_label("max_calls"), "Concurrent calls");
        assert_eq!(field_label("tls.cert_file"), "TLS certificate file");
        assert_eq!(
            field_label("trusted_networks[11]"),
            "Trusted networks, entry 12"
        );
        assert_eq!(field_label("something_new"), "something new");
        assert_eq!(field_label("registration.secret"), "Provider password");
    }

    #[test]
    fn every_label_is_listed_once() {
        let mut names: Vec<&str> = LABELS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
