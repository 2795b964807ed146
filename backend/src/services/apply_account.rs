//! AMI as sipwarden's apply account: applies, and the questions the console asks Asterisk
//! (registered contacts for the lockout preview, trunks' registrations). A module of its
//! own, so that none of those services depends on another for a login.

use std::net::SocketAddr;
use std::time::Duration;

use policy::asterisk::GlobalPolicy;

use crate::asterisk::ami::{AmiClient, AmiError};
use crate::core::Core;

/// Logs in as the apply account of `policy`, waiting at most `timeout` per answer.
pub(crate) async fn login(
    core: &Core,
    policy: &GlobalPolicy,
    timeout: Duration,
) -> Result<AmiClient, AmiError> {
    let account = policy.apply_account();
    let addr = SocketAddr::new(core.config.asterisk_ami_host, policy.ami_port());
    AmiClient::login(
        addr,
        account.name().as_str(),
        account.secret().as_str(),
        timeout,
    )
    .await
}
