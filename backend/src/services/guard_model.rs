//! What the running guard judges by, assembled from everything stored: the PBX (accounts and
//! their networks and calling classes, trunks and their DIDs, the national, international
//! and emergency numbers), the networks the firewall trusts with the temporary allowlist, and
//! the host's gateways and resolvers. Rebuilt whenever any of it changes.

use chrono::Utc;
use ipnet::IpNet;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use policy::guard::GuardModel;

use crate::db::entities::allow_entry;
use crate::services::{Internal, firewall, pbx};

/// The model of what is stored now; `infrastructure` are the host's gateways and resolvers.
pub async fn build(
    db: &impl sea_orm::ConnectionTrait,
    infrastructure: Vec<IpNet>,
) -> Result<GuardModel, Internal> {
    let stored = pbx::load_all(db).await?;
    let (firewall_policy, _) = firewall::load_policy(db).await?;
    let mut trusted = firewall_policy.pinned_allow();
    let allows = allow_entry::Entity::find()
        .filter(allow_entry::Column::ExpiresAt.gt(Utc::now()))
        .all(db)
        .await?;
    trusted.extend(
        allows
            .iter()
            .filter_map(|a| a.address.parse::<std::net::IpAddr>().ok())
            .map(IpNet::from),
    );
    Ok(
        GuardModel::from_pbx(&stored.policy, &stored.endpoints, &stored.trunks)
            .with_trusted(trusted)
            .with_infrastructure(infrastructure),
    )
}
