//! The hardening policy: loading it for the model, reading and replacing it.

use super::{
    Action, Admin, ConnectionTrait, Core, DatabaseConnection, GlobalPolicy, Internal, OnConflict,
    OsRng, PbxError, PolicySettings, Set, Utc, audited, check_version, pbx_policy, to_json, write,
};
use sea_orm::EntityTrait;

/// The stored policy, created with defaults (and freshly generated secrets for sipwarden's
/// own AMI accounts) on first use.
pub async fn load_policy(db: &impl ConnectionTrait) -> Result<(GlobalPolicy, i32), Internal> {
    if let Some(row) = pbx_policy::Entity::find_by_id(1).one(db).await? {
        let settings: PolicySettings = serde_json::from_str(&row.body)
            .map_err(|e| Internal::Corrupt(format!("pbx_policy: {e}")))?;
        let policy = GlobalPolicy::new(settings, &mut OsRng)
            .map_err(|e| Internal::Corrupt(format!("pbx_policy: {e}")))?;
        return Ok((policy, row.version));
    }
    let policy = GlobalPolicy::new(PolicySettings::default(), &mut OsRng)
        .map_err(|e| Internal::Corrupt(format!("default policy: {e}")))?;
    let row = pbx_policy::ActiveModel {
        id: Set(1),
        body: Set(to_json(&policy.settings())?),
        version: Set(1),
        updated_at: Set(Utc::now()),
    };
    // Two first readers racing: the second insert is ignored and both read the winner.
    pbx_policy::Entity::insert(row)
        .on_conflict(
            OnConflict::column(pbx_policy::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec(db)
        .await?;
    Box::pin(load_policy(db)).await
}

/// The policy as the API shows it: sipwarden's own AMI secrets are left out (a `PUT` without
/// them keeps them).
pub async fn get_policy(db: &DatabaseConnection) -> Result<(PolicySettings, i32), PbxError> {
    let (policy, version) = load_policy(db).await?;
    let mut settings = policy.settings();
    settings.guard_ami_secret = None;
    settings.apply_ami_secret = None;
    Ok((settings, version))
}

/// Replaces the policy. Secrets of sipwarden's own AMI accounts that are left out are kept.
/// A realm change is refused while endpoints hold digests made for the old realm.
pub async fn update_policy(
    core: &Core,
    admin: &Admin,
    mut settings: PolicySettings,
    expected: Option<i32>,
) -> Result<(PolicySettings, i32), PbxError> {
    let outcome = write(core, move |txn, mut stored| {
        Box::pin(async move {
            let current = stored.policy.settings();
            if settings.guard_ami_secret.is_none() {
                settings.guard_ami_secret = current.guard_ami_secret;
            }
            if settings.apply_ami_secret.is_none() {
                settings.apply_ami_secret = current.apply_ami_secret;
            }
            let policy = GlobalPolicy::new(settings, &mut OsRng)?;
            let row = pbx_policy::Entity::find_by_id(1)
                .one(txn)
                .await?
                .ok_or_else(|| Internal::Corrupt("pbx_policy row vanished".to_owned()))?;
            check_version(expected, row.version)?;
            let version = row.version + 1;
            pbx_policy::Entity::update(pbx_policy::ActiveModel {
                id: Set(1),
                body: Set(to_json(&policy.settings())?),
                version: Set(version),
                updated_at: Set(Utc::now()),
            })
            .exec(txn)
            .await?;
            let mut shown = policy.settings();
            shown.guard_ami_secret = None;
            shown.apply_ami_secret = None;
            stored.policy = policy;
            Ok((stored, (shown, version)))
        })
    })
    .await;
    audited(
        core,
        admin,
        Action::PolicyUpdate,
        "policy".to_owned(),
        outcome,
    )
    .await
}
