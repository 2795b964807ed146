//! `manager.conf` (step 4): AMI on loopback unless the policy says otherwise, per-user
//! ACLs, and the guard's own read-only account.

use super::Revision;
use super::writer::ConfWriter;
use crate::asterisk::ami::AmiClass;
use crate::asterisk::net::Acl;
use crate::asterisk::pbx::PbxModel;

/// What the apply account may do: `Reload` and `ShowDialPlan` (config), `PJSIPShow*`
/// (system; also `PJSIPShowRegistrationsOutbound` for the trunks' registration state and
/// `PJSIPRegister` to restart one, whose list answers need no read class), `manager show
/// user` through `Command` (command), and `Hangup` (call) for the calls of an account the
/// fraud rules lock.
pub(crate) const APPLY_WRITE_CLASSES: &str = "system,config,command,call";

fn write_acl(w: &mut ConfWriter, acl: &Acl) {
    for (rule, network) in acl.rules() {
        w.set(rule, &network);
    }
}

fn class_list(classes: &[AmiClass]) -> String {
    // No spaces after commas: manager.c matches comma tokens literally.
    classes
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn render_manager(model: &PbxModel, revision: Revision) -> String {
    let policy = model.policy();
    let mut w = ConfWriter::new(
        "manager.conf",
        revision,
        512 * model.ami_users().len() + 2048,
    );
    w.section("general");
    w.set("enabled", "yes");
    w.set("webenabled", "no");
    w.comment(
        "Without bindaddr AMI listens on every address; loopback unless the policy says otherwise.",
    );
    w.set("bindaddr", &policy.ami_bind().to_string());
    w.set("port", &policy.ami_port().to_string());
    w.set("displayconnects", "no");
    let (timeout, limit) = policy.ami_auth();
    w.comment("Defaults are 30 s and 50 sessions: far more than a login needs.");
    w.set("authtimeout", &timeout.to_string());
    w.set("authlimit", &limit.to_string());

    let guard = policy.guard();
    w.section(guard.name().as_str());
    w.comment("sipwarden's guard: receives security events and can do nothing else.");
    w.set("secret", guard.secret().as_str());
    write_acl(&mut w, guard.acl());
    w.set("read", "security");
    w.set("write", "");

    let apply = policy.apply_account();
    w.section(apply.name().as_str());
    w.comment("sipwarden's apply pipeline: reloads modules and checks what Asterisk loaded.");
    w.comment("These classes amount to root, like the config files sipwarden writes anyway.");
    w.set("secret", apply.secret().as_str());
    write_acl(&mut w, apply.acl());
    w.set("read", "");
    w.set("write", APPLY_WRITE_CLASSES);

    for user in model.ami_users() {
        w.section(user.name().as_str());
        let dangerous = user.dangerous_classes();
        if !dangerous.is_empty() {
            w.comment(&format!(
                "DANGEROUS: {} amount to root on this PBX; granted explicitly.",
                class_list(&dangerous)
            ));
        }
        w.set("secret", user.secret().as_str());
        write_acl(&mut w, user.acl());
        w.set("read", &class_list(user.read()));
        w.set("write", &class_list(user.write()));
    }
    w.finish()
}
