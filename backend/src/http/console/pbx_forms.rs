//! The PBX pages' forms, as typed, into the API's input types. Only splitting and number
//! parsing happen here; every rule is checked by the `policy` constructors the services call.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use app::form::pbx::{AmiUserForm, EndpointForm, PolicyData, PolicyForm, TrunkForm};
use policy::asterisk::{
    AmiClass, CallingClass, Codec, InvalidField, NewAmiUser, NewDidRoute, NewEndpoint,
    NewRegistration, NewTrunk, PolicySettings, TlsSettings, Transport,
};

/// A typed-in list: items separated by commas, blanks or new lines.
fn list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|s| !s.is_empty())
}

fn number<T: std::str::FromStr>(field: &str, text: &str, default: T) -> Result<T, InvalidField> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(default);
    }
    text.parse()
        .map_err(|_| InvalidField::new(field, "must be a whole number in range"))
}

fn keywords<T>(
    field: &str,
    text: &str,
    parse: fn(&str) -> Result<T, InvalidField>,
) -> Result<Vec<T>, InvalidField> {
    list(text)
        .iter()
        .enumerate()
        .map(|(i, s)| parse(s).map_err(|e| InvalidField::new(format!("{field}[{i}]"), e.rule())))
        .collect()
}

fn keyword<T: Copy>(
    text: &str,
    default: T,
    parse: fn(&str) -> Result<T, InvalidField>,
) -> Result<T, InvalidField> {
    match text.trim() {
        "" => Ok(default),
        t => parse(t),
    }
}

pub(super) fn new_endpoint(
    form: EndpointForm,
    secret: Option<String>,
) -> Result<NewEndpoint, InvalidField> {
    let defaults = NewEndpoint::default();
    Ok(NewEndpoint {
        extension: form.extension.trim().to_owned(),
        display_name: form.display_name.trim().to_owned(),
        mac: optional(&form.mac),
        secret,
        permit: list(&form.permit),
        deny: list(&form.deny),
        max_calls: number("max_calls", &form.max_calls, defaults.max_calls)?,
        calling_class: keyword(
            &form.calling_class,
            defaults.calling_class,
            CallingClass::parse,
        )?,
        codecs: if form.codecs.trim().is_empty() {
            defaults.codecs
        } else {
            keywords("codecs", &form.codecs, Codec::parse)?
        },
        transport: keyword(&form.transport, defaults.transport, Transport::parse)?,
        max_contacts: number("max_contacts", &form.max_contacts, defaults.max_contacts)?,
        enabled: form.enabled.is_some(),
    })
}

/// `DID=extension` per line (a blank or `->` also separates them).
fn did_routes(text: &str) -> Result<Vec<NewDidRoute>, InvalidField> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, line)| {
            let line = line.replace("->", "=").replace('→', "=");
            let (did, extension) = line
                .split_once('=')
                .or_else(|| line.split_once(char::is_whitespace))
                .ok_or_else(|| {
                    InvalidField::new(
                        format!("dids[{i}]"),
                        "one route per line, as number=extension",
                    )
                })?;
            Ok(NewDidRoute {
                did: did.trim().to_owned(),
                extension: extension.trim().to_owned(),
            })
        })
        .collect()
}

/// The trunk the form describes; `secret` (the provider's password, exactly as typed: a
/// password is not trimmed) goes into its registration.
pub(super) fn new_trunk(form: TrunkForm, secret: Option<String>) -> Result<NewTrunk, InvalidField> {
    let defaults = NewTrunk::default();
    let registration = if form.registers.is_some() {
        let d = NewRegistration::default();
        Some(NewRegistration {
            username: form.reg_username.trim().to_owned(),
            secret,
            auth_username: optional(&form.reg_auth_username),
            contact_user: optional(&form.reg_contact_user),
            retry_interval: number(
                "registration.retry_interval",
                &form.reg_retry_interval,
                d.retry_interval,
            )?,
            forbidden_retry_interval: number(
                "registration.forbidden_retry_interval",
                &form.reg_forbidden_retry_interval,
                d.forbidden_retry_interval,
            )?,
            expiration: number(
                "registration.expiration",
                &form.reg_expiration,
                d.expiration,
            )?,
            outbound_auth: form.reg_outbound_auth.is_some(),
        })
    } else {
        None
    };
    Ok(NewTrunk {
        name: form.name.trim().to_owned(),
        peer: form.peer.trim().to_owned(),
        port: number("port", &form.port, defaults.port)?,
        sources: list(&form.sources),
        dids: did_routes(&form.dids)?,
        transport: keyword(&form.transport, defaults.transport, Transport::parse)?,
        codecs: if form.codecs.trim().is_empty() {
            defaults.codecs
        } else {
            keywords("codecs", &form.codecs, Codec::parse)?
        },
        outbound: form.outbound.is_some(),
        registration,
    })
}

pub(super) fn new_ami_user(
    form: AmiUserForm,
    secret: Option<String>,
) -> Result<NewAmiUser, InvalidField> {
    Ok(NewAmiUser {
        name: form.name.trim().to_owned(),
        secret,
        permit: list(&form.permit),
        deny: list(&form.deny),
        read: keywords("read", &form.read, AmiClass::parse)?,
        write: keywords("write", &form.write, AmiClass::parse)?,
        allow_dangerous: form.allow_dangerous.is_some(),
    })
}

fn address<T: std::str::FromStr>(field: &str, text: &str, what: &str) -> Result<T, InvalidField> {
    text.trim()
        .parse()
        .map_err(|_| InvalidField::new(field, format!("must be an {what} address")))
}

pub(super) fn policy_settings(form: PolicyForm) -> Result<PolicySettings, InvalidField> {
    let d = PolicySettings::default();
    let tls = match (optional(&form.tls_cert_file), optional(&form.tls_key_file)) {
        (None, None) => None,
        (Some(cert_file), Some(key_file)) => Some(TlsSettings {
            cert_file,
            key_file,
        }),
        _ => {
            return Err(InvalidField::new(
                "tls_key_file",
                "give both the certificate and the key file, or neither",
            ));
        }
    };
    Ok(PolicySettings {
        realm: form.realm.trim().to_owned(),
        user_agent: form.user_agent.trim().to_owned(),
        unidentified_request_count: number(
            "unidentified_request_count",
            &form.unidentified_request_count,
            d.unidentified_request_count,
        )?,
        unidentified_request_period: number(
            "unidentified_request_period",
            &form.unidentified_request_period,
            d.unidentified_request_period,
        )?,
        unidentified_request_prune_interval: number(
            "unidentified_request_prune_interval",
            &form.unidentified_request_prune_interval,
            d.unidentified_request_prune_interval,
        )?,
        sip_bind_v4: address::<Ipv4Addr>("sip_bind_v4", &form.sip_bind_v4, "IPv4")?,
        sip_bind_v6: optional(&form.sip_bind_v6)
            .map(|a| address::<Ipv6Addr>("sip_bind_v6", &a, "IPv6"))
            .transpose()?,
        sip_port: number("sip_port", &form.sip_port, d.sip_port)?,
        tls,
        tls_port: number("tls_port", &form.tls_port, d.tls_port)?,
        default_endpoint_networks: list(&form.default_endpoint_networks),
        national_patterns: list(&form.national_patterns),
        international_patterns: list(&form.international_patterns),
        emergency_numbers: list(&form.emergency_numbers),
        ami_bind: address::<IpAddr>("ami_bind", &form.ami_bind, "IP")?,
        ami_port: number("ami_port", &form.ami_port, d.ami_port)?,
        ami_auth_timeout: number(
            "ami_auth_timeout",
            &form.ami_auth_timeout,
            d.ami_auth_timeout,
        )?,
        ami_auth_limit: number("ami_auth_limit", &form.ami_auth_limit, d.ami_auth_limit)?,
        guard_ami_user: form.guard_ami_user.trim().to_owned(),
        // Left out: the service keeps the stored secrets.
        guard_ami_secret: None,
        guard_ami_permit: list(&form.guard_ami_permit),
        apply_ami_user: form.apply_ami_user.trim().to_owned(),
        apply_ami_secret: None,
        // A textarea sends CRLF line ends; Asterisk's files and the check use LF.
        custom_dialplan: form.custom_dialplan.replace("\r\n", "\n"),
    })
}

pub(super) fn policy_data((s, version): (PolicySettings, i32)) -> PolicyData {
    let (tls_cert_file, tls_key_file) =
        s.tls.map(|t| (t.cert_file, t.key_file)).unwrap_or_default();
    PolicyData {
        form: PolicyForm {
            realm: s.realm,
            user_agent: s.user_agent,
            unidentified_request_count: s.unidentified_request_count.to_string(),
            unidentified_request_period: s.unidentified_request_period.to_string(),
            unidentified_request_prune_interval: s.unidentified_request_prune_interval.to_string(),
            sip_bind_v4: s.sip_bind_v4.to_string(),
            sip_bind_v6: s.sip_bind_v6.map(|a| a.to_string()).unwrap_or_default(),
            sip_port: s.sip_port.to_string(),
            tls_cert_file,
            tls_key_file,
            tls_port: s.tls_port.to_string(),
            default_endpoint_networks: s.default_endpoint_networks.join(", "),
            national_patterns: s.national_patterns.join(", "),
            international_patterns: s.international_patterns.join(", "),
            emergency_numbers: s.emergency_numbers.join(", "),
            ami_bind: s.ami_bind.to_string(),
            ami_port: s.ami_port.to_string(),
            ami_auth_timeout: s.ami_auth_timeout.to_string(),
            ami_auth_limit: s.ami_auth_limit.to_string(),
            guard_ami_user: s.guard_ami_user,
            guard_ami_permit: s.guard_ami_permit.join(", "),
            apply_ami_user: s.apply_ami_user,
            custom_dialplan: s.custom_dialplan,
        },
        version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_lists_split_on_commas_blanks_and_lines() {
        assert_eq!(
            list(" 10.0.0.0/8,192.168.1.0/24\n fd00::/8 ,, "),
            ["10.0.0.0/8", "192.168.1.0/24", "fd00::/8"]
        );
    }

    #[test]
    fn a_word_for_a_number_names_the_field() {
        let form = EndpointForm {
            extension: "1001".into(),
            display_name: "A".into(),
            max_calls: "two".into(),
            ..EndpointForm::new_defaults()
        };
        let e = new_endpoint(form, None).unwrap_err();
        assert_eq!(e.field(), "max_calls");
    }

    #[test]
    fn an_unknown_codec_is_refused_with_its_position() {
        let form = EndpointForm {
            codecs: "ulaw, speex".into(),
            ..EndpointForm::new_defaults()
        };
        let e = new_endpoint(form, None).unwrap_err();
        assert_eq!(e.field(), "codecs[1]");
        assert!(e.rule().contains("ulaw"), "{}", e.rule());
    }

    #[test]
    fn did_routes_read_one_per_line() {
        let routes = did_routes("4930123=1001\n 4930124 -> 1002 \n\n").unwrap();
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[1].did, "4930124");
        assert_eq!(routes[1].extension, "1002");
        assert_eq!(did_routes("nonsense").unwrap_err().field(), "dids[0]");
    }

    #[test]
    fn the_policy_form_round_trips_the_defaults() {
        let defaults = PolicySettings::default();
        let data = policy_data((defaults.clone(), 1));
        assert_eq!(policy_settings(data.form).unwrap(), defaults);
    }
}
