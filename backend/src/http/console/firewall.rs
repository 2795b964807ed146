//! The backend side of the console's firewall pages: [`app::ssr::firewall::FirewallConsole`]
//! over the firewall service.

use http::request::Parts;

use app::form::{ActionError, ConsoleError};
use wire::firewall::{
    AllowlistView, BanAdded, BanView, FirewallApplied, FirewallPage, FirewallPolicy,
};

use super::{ConsoleService, admin, caller, internal};
use crate::services::firewall::{self, BanOrigin, FirewallServiceError, NewAllow, NewBan};

impl From<FirewallServiceError> for ConsoleError {
    fn from(e: FirewallServiceError) -> Self {
        match e {
            FirewallServiceError::Invalid(_) => ConsoleError::FirewallPolicyInvalid,
            FirewallServiceError::BadValue { field, .. } => match field {
                "address" => ConsoleError::BadAddress,
                "hours" | "note" => ConsoleError::BadAllow,
                _ => ConsoleError::BadBan,
            },
            FirewallServiceError::NotBannable(_) => ConsoleError::NotBannable,
            FirewallServiceError::AlreadyTrusted(_) => ConsoleError::AlreadyTrusted,
            FirewallServiceError::WouldLockOut(_) => ConsoleError::WouldLockOut,
            FirewallServiceError::NothingPending => ConsoleError::NothingPending,
            // The console never sends If-Match.
            FirewallServiceError::Stale { .. } => ConsoleError::BadRequest,
            FirewallServiceError::NotFound(_) => ConsoleError::NotListed,
            FirewallServiceError::Kernel(e) => {
                tracing::error!(error = %e, "kernel firewall");
                ConsoleError::FirewallUnavailable
            }
            FirewallServiceError::Internal(e) => internal(e),
        }
    }
}

#[async_trait::async_trait]
impl app::ssr::firewall::FirewallConsole for ConsoleService {
    async fn firewall(&self, req: &Parts) -> Result<FirewallPage, ConsoleError> {
        caller(req)?;
        firewall::page(self.state()).await.map_err(internal)
    }

    async fn save_firewall(
        &self,
        req: &Parts,
        csrf: String,
        settings: FirewallPolicy,
    ) -> Result<(), ActionError> {
        let admin = admin(req, &csrf)?;
        let (stored, _) = firewall::load_policy(&self.state().db)
            .await
            .map_err(internal)?;
        let raw = firewall::with_settings(stored.policy(), settings);
        match firewall::update_policy(self.state(), &admin, raw, None).await {
            Ok(_) => Ok(()),
            // The form can name the field (the REST API does too).
            Err(FirewallServiceError::Invalid(e)) => {
                Err(ActionError::invalid(e.field(), e.to_string()))
            }
            Err(e) => Err(ActionError::Console(e.into())),
        }
    }

    async fn apply_firewall(
        &self,
        req: &Parts,
        csrf: String,
        force: bool,
    ) -> Result<FirewallApplied, ConsoleError> {
        let admin = admin(req, &csrf)?;
        Ok(firewall::apply(self.state(), &admin, force).await?)
    }

    async fn confirm_firewall(&self, req: &Parts, csrf: String) -> Result<(), ConsoleError> {
        let admin = admin(req, &csrf)?;
        Ok(firewall::confirm(self.state(), &admin).await?)
    }

    async fn revert_firewall(&self, req: &Parts, csrf: String) -> Result<(), ConsoleError> {
        let admin = admin(req, &csrf)?;
        Ok(firewall::revert(self.state(), &admin).await?)
    }

    async fn bans(&self, req: &Parts) -> Result<Vec<BanView>, ConsoleError> {
        caller(req)?;
        firewall::bans(self.state()).await.map_err(internal)
    }

    async fn add_ban(
        &self,
        req: &Parts,
        csrf: String,
        address: String,
        duration_secs: u32,
        reason: String,
    ) -> Result<BanAdded, ConsoleError> {
        let admin = admin(req, &csrf)?;
        let new = NewBan {
            address,
            duration_secs: Some(duration_secs),
            reason,
        };
        Ok(firewall::ban(self.state(), BanOrigin::Admin(&admin), new).await?)
    }

    async fn remove_ban(
        &self,
        req: &Parts,
        csrf: String,
        address: String,
    ) -> Result<(), ConsoleError> {
        let admin = admin(req, &csrf)?;
        Ok(firewall::unban(self.state(), &admin, &address).await?)
    }

    async fn allowlist(&self, req: &Parts) -> Result<AllowlistView, ConsoleError> {
        let caller = caller(req)?;
        firewall::allowlist(self.state(), caller.source_ip)
            .await
            .map_err(internal)
    }

    async fn add_allow(
        &self,
        req: &Parts,
        csrf: String,
        address: String,
        hours: u32,
        note: String,
    ) -> Result<(), ConsoleError> {
        let admin = admin(req, &csrf)?;
        let new = NewAllow {
            address: Some(address),
            hours,
            note,
        };
        firewall::allow(self.state(), &admin, new).await?;
        Ok(())
    }

    async fn remove_allow(
        &self,
        req: &Parts,
        csrf: String,
        address: String,
    ) -> Result<(), ConsoleError> {
        let admin = admin(req, &csrf)?;
        Ok(firewall::disallow(self.state(), &admin, &address).await?)
    }
}
