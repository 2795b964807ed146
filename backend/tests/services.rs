//! The services in-process, on a real SQLite file in a temporary directory: the PBX model
//! (endpoints, trunks, AMI users, the policy), the configuration (preview, revisions, an apply
//! without Asterisk), console accounts (sign-in throttle, setup, passwords, sessions) and API
//! tokens. The same rules `tests/tests/{pbx_http,api_tokens,console_http}.rs` check over HTTP,
//! without a server process: each test builds its own `Core` with `core()`.
//!
//! Nothing here touches the machine: the data directory (and so the Asterisk configuration
//! directory) is a temporary one, the firewall services are never called, and the one apply
//! aims AMI at a port this test holds bound but never listens on.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::net::IpAddr;
use std::time::Duration;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use tempfile::TempDir;

use backend::auth::session::{COOKIE_NAME, token_hash};
use backend::auth::sign_in::{SetupToken, SignInThrottle, USERNAME_DELAY_MAX};
use backend::auth::{Admin, Caller};
use backend::config::Config;
use backend::core::Core;
use backend::db::entities::{api_token, audit_log, endpoint, session, user};
use backend::services::accounts::{self, AccountError, Actor, SetupForm};
use backend::services::config as config_service;
use backend::services::pbx::{self, PbxError};
use backend::services::tokens::{self, NewToken, TokenError};
use policy::asterisk::{AmiClass, NewAmiUser, NewDidRoute, NewEndpoint, NewRegistration, NewTrunk};
use wire::Role;

/// The administrator every test that needs one signs in as.
const ADMIN: &str = "ada";
const ADMIN_PASSWORD: &str = "a long admin passphrase";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A core over a freshly migrated database in a temporary data directory (kept alive by the
/// returned `TempDir`).
async fn core() -> (TempDir, Core) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        // An apply that cannot reach AMI gives up quickly.
        asterisk_ami_timeout_secs: 2,
        ..Config::default()
    };
    let db = backend::db::open_and_migrate(&config.database_path())
        .await
        .unwrap();
    let events = backend::services::events::spawn(db.clone());
    (dir, Core::new(db, config, events))
}

/// The session token inside a `Set-Cookie` value.
fn cookie_token(set_cookie: &str) -> String {
    let first = set_cookie.split(';').next().unwrap();
    first
        .strip_prefix(&format!("{COOKIE_NAME}="))
        .unwrap()
        .to_owned()
}

/// Signs in through the service and resolves the session like a request would: the session
/// token and the caller behind it.
async fn session_of(core: &Core, username: &str, password: &str, from: IpAddr) -> (String, Caller) {
    let throttle = SignInThrottle::default();
    let new = accounts::sign_in(core, &throttle, username, password, from)
        .await
        .unwrap();
    let token = cookie_token(&new.set_cookie);
    let caller = accounts::caller_from_token(core, &token, from, true)
        .await
        .unwrap()
        .expect("a fresh session admits its caller");
    (token, caller)
}

/// Creates the administrator (as `sipwarden admin create` does) and signs in as them.
async fn admin(core: &Core) -> Admin {
    accounts::create_user(
        &core.db,
        Actor::CommandLine,
        ADMIN,
        ADMIN_PASSWORD,
        Role::Admin,
    )
    .await
    .unwrap();
    let (_, caller) = session_of(core, ADMIN, ADMIN_PASSWORD, ip("192.0.2.10")).await;
    caller.admin().expect("an admin's caller is an Admin")
}

fn new_endpoint(extension: &str, name: &str) -> NewEndpoint {
    NewEndpoint {
        extension: extension.to_owned(),
        display_name: name.to_owned(),
        ..NewEndpoint::default()
    }
}

/// The audit log, oldest first.
async fn audit(core: &Core) -> Vec<audit_log::Model> {
    audit_log::Entity::find()
        .order_by_asc(audit_log::Column::Id)
        .all(&core.db)
        .await
        .unwrap()
}

/// The audit lines of one action as `(outcome, detail)`.
async fn audited(core: &Core, action: &str) -> Vec<(String, String)> {
    audit(core)
        .await
        .into_iter()
        .filter(|r| r.action == action)
        .map(|r| (r.outcome, r.detail))
        .collect()
}

/// The outcomes (`success`, `failure`) of one action's audit lines, oldest first.
async fn outcomes(core: &Core, action: &str) -> Vec<String> {
    audited(core, action)
        .await
        .into_iter()
        .map(|(o, _)| o)
        .collect()
}

/// Whether the database file or its write-ahead log holds `needle` anywhere.
fn database_holds(dir: &TempDir, needle: &str) -> bool {
    let base = dir.path().join("sipwarden.sqlite3");
    let wal = dir.path().join("sipwarden.sqlite3-wal");
    [base, wal].iter().any(|path| {
        let bytes = std::fs::read(path).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

fn account_error_code(e: &AccountError) -> &'static str {
    match e {
        AccountError::Rejected(e) => e.code(),
        AccountError::Throttled(_) => "throttled",
        AccountError::Internal(_) => "internal",
    }
}

// ---------------------------------------------------------------------------------------
// PBX model
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_endpoint_secret_is_returned_once_and_stored_only_as_a_digest() {
    let (dir, core) = core().await;
    let admin = admin(&core).await;
    let before = core.model.current();

    let created = pbx::create_endpoint(&core, &admin, new_endpoint("1001", "Alice"))
        .await
        .unwrap();
    let secret = created.secret.clone();
    let id = created.object.id.clone();
    assert!(secret.len() >= 20, "{secret}");
    assert_ne!(id, "1001", "the id is generated, never the extension");
    assert_eq!(created.object.version, 1);
    assert!(
        created.object.permit.iter().all(|n| n != "0.0.0.0/0"),
        "deny by default: {:?}",
        created.object.permit
    );
    assert_eq!(core.model.current(), before + 1, "a committed change bumps");

    // Read back: the view has no secret to show, and the row holds only the digest.
    let shown = pbx::get_endpoint(&core.db, &id).await.unwrap();
    assert_eq!(shown.extension, "1001");
    let row = endpoint::Entity::find_by_id(id.clone())
        .one(&core.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!row.body.contains(&secret), "plain secret in {}", row.body);
    assert!(row.body.contains("ha1"), "{}", row.body);
    assert!(
        database_holds(&dir, &id),
        "the scan finds what is stored (control)"
    );
    assert!(
        !database_holds(&dir, &secret),
        "the plain secret is in the database file"
    );

    let lines = audited(&core, "endpoint_create").await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].0, "success");
    assert!(lines[0].1.contains("1001") && lines[0].1.contains(&id));
    assert!(
        audit(&core)
            .await
            .iter()
            .all(|r| !r.detail.contains(&secret))
    );
}

#[tokio::test]
async fn a_duplicate_extension_is_a_conflict_naming_it_and_nothing_changes() {
    let (_dir, core) = core().await;
    let admin = admin(&core).await;
    pbx::create_endpoint(&core, &admin, new_endpoint("1001", "Alice"))
        .await
        .unwrap();
    let version = core.model.current();

    let err = pbx::create_endpoint(&core, &admin, new_endpoint("1001", "Mallory"))
        .await
        .unwrap_err();
    match &err {
        PbxError::Conflict(reasons) => {
            assert!(reasons.iter().any(|r| r.contains("1001")), "{reasons:?}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        core.model.current(),
        version,
        "a refused change does not bump"
    );
    let list = pbx::list_endpoints(&core.db, None, None, 50).await.unwrap();
    assert_eq!(list.total, 1);
    assert_eq!(list.items[0].display_name, "Alice");

    // The refusal is audited as a failure with its reason.
    let lines = audited(&core, "endpoint_create").await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1].0, "failure");
    assert!(lines[1].1.contains("already exists"), "{lines:?}");
}

#[tokio::test]
async fn bad_endpoint_input_names_the_field_and_stores_nothing() {
    let (_dir, core) = core().await;
    let admin = admin(&core).await;
    let version = core.model.current();
    let cases = [
        (new_endpoint("12a", "X"), "extension"),
        (new_endpoint("1001", "Eve\n[evil]"), "display_name"),
        (
            NewEndpoint {
                permit: vec!["0.0.0.0/0".to_owned()],
                ..new_endpoint("1001", "Eve")
            },
            "permit[0]",
        ),
        (
            NewEndpoint {
                secret: Some("password123".to_owned()),
                ..new_endpoint("1001", "Eve")
            },
            "secret",
        ),
        (
            NewEndpoint {
                max_calls: 0,
                ..new_endpoint("1001", "Eve")
            },
            "max_calls",
        ),
    ];
    for (new, field) in cases {
        match pbx::create_endpoint(&core, &admin, new).await {
            Err(PbxError::Invalid(e)) => assert_eq!(e.field(), field, "{e}"),
            other => panic!("{field}: expected an invalid field, got {other:?}"),
        }
    }
    assert_eq!(core.model.current(), version);
    let list = pbx::list_endpoints(&core.db, None, None, 50).await.unwrap();
    assert_eq!(list.total, 0);
}

#[tokio::test]
async fn an_update_against_a_stale_version_is_refused_and_changes_nothing() {
    let (_dir, core) = core().await;
    let admin = admin(&core).await;
    let alice = pbx::create_endpoint(&core, &admin, new_endpoint("1001", "Alice"))
        .await
        .unwrap()
        .object;
    pbx::create_endpoint(&core, &admin, new_endpoint("200", "Bob"))
        .await
        .unwrap();

    let edited = pbx::update_endpoint(
        &core,
        &admin,
        &alice.id,
        NewEndpoint {
            max_calls: 3,
            ..new_endpoint("1002", "Alice B")
        },
        Some(1),
    )
    .await
    .unwrap();
    assert_eq!(edited.id, alice.id, "the id survives an edit");
    assert_eq!(edited.version, 2);
    assert_eq!(edited.max_calls, 3);
    let version = core.model.current();

    // Someone else's view of version 1 is refused (If-Match).
    let err = pbx::update_endpoint(
        &core,
        &admin,
        &alice.id,
        new_endpoint("1003", "Overwritten"),
        Some(1),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            PbxError::Stale {
                expected: 1,
                current: 2
            }
        ),
        "{err:?}"
    );
    // Moving onto another endpoint's extension is a conflict naming it.
    let err = pbx::update_endpoint(&core, &admin, &alice.id, new_endpoint("200", "Alice"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PbxError::Conflict(r) if r.iter().any(|r| r.contains("200"))),
        "{err:?}"
    );
    assert_eq!(core.model.current(), version, "refusals do not bump");
    let stored = pbx::get_endpoint(&core.db, &alice.id).await.unwrap();
    assert_eq!(
        (stored.extension.as_str(), stored.display_name.as_str()),
        ("1002", "Alice B")
    );
    assert_eq!(stored.version, 2);
    assert_eq!(
        outcomes(&core, "endpoint_update").await,
        ["success", "failure", "failure"]
    );
}

#[tokio::test]
async fn a_rotated_secret_is_new_each_time_and_a_weak_typed_one_is_refused() {
    let (dir, core) = core().await;
    let admin = admin(&core).await;
    let created = pbx::create_endpoint(&core, &admin, new_endpoint("1001", "Alice"))
        .await
        .unwrap();
    let id = created.object.id;
    let first = pbx::rotate_endpoint_secret(&core, &admin, &id, None)
        .await
        .unwrap();
    let second = pbx::rotate_endpoint_secret(&core, &admin, &id, None)
        .await
        .unwrap();
    assert_ne!(first.secret, second.secret);
    assert_ne!(first.secret, created.secret);
    assert_eq!(second.object.version, 3);
    assert!(!database_holds(&dir, &second.secret));

    let version = core.model.current();
    let err = pbx::rotate_endpoint_secret(&core, &admin, &id, Some("qwertyuiopasdfgh".to_owned()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PbxError::Invalid(e) if e.field() == "secret"),
        "{err:?}"
    );
    assert_eq!(core.model.current(), version);
    assert_eq!(pbx::get_endpoint(&core.db, &id).await.unwrap().version, 3);
    // The refusal is audited with its reason, never with the typed secret.
    let lines = audited(&core, "endpoint_rotate_secret").await;
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[2].0, "failure");
    assert!(lines.iter().all(|(_, d)| !d.contains("qwertyuiopasdfgh")));
}

#[tokio::test]
async fn a_deleted_endpoint_is_not_found_and_deleting_it_again_is_not_found_either() {
    let (_dir, core) = core().await;
    let admin = admin(&core).await;
    let id = pbx::create_endpoint(&core, &admin, new_endpoint("1001", "Alice"))
        .await
        .unwrap()
        .object
        .id;
    let version = core.model.current();
    pbx::delete_endpoint(&core, &admin, &id).await.unwrap();
    assert_eq!(core.model.current(), version + 1);

    let err = pbx::get_endpoint(&core.db, &id).await.unwrap_err();
    assert!(
        matches!(&err, PbxError::NotFound { kind: "endpoint", key } if *key == id),
        "{err:?}"
    );
    let err = pbx::delete_endpoint(&core, &admin, &id).await.unwrap_err();
    assert!(matches!(err, PbxError::NotFound { .. }), "{err:?}");
    assert_eq!(core.model.current(), version + 1);
    assert_eq!(
        outcomes(&core, "endpoint_delete").await,
        ["success", "failure"]
    );
}

#[tokio::test]
async fn a_trunk_routes_only_to_existing_extensions_which_then_cannot_be_deleted() {
    let (_dir, core) = core().await;
    let admin = admin(&core).await;
    let alice = pbx::create_endpoint(&core, &admin, new_endpoint("1001", "Alice"))
        .await
        .unwrap()
        .object;
    let trunk = |extension: &str| NewTrunk {
        name: "carrier".to_owned(),
        peer: "203.0.113.5".to_owned(),
        outbound: true,
        dids: vec![NewDidRoute {
            did: "4930123456".to_owned(),
            extension: extension.to_owned(),
        }],
        ..NewTrunk::default()
    };
    let version = core.model.current();
    let err = pbx::create_trunk(&core, &admin, trunk("1999"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PbxError::Conflict(r) if r.iter().any(|r| r.contains("1999"))),
        "{err:?}"
    );
    assert_eq!(core.model.current(), version);
    assert!(matches!(
        pbx::get_trunk(&core, "carrier").await,
        Err(PbxError::NotFound { .. })
    ));

    let created = pbx::create_trunk(&core, &admin, trunk("1001"))
        .await
        .unwrap();
    assert_eq!(created.sources, ["203.0.113.5/32"]);
    assert_eq!(core.model.current(), version + 1);

    // The routed extension cannot disappear under the trunk.
    let err = pbx::delete_endpoint(&core, &admin, &alice.id)
        .await
        .unwrap_err();
    assert!(matches!(err, PbxError::Conflict(_)), "{err:?}");
    assert!(pbx::get_endpoint(&core.db, &alice.id).await.is_ok());
    assert_eq!(core.model.current(), version + 1);

    // A trunk keeps its name.
    let err = pbx::update_trunk(
        &core,
        &admin,
        "carrier",
        NewTrunk {
            name: "renamed".to_owned(),
            ..trunk("1001")
        },
        Some(1),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, PbxError::Invalid(e) if e.field() == "name"),
        "{err:?}"
    );
    // Once the trunk is gone, so is the pin.
    pbx::delete_trunk(&core, &admin, "carrier").await.unwrap();
    pbx::delete_endpoint(&core, &admin, &alice.id)
        .await
        .unwrap();
}

#[tokio::test]
async fn ami_users_need_consent_for_dangerous_classes_and_cannot_take_sipwardens_names() {
    let (_dir, core) = core().await;
    let admin = admin(&core).await;
    let crm = |allow_dangerous| NewAmiUser {
        name: "crm".to_owned(),
        read: vec![AmiClass::Call],
        write: vec![AmiClass::Originate],
        allow_dangerous,
        ..NewAmiUser::default()
    };
    let err = pbx::create_ami_user(&core, &admin, crm(false))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PbxError::Invalid(e) if e.field() == "write[0]"),
        "{err:?}"
    );
    let created = pbx::create_ami_user(&core, &admin, crm(true))
        .await
        .unwrap();
    assert_eq!(created.object.dangerous, ["originate"]);
    assert!(created.secret.len() >= 20);
    assert_eq!(pbx::get_ami_user(&core.db, "crm").await.unwrap().version, 1);

    // Names are case-insensitively unique, and sipwarden's own accounts are taken.
    let err = pbx::create_ami_user(
        &core,
        &admin,
        NewAmiUser {
            name: "sipwarden-apply".to_owned(),
            ..NewAmiUser::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PbxError::Conflict(_)), "{err:?}");

    // An edit cannot smuggle in a secret; rotating gives a new one.
    let err = pbx::update_ami_user(
        &core,
        &admin,
        "crm",
        NewAmiUser {
            secret: Some("a typed secret of some length".to_owned()),
            ..crm(true)
        },
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, PbxError::Invalid(e) if e.field() == "secret"),
        "{err:?}"
    );
    let rotated = pbx::rotate_ami_secret(&core, &admin, "crm", None)
        .await
        .unwrap();
    assert_ne!(rotated.secret, created.secret);
    assert_eq!(rotated.object.version, 2);
}

#[tokio::test]
async fn the_policy_hides_own_secrets_keeps_them_and_refuses_a_realm_that_orphans_digests() {
    let (_dir, core) = core().await;
    let admin = admin(&core).await;
    let (settings, version) = pbx::get_policy(&core.db).await.unwrap();
    assert!(settings.guard_ami_secret.is_none() && settings.apply_ami_secret.is_none());
    let (stored, _) = pbx::load_policy(&core.db).await.unwrap();
    let apply_secret = stored.apply_account().secret().as_str().to_owned();

    // A change without the own secrets keeps them.
    let changed = policy::asterisk::PolicySettings {
        user_agent: "Office PBX".to_owned(),
        ..settings.clone()
    };
    let (after, new_version) = pbx::update_policy(&core, &admin, changed.clone(), Some(version))
        .await
        .unwrap();
    assert_eq!(after.user_agent, "Office PBX");
    assert_eq!(new_version, version + 1);
    assert!(after.apply_ami_secret.is_none(), "not shown in the answer");
    let (stored, _) = pbx::load_policy(&core.db).await.unwrap();
    assert_eq!(stored.apply_account().secret().as_str(), apply_secret);

    // Stale, then a realm that the stored digest was not made for.
    let err = pbx::update_policy(&core, &admin, changed.clone(), Some(version))
        .await
        .unwrap_err();
    assert!(matches!(err, PbxError::Stale { .. }), "{err:?}");
    pbx::create_endpoint(&core, &admin, new_endpoint("1001", "Alice"))
        .await
        .unwrap();
    let bumped = core.model.current();
    let err = pbx::update_policy(
        &core,
        &admin,
        policy::asterisk::PolicySettings {
            realm: "other.example".to_owned(),
            ..changed
        },
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PbxError::Conflict(_)), "{err:?}");
    assert_eq!(core.model.current(), bumped);
    let (still, still_version) = pbx::get_policy(&core.db).await.unwrap();
    assert_eq!(still.realm, settings.realm);
    assert_eq!(still_version, version + 1);
    assert_eq!(
        outcomes(&core, "policy_update").await,
        ["success", "failure", "failure"]
    );
}

#[tokio::test]
async fn concurrent_creates_of_one_extension_admit_exactly_one() {
    let (_dir, core) = core().await;
    let admin = admin(&core).await;
    let version = core.model.current();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..8 {
        let (core, admin) = (core.clone(), admin.clone());
        tasks.spawn(async move {
            pbx::create_endpoint(&core, &admin, new_endpoint("1001", &format!("Racer {n}"))).await
        });
    }
    let outcomes = tasks.join_all().await;
    let created = outcomes.iter().filter(|o| o.is_ok()).count();
    let conflicts = outcomes
        .iter()
        .filter(|o| matches!(o, Err(PbxError::Conflict(_))))
        .count();
    assert_eq!((created, conflicts), (1, 7), "{outcomes:?}");
    assert_eq!(core.model.current(), version + 1);
    let rows = endpoint::Entity::find().count(&core.db).await.unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn a_viewer_cannot_get_an_admin() {
    let (_dir, core) = core().await;
    let admin = admin(&core).await;
    accounts::create_user(
        &core.db,
        Actor::Admin(&admin.clone().access().unwrap()),
        "val",
        "a long viewer password",
        Role::Viewer,
    )
    .await
    .unwrap();
    let (_, viewer) = session_of(&core, "val", "a long viewer password", ip("192.0.2.20")).await;
    assert_eq!(viewer.role, Role::Viewer);
    assert!(viewer.clone().admin().is_err(), "a viewer is no Admin");
    // Readers still read.
    assert!(pbx::list_endpoints(&core.db, None, None, 10).await.is_ok());

    // Who created the viewer is on record; a second user by that name is refused.
    let lines = audited(&core, "user_create").await;
    assert!(
        lines
            .iter()
            .any(|(o, d)| o == "success" && d.contains("viewer 'val'") && d.contains("API")),
        "{lines:?}"
    );
    let err = accounts::create_user(
        &core.db,
        Actor::Admin(&admin.clone().access().unwrap()),
        "val",
        "another long password",
        Role::Admin,
    )
    .await
    .unwrap_err();
    assert_eq!(account_error_code(&err), "bad_username");
}

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_preview_shows_every_rendered_file_but_never_a_secret() {
    let (_dir, core) = core().await;
    let admin = admin(&core).await;
    let created = pbx::create_endpoint(&core, &admin, new_endpoint("1001", "Alice"))
        .await
        .unwrap();

    let preview = config_service::preview(&core).await.unwrap();
    assert!(preview.changes);
    assert_eq!(preview.live_revision, None);
    let names: Vec<&str> = preview.files.iter().map(|f| f.name.as_str()).collect();
    for expected in ["pjsip.conf", "extensions.conf", "manager.conf"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert!(
        preview.files.iter().all(|f| f.change == "added"),
        "nothing is on disk yet"
    );
    let pjsip = preview
        .files
        .iter()
        .find(|f| f.name == "pjsip.conf")
        .unwrap();
    assert!(
        pjsip.diff.contains(&format!("[{}]", created.object.id)),
        "{}",
        pjsip.diff
    );
    assert!(
        preview
            .files
            .iter()
            .all(|f| !f.diff.contains(&created.secret)),
        "the endpoint's secret is in the preview"
    );

    // The bundle on its own: the same files, and the secret not in any of them either.
    let bundle = config_service::render_current(&core.db, &core.config, config_service::TARGET)
        .await
        .unwrap();
    assert_eq!(bundle.files.len(), preview.files.len());
    assert!(
        bundle
            .files
            .iter()
            .all(|f| !f.contents.contains(&created.secret))
    );
    // What the files hold that is password-equivalent (the endpoint's HA1 digest, the AMI
    // users' secrets) is hidden in the preview: the key shows, the value never does.
    let hidden: Vec<&str> = bundle
        .files
        .iter()
        .flat_map(|f| f.contents.lines())
        .filter_map(|l| {
            let (key, value) = l.split_once('=')?;
            matches!(key.trim(), "secret" | "md5_cred").then_some(value.trim())
        })
        .collect();
    assert!(
        hidden.len() >= 3,
        "the digest and sipwarden's own AMI secrets: {hidden:?}"
    );
    for value in &hidden {
        assert!(
            preview.files.iter().all(|f| !f.diff.contains(value)),
            "a secret value is in the preview"
        );
    }
    assert!(pjsip.diff.contains("md5_cred=(hidden)"), "{}", pjsip.diff);
    assert!(
        config_service::revisions(&core, None, 10)
            .await
            .unwrap()
            .items
            .is_empty(),
        "a preview records no revision"
    );
}

#[tokio::test]
async fn an_apply_without_asterisk_fails_cleanly_and_records_a_failed_revision() {
    let (dir, core) = core().await;
    let admin = admin(&core).await;
    pbx::create_endpoint(&core, &admin, new_endpoint("1001", "Alice"))
        .await
        .unwrap();
    // A port that is bound (so nothing else takes it) but never listened on: connecting to it
    // is refused at once, whatever runs on this machine.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = reserved.local_addr().unwrap().port();
    let (settings, _) = pbx::get_policy(&core.db).await.unwrap();
    pbx::update_policy(
        &core,
        &admin,
        policy::asterisk::PolicySettings {
            ami_port: port,
            ..settings
        },
        None,
    )
    .await
    .unwrap();

    let asterisk = dir.path().join("asterisk");
    std::fs::create_dir_all(&asterisk).unwrap();
    std::fs::write(asterisk.join("pjsip.conf"), "; hand-made\n").unwrap();
    let version = core.model.current();

    let report = config_service::apply(&core, &admin).await.unwrap();
    assert!(!report.applied, "{report:?}");
    assert_eq!(report.revision.status, "failed");
    assert_eq!(report.live_revision, None);
    assert!(
        report.revision.message.contains("AMI")
            && report.revision.message.contains(&port.to_string()),
        "{}",
        report.revision.message
    );
    // The files went in and came out again: what was there before is back, nothing else.
    assert_eq!(
        std::fs::read_to_string(asterisk.join("pjsip.conf")).unwrap(),
        "; hand-made\n"
    );
    assert!(!asterisk.join("manager.conf").exists());
    assert_eq!(core.model.current(), version + 1, "an apply always bumps");

    // Recorded with its files, and audited as a failure.
    let revisions = config_service::revisions(&core, None, 10).await.unwrap();
    assert_eq!(revisions.items.len(), 1);
    assert_eq!(revisions.items[0].status, "failed");
    assert_eq!(revisions.items[0].author, ADMIN);
    let (view, files) = config_service::revision(&core, report.revision.number)
        .await
        .unwrap();
    assert_eq!(view.number, report.revision.number);
    assert!(files.iter().any(|(name, _)| name == "pjsip.conf"));
    assert!(!view.hash.is_empty());
    let lines = audited(&core, "config_apply").await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].0, "failure");

    // Rolling back to it fails the same way, as a new revision that names its source.
    let again = config_service::rollback(&core, &admin, report.revision.number)
        .await
        .unwrap();
    assert!(!again.applied);
    assert_eq!(again.revision.restored_from, Some(report.revision.number));
    assert!(again.revision.number > report.revision.number);
    assert_eq!(
        std::fs::read_to_string(asterisk.join("pjsip.conf")).unwrap(),
        "; hand-made\n"
    );
    let lines = audited(&core, "config_rollback").await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].0, "failure");

    // A rollback to a revision that never existed is not found.
    let err = config_service::rollback(&core, &admin, 999)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PbxError::NotFound {
                kind: "revision",
                ..
            }
        ),
        "{err:?}"
    );
    drop(reserved);
}

// ---------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------

/// The named file of a revision.
async fn revision_file(core: &Core, number: i32, name: &str) -> String {
    let (_, files) = config_service::revision(core, number).await.unwrap();
    files
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("revision {number} has no {name}"))
}

/// Why a rollback to `number` is refused (it must be, with a conflict).
async fn refused_rollback(core: &Core, admin: &Admin, number: i32) -> String {
    let err = config_service::rollback(core, admin, number)
        .await
        .unwrap_err();
    let PbxError::Conflict(reasons) = &err else {
        panic!("{err:?}");
    };
    reasons.join(" ")
}

#[tokio::test]
async fn a_rollback_never_brings_back_a_replaced_or_removed_trunk_password() {
    let (_dir, core) = core().await;
    let admin = admin(&core).await;
    let registering = |secret: Option<&str>| NewTrunk {
        name: "carrier".into(),
        peer: "203.0.113.5".into(),
        registration: Some(NewRegistration {
            username: "4930123400".into(),
            secret: secret.map(str::to_owned),
            ..NewRegistration::default()
        }),
        ..NewTrunk::default()
    };
    pbx::create_trunk(&core, &admin, registering(Some("Old-Pr0vider-Pass")))
        .await
        .unwrap();
    // No Asterisk here: the apply fails, but its revision keeps the files it tried.
    let old = config_service::apply(&core, &admin)
        .await
        .unwrap()
        .revision
        .number;
    assert!(
        revision_file(&core, old, "pjsip.conf")
            .await
            .contains("password=Old-Pr0vider-Pass")
    );

    // Replaced since: refused, naming the section and key, never a value.
    pbx::replace_trunk_secret(&core, &admin, "carrier", "New-Pr0vider-Pass".into())
        .await
        .unwrap();
    let why = refused_rollback(&core, &admin, old).await;
    assert!(why.contains("[carrier] password"), "{why}");
    assert!(!why.contains("Pr0vider-Pass"), "{why}");

    // Registration removed since: refused too (the old password would come back).
    pbx::update_trunk(
        &core,
        &admin,
        "carrier",
        NewTrunk {
            registration: None,
            ..registering(None)
        },
        None,
    )
    .await
    .unwrap();
    let why = refused_rollback(&core, &admin, old).await;
    assert!(why.contains("[carrier] password"), "{why}");
}

#[tokio::test]
async fn a_rollback_never_brings_back_a_rotated_or_deleted_credential() {
    let (_dir, core) = core().await;
    let admin = admin(&core).await;
    let endpoint = pbx::create_endpoint(&core, &admin, new_endpoint("1001", "Alice"))
        .await
        .unwrap();
    let crm = |name: &str| NewAmiUser {
        name: name.to_owned(),
        read: vec![AmiClass::Call],
        ..NewAmiUser::default()
    };
    let first_secret = pbx::create_ami_user(&core, &admin, crm("crm"))
        .await
        .unwrap()
        .secret;
    pbx::create_ami_user(&core, &admin, crm("billing"))
        .await
        .unwrap();
    // No Asterisk here: the apply fails, but its revision keeps the files it tried.
    let old = config_service::apply(&core, &admin)
        .await
        .unwrap()
        .revision
        .number;
    assert!(
        revision_file(&core, old, "manager.conf")
            .await
            .contains(&first_secret)
    );

    // The AMI secret is rotated and another AMI user deleted since.
    let second_secret = pbx::rotate_ami_secret(&core, &admin, "crm", None)
        .await
        .unwrap()
        .secret;
    pbx::delete_ami_user(&core, &admin, "billing")
        .await
        .unwrap();
    let back = config_service::rollback(&core, &admin, old).await.unwrap();
    assert_eq!(back.revision.restored_from, Some(old));
    let manager = revision_file(&core, back.revision.number, "manager.conf").await;
    assert!(
        !manager.contains(&first_secret),
        "the rotated AMI secret came back"
    );
    assert!(
        manager.contains(&second_secret),
        "{}",
        policy::asterisk::redact_secrets(&manager)
    );
    assert!(
        !manager.contains("[billing]"),
        "a deleted AMI user came back"
    );
    // Everything else is the old revision's.
    assert_eq!(
        revision_file(&core, back.revision.number, "pjsip.conf").await,
        revision_file(&core, old, "pjsip.conf").await
    );

    // A SIP secret rotated since: the old pjsip.conf would make it work again. Refused,
    // naming the section and never a value; nothing is recorded.
    pbx::rotate_endpoint_secret(&core, &admin, &endpoint.object.id, None)
        .await
        .unwrap();
    let before = config_service::revisions(&core, None, 100)
        .await
        .unwrap()
        .items
        .len();
    let err = config_service::rollback(&core, &admin, old)
        .await
        .unwrap_err();
    let PbxError::Conflict(reasons) = &err else {
        panic!("{err:?}");
    };
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("pjsip.conf") && r.contains("rotated or deleted since")),
        "{reasons:?}"
    );
    let old_pjsip = revision_file(&core, old, "pjsip.conf").await;
    for credential in policy::asterisk::credentials(&old_pjsip) {
        assert!(
            reasons.iter().any(|r| r.contains(&credential.section)),
            "{reasons:?}"
        );
    }
    assert!(!reasons.join(" ").contains("md5_cred="), "{reasons:?}");
    assert_eq!(
        config_service::revisions(&core, None, 100)
            .await
            .unwrap()
            .items
            .len(),
        before
    );
}

#[tokio::test]
async fn sign_in_is_throttled_without_checking_the_password_per_address_and_username() {
    let (_dir, core) = core().await;
    accounts::create_user(
        &core.db,
        Actor::CommandLine,
        ADMIN,
        ADMIN_PASSWORD,
        Role::Admin,
    )
    .await
    .unwrap();
    let throttle = SignInThrottle::default();
    let (office, home) = (ip("198.51.100.7"), ip("192.0.2.44"));

    // Three failures are free; the fourth imposes a wait (1 s).
    for _ in 0..4 {
        let err = accounts::sign_in(&core, &throttle, ADMIN, "wrong password!", office)
            .await
            .unwrap_err();
        assert_eq!(account_error_code(&err), "bad_credentials");
    }
    // During the wait the office's address is refused, even with the right password.
    let err = accounts::sign_in(&core, &throttle, ADMIN, ADMIN_PASSWORD, office)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AccountError::Throttled(wait) if wait <= Duration::from_secs(1)),
        "{err:?}"
    );
    // From elsewhere the right password signs in: the account's failures slow it (by the
    // account's wait, at most USERNAME_DELAY_MAX), they never lock the real owner out.
    let started = std::time::Instant::now();
    accounts::sign_in(&core, &throttle, ADMIN, ADMIN_PASSWORD, home)
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(500), "slowed");
    assert!(started.elapsed() <= USERNAME_DELAY_MAX + Duration::from_secs(2));
    let lines = audited(&core, "sign_in").await;
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert_eq!(
        lines.iter().filter(|(o, _)| o == "failure").count(),
        5,
        "{lines:?}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|(_, d)| d.contains("without checking"))
            .count(),
        1,
        "{lines:?}"
    );
    assert!(lines.iter().all(|(_, d)| !d.contains("wrong password!")));

    // The office's address keeps its four failures: after its wait, one more failure there
    // means a wait again, for every account signing in from it, but not from elsewhere.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = accounts::sign_in(&core, &throttle, "nobody", "wrong password!", office)
        .await
        .unwrap_err();
    assert_eq!(account_error_code(&err), "bad_credentials");
    let err = accounts::sign_in(&core, &throttle, ADMIN, ADMIN_PASSWORD, office)
        .await
        .unwrap_err();
    assert!(matches!(err, AccountError::Throttled(_)), "{err:?}");
    accounts::sign_in(&core, &throttle, ADMIN, ADMIN_PASSWORD, home)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guesser_on_many_addresses_never_locks_the_real_administrator_out() {
    let (_dir, core) = core().await;
    let _ = admin(&core).await;
    let throttle = std::sync::Arc::new(SignInThrottle::default());
    // 40 wrong passwords for the account from 40 addresses, all at once: far past the
    // account's lockout threshold. Each address gets its one guess, slowed by the account's
    // wait; an address that failed is refused while the account's wait lasts.
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..40u8 {
        let (core, throttle) = (core.clone(), throttle.clone());
        guesses.spawn(async move {
            let from = IpAddr::from([198, 51, 100, i]);
            accounts::sign_in(&core, &throttle, ADMIN, "a guess", from).await
        });
    }
    let outcomes = guesses.join_all().await;
    assert!(
        outcomes.iter().all(|o| o
            .as_ref()
            .is_err_and(|e| account_error_code(e) == "bad_credentials")),
        "each guess was checked once, and none signed in"
    );
    // A guesser's address that comes back is refused while the account's wait lasts.
    let err = accounts::sign_in(&core, &throttle, ADMIN, "another guess", ip("198.51.100.7"))
        .await
        .unwrap_err();
    assert_eq!(account_error_code(&err), "throttled");
    // The owner, from an address that never failed, signs in: slowed, never refused.
    let started = std::time::Instant::now();
    let office = ip("192.0.2.10");
    let signed_in = accounts::sign_in(&core, &throttle, ADMIN, ADMIN_PASSWORD, office).await;
    assert!(signed_in.is_ok(), "{:?}", signed_in.err());
    assert!(started.elapsed() >= USERNAME_DELAY_MAX - Duration::from_millis(100));
    assert!(started.elapsed() < USERNAME_DELAY_MAX + Duration::from_secs(2));
}

#[tokio::test]
async fn setup_needs_the_token_creates_exactly_one_admin_and_happens_once() {
    let (_dir, core) = core().await;
    let throttle = SignInThrottle::default();
    let token = SetupToken::armed("the-one-time-setup-token".to_owned());
    let form = |token| SetupForm {
        token,
        username: ADMIN,
        password: ADMIN_PASSWORD,
        confirm: ADMIN_PASSWORD,
    };
    let (guesser, owner) = (ip("198.51.100.9"), ip("192.0.2.1"));

    let err = accounts::complete_setup(&core, &throttle, &token, form("guess"), guesser)
        .await
        .unwrap_err();
    assert_eq!(account_error_code(&err), "bad_setup_token");
    assert!(!accounts::admin_exists(&core.db).await.unwrap());
    let lines = audited(&core, "setup").await;
    assert_eq!(
        lines,
        [("failure".to_owned(), "wrong setup token".to_owned())]
    );

    // Guessing locks out the guesser's address, not the owner's.
    for _ in 0..3 {
        let _ = accounts::complete_setup(&core, &throttle, &token, form("guess"), guesser).await;
    }
    let err = accounts::complete_setup(
        &core,
        &throttle,
        &token,
        form("the-one-time-setup-token"),
        guesser,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AccountError::Throttled(_)), "{err:?}");

    // A weak password is refused before anything is written, and the token stays armed.
    let weak = SetupForm {
        password: "short",
        confirm: "short",
        ..form("the-one-time-setup-token")
    };
    let err = accounts::complete_setup(&core, &throttle, &token, weak, owner)
        .await
        .unwrap_err();
    assert_eq!(account_error_code(&err), "password_too_short");
    assert!(token.peek().is_some());

    let new = accounts::complete_setup(
        &core,
        &throttle,
        &token,
        form(" the-one-time-setup-token\n"),
        owner,
    )
    .await
    .unwrap();
    assert_eq!(new.role, Role::Admin);
    assert_eq!(new.username, ADMIN);
    assert!(token.peek().is_none(), "the token is spent");
    let admins = user::Entity::find()
        .filter(user::Column::Role.eq("admin"))
        .count(&core.db)
        .await
        .unwrap();
    assert_eq!(admins, 1);
    // The new session works at once.
    let caller = accounts::caller_from_token(&core, &cookie_token(&new.set_cookie), owner, true)
        .await
        .unwrap()
        .unwrap();
    assert!(caller.admin().is_ok());

    // A second setup is refused, whatever token it brings.
    for attempt in ["the-one-time-setup-token", "guess"] {
        let second = SetupForm {
            username: "eve",
            ..form(attempt)
        };
        let err = accounts::complete_setup(&core, &throttle, &token, second, owner)
            .await
            .unwrap_err();
        assert_eq!(account_error_code(&err), "setup_done");
    }
    assert_eq!(user::Entity::find().count(&core.db).await.unwrap(), 1);
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_the_other_sessions() {
    let (_dir, core) = core().await;
    let _ = admin(&core).await;
    let here = ip("192.0.2.30");
    let (this_token, caller) = session_of(&core, ADMIN, ADMIN_PASSWORD, here).await;
    let (other_token, _) = session_of(&core, ADMIN, ADMIN_PASSWORD, ip("192.0.2.31")).await;
    let throttle = SignInThrottle::default();
    let new_password = "an even longer passphrase";

    let err = accounts::change_password(
        &core,
        &throttle,
        &caller,
        "not the password",
        new_password,
        new_password,
    )
    .await
    .unwrap_err();
    assert_eq!(account_error_code(&err), "wrong_current_password");
    let err = accounts::change_password(
        &core,
        &throttle,
        &caller,
        ADMIN_PASSWORD,
        new_password,
        "something else entirely",
    )
    .await
    .unwrap_err();
    assert_eq!(account_error_code(&err), "password_mismatch");
    // Nothing changed yet: the other session lives on.
    assert!(
        accounts::caller_from_token(&core, &other_token, here, true)
            .await
            .unwrap()
            .is_some()
    );

    accounts::change_password(
        &core,
        &throttle,
        &caller,
        ADMIN_PASSWORD,
        new_password,
        new_password,
    )
    .await
    .unwrap();
    assert!(
        accounts::caller_from_token(&core, &this_token, here, true)
            .await
            .unwrap()
            .is_some(),
        "this session stays"
    );
    assert!(
        accounts::caller_from_token(&core, &other_token, here, true)
            .await
            .unwrap()
            .is_none(),
        "the others end"
    );
    let fresh = SignInThrottle::default();
    let err = accounts::sign_in(&core, &fresh, ADMIN, ADMIN_PASSWORD, here)
        .await
        .unwrap_err();
    assert_eq!(account_error_code(&err), "bad_credentials");
    accounts::sign_in(&core, &fresh, ADMIN, new_password, here)
        .await
        .unwrap();
    assert_eq!(
        outcomes(&core, "password_change").await,
        ["failure", "success"]
    );
}

#[tokio::test]
async fn signing_out_ends_the_session_and_its_stored_digest() {
    let (_dir, core) = core().await;
    let _ = admin(&core).await;
    let here = ip("192.0.2.40");
    let (token, caller) = session_of(&core, ADMIN, ADMIN_PASSWORD, here).await;
    // Only the digest of the session token is stored.
    assert!(
        session::Entity::find_by_id(token_hash(&token))
            .one(&core.db)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        session::Entity::find_by_id(token.clone())
            .one(&core.db)
            .await
            .unwrap()
            .is_none()
    );
    assert!(accounts::still_signed_in(&core, &caller).await.unwrap());

    let cleared = accounts::sign_out(&core, &caller).await.unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(
        accounts::caller_from_token(&core, &token, here, true)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!accounts::still_signed_in(&core, &caller).await.unwrap());
    let lines = audited(&core, "sign_out").await;
    assert_eq!(lines, [("success".to_owned(), "signed out".to_owned())]);
}

// ---------------------------------------------------------------------------------------
// API tokens
// ---------------------------------------------------------------------------------------

fn token_request(name: &str, scope: &str, days: u32) -> NewToken {
    NewToken {
        name: name.to_owned(),
        scope: scope.to_owned(),
        expires_in_days: days,
    }
}

#[tokio::test]
async fn a_write_token_authenticates_as_an_admin_until_revoked_and_is_stored_as_a_digest() {
    let (dir, core) = core().await;
    let admin = admin(&core).await;
    let access = admin.clone().access().unwrap();
    let from = ip("203.0.113.50");
    let created = tokens::create(&core, &access, token_request("provisioning", "write", 30))
        .await
        .unwrap();
    let token = created.token.clone();
    assert!(
        token.starts_with(tokens::TOKEN_PREFIX) && token.len() >= 40,
        "{token}"
    );
    assert!(token.starts_with(&created.view.prefix));
    assert!(created.view.active);
    assert_eq!(created.view.created_by, ADMIN);
    assert!(created.view.last_used_at.is_none());

    // At rest: the digest only.
    let row = api_token::Entity::find_by_id(created.view.id)
        .one(&core.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.token_hash, token_hash(&token));
    assert!(database_holds(&dir, &row.token_hash), "control");
    assert!(!database_holds(&dir, &token));
    // Listed without its value.
    let listed = tokens::list(&core, None, 10).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(!format!("{:?}", listed.items).contains(&token));

    let caller = tokens::caller_from_bearer(&core, &token, from)
        .await
        .unwrap()
        .expect("a fresh token authenticates");
    assert_eq!(caller.token_id, Some(created.view.id));
    assert_eq!(caller.username, "token:provisioning");
    assert_eq!(caller.source_ip, from);
    assert!(accounts::still_signed_in(&core, &caller).await.unwrap());
    let as_admin = caller.clone().admin().expect("write scope is admin");
    // ... but hands out no access: a leaked write token cannot mint its own successor.
    assert!(as_admin.clone().access().is_err());
    let keys = tokens::create(&core, &access, token_request("keys", "admin", 1))
        .await
        .unwrap();
    let key_holder = tokens::caller_from_bearer(&core, &keys.token, from)
        .await
        .unwrap()
        .unwrap();
    let minted = tokens::create(
        &core,
        &key_holder
            .admin()
            .unwrap()
            .access()
            .expect("admin scope hands out access"),
        token_request("minted", "read", 1),
    )
    .await
    .unwrap();
    assert_eq!(minted.view.scope, "read");
    // A token made by a token belongs to the person behind the first one, so that
    // disabling or deleting them reaches it too.
    assert_eq!(minted.view.created_by, keys.view.created_by);
    assert!(!minted.view.created_by.starts_with("token:"));
    tokens::revoke(&core, &access, keys.view.id).await.unwrap();
    tokens::revoke(&core, &access, minted.view.id)
        .await
        .unwrap();
    // It may change the model, and the audit names it.
    pbx::create_endpoint(&core, &as_admin, new_endpoint("1001", "Alice"))
        .await
        .unwrap();
    let lines = audit(&core).await;
    assert!(
        lines
            .iter()
            .any(|r| r.action == "endpoint_create"
                && r.actor.as_deref() == Some("token:provisioning")),
        "{lines:?}"
    );

    let revoked = tokens::revoke(&core, &access, created.view.id)
        .await
        .unwrap();
    assert!(!revoked.active);
    assert!(revoked.revoked_at.is_some());
    assert!(revoked.last_used_at.is_some(), "its use was recorded");
    assert!(
        tokens::caller_from_bearer(&core, &token, from)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !accounts::still_signed_in(&core, &caller).await.unwrap(),
        "what it has open ends too"
    );
    // Revoking again is idempotent; an unknown id is not found.
    assert!(
        !tokens::revoke(&core, &access, created.view.id)
            .await
            .unwrap()
            .active
    );
    assert!(matches!(
        tokens::revoke(&core, &access, 9999).await,
        Err(TokenError::NotFound(9999))
    ));
    let actions: Vec<String> = audit(&core)
        .await
        .into_iter()
        .filter(|r| r.action.starts_with("token_"))
        .map(|r| r.action)
        .collect();
    // The first token's creation, the admin token's and the token it minted, and the
    // revocations, in order.
    assert_eq!(
        actions[..6],
        [
            "token_create",
            "token_create",
            "token_create",
            "token_revoke",
            "token_revoke",
            "token_revoke"
        ]
    );
}

#[tokio::test]
async fn a_read_token_is_a_viewer_and_bad_or_expired_tokens_authenticate_nobody() {
    let (_dir, core) = core().await;
    let admin = admin(&core).await;
    let access = admin.clone().access().unwrap();
    let from = ip("203.0.113.51");
    let reader = tokens::create(&core, &access, token_request("monitoring", "read", 1))
        .await
        .unwrap();
    let caller = tokens::caller_from_bearer(&core, &reader.token, from)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(caller.role, Role::Viewer);
    assert!(caller.admin().is_err(), "read scope is no Admin");

    let truncated = &reader.token[..reader.token.len() - 1];
    let unprefixed = reader.token.trim_start_matches(tokens::TOKEN_PREFIX);
    let long = format!("{}{}", reader.token, "x".repeat(128));
    for bad in ["", "swt_not-a-token", truncated, unprefixed, long.as_str()] {
        assert!(
            tokens::caller_from_bearer(&core, bad, from)
                .await
                .unwrap()
                .is_none(),
            "{bad}"
        );
    }

    // Expired (the clock moved past it): refused.
    let row = api_token::Entity::find_by_id(reader.view.id)
        .one(&core.db)
        .await
        .unwrap()
        .unwrap();
    let mut expired: api_token::ActiveModel = row.into();
    expired.expires_at = Set(chrono::Utc::now() - chrono::Duration::minutes(1));
    expired.update(&core.db).await.unwrap();
    assert!(
        tokens::caller_from_bearer(&core, &reader.token, from)
            .await
            .unwrap()
            .is_none()
    );
    let listed = tokens::list(&core, None, 10).await.unwrap();
    assert!(!listed.items[0].active);

    // Bad requests name their field and create nothing.
    for (request, field) in [
        (token_request("", "write", 1), "name"),
        (token_request("two\nlines", "write", 1), "name"),
        (token_request("x", "root", 1), "scope"),
        (token_request("x", "read", 0), "expires_in_days"),
        (token_request("x", "read", 400), "expires_in_days"),
    ] {
        match tokens::create(&core, &access, request).await {
            Err(TokenError::BadValue { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: expected a bad value, got {other:?}"),
        }
    }
    assert_eq!(api_token::Entity::find().count(&core.db).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_current_passwords_is_throttled_like_a_burst_of_sign_ins() {
    let (_dir, core) = core().await;
    let _ = admin(&core).await;
    let (_, caller) = session_of(&core, ADMIN, ADMIN_PASSWORD, ip("192.0.2.40")).await;
    let throttle = std::sync::Arc::new(SignInThrottle::default());
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (core, throttle, caller) = (core.clone(), throttle.clone(), caller.clone());
        burst.spawn(async move {
            let guess = format!("guess number {i} of the burst");
            accounts::change_password(&core, &throttle, &caller, &guess, "x", "x").await
        });
    }
    let mut codes = Vec::new();
    while let Some(outcome) = burst.join_next().await {
        codes.push(account_error_code(&outcome.unwrap().unwrap_err()));
    }
    let checked = codes
        .iter()
        .filter(|c| **c == "wrong_current_password")
        .count();
    let throttled = codes.iter().filter(|c| **c == "throttled").count();
    assert_eq!(checked + throttled, 20, "{codes:?}");
    // The attempts queue for a hashing slot and then meet the failures of those before them:
    // only the free failures and the slots in flight are checked (it was all 20).
    assert!(
        checked <= 8,
        "{checked} of 20 guesses were checked: {codes:?}"
    );
    assert_eq!(
        audited(&core, "password_change").await.len(),
        checked,
        "one audit line per checked guess"
    );
}

#[tokio::test]
async fn a_wrong_setup_token_audits_only_a_name_that_could_be_a_username() {
    let (_dir, core) = core().await;
    let throttle = SignInThrottle::default();
    let setup = SetupToken::armed("the-real-token".to_owned());
    let long = "x".repeat(10_000);
    for (username, shown) in [
        (long.as_str(), "(not a valid username)"),
        ("<b>x</b>", "(not a valid username)"),
        (" grace ", "grace"),
    ] {
        let form = SetupForm {
            token: "a guess",
            username,
            password: "a long admin passphrase",
            confirm: "a long admin passphrase",
        };
        let err = accounts::complete_setup(&core, &throttle, &setup, form, ip("198.51.100.9"))
            .await
            .unwrap_err();
        assert_eq!(account_error_code(&err), "bad_setup_token");
        let last = audit(&core).await.pop().unwrap();
        assert_eq!(last.actor.as_deref(), Some(shown));
    }
}

#[tokio::test]
async fn the_audit_log_is_kept_by_age_and_by_size() {
    let (_dir, core) = core().await;
    let now = chrono::Utc::now();
    let line = |i: usize, days_ago: i64| audit_log::ActiveModel {
        at: Set(now - chrono::Duration::days(days_ago)),
        actor: Set(Some(format!("guesser{i}"))),
        source_ip: Set(Some("198.51.100.9".to_owned())),
        action: Set("sign_in".to_owned()),
        outcome: Set("failure".to_owned()),
        detail: Set("unknown username".to_owned()),
        ..Default::default()
    };
    // Five lines from last year, then 1,100 recent ones (the newest last).
    let rows = (0..5)
        .map(|i| line(i, 400))
        .chain((5..1105).map(|i| line(i, 1)));
    for chunk in rows.collect::<Vec<_>>().chunks(500) {
        audit_log::Entity::insert_many(chunk.to_vec())
            .exec(&core.db)
            .await
            .unwrap();
    }
    let deleted = backend::services::audit::enforce_retention(&core.db, 365, 1000)
        .await
        .unwrap();
    assert_eq!(deleted, 105, "5 too old, then 100 beyond the newest 1,000");
    let kept = audit(&core).await;
    assert_eq!(kept.len(), 1000);
    assert_eq!(kept[0].actor.as_deref(), Some("guesser105"));
    assert_eq!(kept[999].actor.as_deref(), Some("guesser1104"));
    // Nothing more to do the second time.
    assert_eq!(
        backend::services::audit::enforce_retention(&core.db, 365, 1000)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_login_from_a_network_new_for_the_account_is_recorded_and_can_lock_it() {
    use backend::services::fraud;
    use policy::fraud::policy::{FraudPolicy, FraudSettings, RuleMode};
    let (_dir, core) = core().await;
    let settings = FraudSettings {
        new_network_mode: RuleMode::Lock,
        ..FraudSettings::default()
    };
    core.fraud.set_policy(FraudPolicy::new(settings).unwrap());
    let (mut locks, mut followups) = core.fraud.take_receivers().unwrap();
    // As the guard reports correct logins: the office first, then somewhere else.
    core.fraud.logged_in("k7f3q9zx2m", ip("198.51.100.7"));
    core.fraud.logged_in("k7f3q9zx2m", ip("198.51.100.8"));
    core.fraud.logged_in("k7f3q9zx2m", ip("203.0.113.5"));
    while let Ok(followup) = locks.try_recv().or_else(|_| followups.try_recv()) {
        fraud::follow_up(&core, followup).await.unwrap();
    }
    let locks = fraud::locks(&core.db).await.unwrap();
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(
        (locks[0].endpoint_id.as_str(), locks[0].rule.as_str()),
        ("k7f3q9zx2m", "new_network")
    );
    let findings = fraud::findings(&core.db, Some("k7f3q9zx2m"), 10)
        .await
        .unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].reason.contains("203.0.113.0/24"),
        "{findings:?}"
    );
    assert_eq!(audited(&core, "fraud_lock").await.len(), 1);

    // After a restart the history is remembered: neither network is news any more.
    let restarted = Core::new(core.db.clone(), (*core.config).clone(), core.events.clone());
    assert_eq!(fraud::restore(&restarted).await, 0, "everything read back");
    assert_eq!(restarted.fraud.locked_count(), 1, "the lock survives");
    let (mut locks, mut followups) = restarted.fraud.take_receivers().unwrap();
    restarted.fraud.logged_in("k7f3q9zx2m", ip("203.0.113.9"));
    restarted.fraud.logged_in("k7f3q9zx2m", ip("198.51.100.9"));
    assert!(
        followups.try_recv().is_err() && locks.try_recv().is_err(),
        "nothing new"
    );
}
