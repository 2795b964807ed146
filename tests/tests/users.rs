//! The lifecycle of console users (#18 L2) on the real server, through all three doors: the
//! REST API (with the token scopes it needs), the console (plain form posts and the hydrated
//! app's calls) and the command line. Disabled users cannot sign in and their sessions and
//! tokens stop working; deleting revokes their tokens; a reset password ends their sessions;
//! the last active administrator is always kept.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::api::Api;
use tests::console::ConsoleSession;
use tests::server::{ADMIN_PASSWORD, TestServer};

const OLGA: &str = "Switchboard-Operator-1947";
const VERA: &str = "Copper-Lantern-2026";

/// `GET /api/v1/session` with a bearer token.
async fn token_status(server: &TestServer, token: &str) -> StatusCode {
    reqwest::Client::new()
        .get(server.url("/api/v1/bans"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

/// Whether a session (its client) is still signed in.
async fn signed_in(server: &TestServer, client: &reqwest::Client) -> bool {
    client
        .get(server.url("/api/v1/session"))
        .send()
        .await
        .unwrap()
        .status()
        == StatusCode::OK
}

async fn users(api: &Api) -> Vec<Value> {
    let (status, page) = api.call("GET", "/api/v1/users", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

fn disabled(list: &[Value], name: &str) -> bool {
    list.iter()
        .find(|u| u["username"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {list:?}"))["disabled"]
        .as_bool()
        .unwrap()
}

#[tokio::test]
async fn users_are_disabled_reset_ended_and_deleted_over_the_api_and_the_command_line() {
    let server = TestServer::start().unwrap();
    let admin = Api::sign_in(&server).await;
    for (name, password, role) in [("olga", OLGA, "admin"), ("vera", VERA, "viewer")] {
        let (status, body) = admin
            .call(
                "POST",
                "/api/v1/users",
                Some(json!({"username": name, "password": password, "role": role})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let olga = Api::sign_in_as(&server, "olga", OLGA).await;
    let olga_token = olga.token("olga's script", "read").await;
    let (olga_client, _) = server.api_sign_in("olga", OLGA).await.unwrap();
    assert_eq!(token_status(&server, &olga_token).await, StatusCode::OK);

    // A write token changes the PBX but not who has access.
    let write = admin.token("provisioning", "write").await;
    let res = reqwest::Client::new()
        .post(server.url("/api/v1/users/vera/disable"))
        .bearer_auth(&write)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Disabled: sessions end, the right password is refused, her token rests.
    let (status, body) = admin.call("POST", "/api/v1/users/olga/disable", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(disabled(&users(&admin).await, "olga"));
    assert!(!signed_in(&server, &olga_client).await);
    assert!(server.api_sign_in("olga", OLGA).await.is_err());
    assert_eq!(
        token_status(&server, &olga_token).await,
        StatusCode::UNAUTHORIZED
    );
    // Enabled again: the same password and token work.
    let (status, _) = admin.call("POST", "/api/v1/users/olga/enable", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!disabled(&users(&admin).await, "olga"));
    assert_eq!(token_status(&server, &olga_token).await, StatusCode::OK);
    let (olga_client, _) = server.api_sign_in("olga", OLGA).await.unwrap();

    // A reset password is generated, shown once, and ends the user's sessions.
    let (vera_client, _) = server.api_sign_in("vera", VERA).await.unwrap();
    let res = admin
        .call("POST", "/api/v1/users/vera/password", None)
        .await;
    assert_eq!(res.0, StatusCode::OK, "{}", res.1);
    let new_password = res.1["password"].as_str().unwrap().to_owned();
    assert!(new_password.len() >= 20, "{new_password}");
    assert!(!signed_in(&server, &vera_client).await);
    assert!(server.api_sign_in("vera", VERA).await.is_err());
    let (vera_client, _) = server.api_sign_in("vera", &new_password).await.unwrap();
    // A typed one follows the password rules.
    let (status, problem) = admin
        .call(
            "POST",
            "/api/v1/users/vera/password",
            Some(json!({"password": "short"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

    // Ending sessions says how many.
    let (status, ended) = admin
        .call("DELETE", "/api/v1/users/vera/sessions", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    assert_eq!(ended["ended"], 1);
    assert!(!signed_in(&server, &vera_client).await);

    // Deleted: gone from the list, her sessions and tokens with her.
    let (status, _) = admin.call("DELETE", "/api/v1/users/olga", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!signed_in(&server, &olga_client).await);
    assert_eq!(
        token_status(&server, &olga_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(users(&admin).await.iter().all(|u| u["username"] != "olga"));
    let (status, _) = admin.call("DELETE", "/api/v1/users/olga", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The last active administrator stays.
    for (method, path) in [
        ("POST", "/api/v1/users/admin/disable"),
        ("DELETE", "/api/v1/users/admin"),
    ] {
        let (status, problem) = admin.call(method, path, None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("no active administrator"),
            "{problem}"
        );
    }

    // Every change is in the audit log.
    let (_, audit) = admin.call("GET", "/api/v1/audit?limit=200", None).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "user_disable",
        "user_enable",
        "user_reset_password",
        "user_end_sessions",
        "user_delete",
    ] {
        assert!(
            actions.contains(&action),
            "{action} not audited: {actions:?}"
        );
    }

    // The command line, which owns the data directory, does the same.
    let run = |args: &[&str]| server.cli(args, None).unwrap();
    let listed = run(&["admin", "list"]);
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(text.contains("vera\tviewer\tenabled"), "{text}");
    let out = run(&["admin", "disable", "--username", "vera"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&run(&["admin", "list"]).stdout).into_owned();
    assert!(text.contains("vera\tviewer\tdisabled"), "{text}");
    let out = run(&[
        "admin",
        "reset-password",
        "--username",
        "vera",
        "--generate",
    ]);
    assert!(out.status.success(), "{out:?}");
    let generated = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let out = run(&["admin", "enable", "--username", "vera"]);
    assert!(out.status.success(), "{out:?}");
    server.api_sign_in("vera", &generated).await.unwrap();
    let out = run(&["admin", "end-sessions", "--username", "vera"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 session(s)"),
        "{out:?}"
    );
    let out = run(&["admin", "delete", "--username", "admin"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no active administrator"),
        "{out:?}"
    );
    let out = run(&["admin", "delete", "--username", "nobody"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such user"),
        "{out:?}"
    );
}

#[tokio::test]
async fn the_users_page_manages_users_with_and_without_javascript() {
    let server = TestServer::start().unwrap();
    let admin = ConsoleSession::sign_in(&server, "admin", ADMIN_PASSWORD).await;

    // A plain form post creates a user and comes back to the page.
    let to = admin
        .post_form(
            "/users",
            "create_user",
            &[
                ("username", "carl"),
                ("role", "viewer"),
                ("password", VERA),
                ("confirm", VERA),
            ],
        )
        .await;
    assert_eq!(to, "/users?created=1");
    let page = admin.page("/users").await;
    assert!(page.contains("data-user=\"carl\""), "{page}");
    let carl = ConsoleSession::sign_in(&server, "carl", VERA).await;

    // A viewer sees no actions and cannot act.
    let (status, _) = carl
        .call(
            "user_action",
            &[("username", "admin"), ("action", "disable")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Disabled without JavaScript: the page says so and shows the state.
    let to = admin
        .post_form(
            "/users",
            "user_action",
            &[("username", "carl"), ("action", "disable")],
        )
        .await;
    assert_eq!(to, "/users?done=disabled");
    let page = admin.page(&to).await;
    assert!(page.contains("User disabled"), "{page}");
    let row = &page[page.find("data-user=\"carl\"").unwrap()..];
    assert!(
        row[..row.find("</tr>").unwrap()].contains("disabled"),
        "{row}"
    );
    assert!(!signed_in(&server, &carl.client).await);

    let to = admin
        .post_form(
            "/users",
            "user_action",
            &[("username", "carl"), ("action", "enable")],
        )
        .await;
    assert_eq!(to, "/users?done=enabled");

    // The hydrated app's reset gets the generated password in its answer.
    let (status, done) = admin
        .call(
            "user_action",
            &[("username", "carl"), ("action", "reset_password")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let password = done["password"].as_str().unwrap().to_owned();
    // Without JavaScript it comes once, in a flash on the page.
    let to = admin
        .post_form(
            "/users",
            "user_action",
            &[("username", "carl"), ("action", "reset_password")],
        )
        .await;
    assert!(to.starts_with("/users?flash="), "{to}");
    let page = admin.page(&to).await;
    let shown = tests::console::shown_secret(&page)
        .unwrap_or_else(|| panic!("no password on the page: {page}"));
    let again = admin.page(&to).await;
    assert!(!again.contains(&shown), "the password was shown twice");
    assert!(
        server.api_sign_in("carl", &password).await.is_err(),
        "the first reset password still works"
    );
    server.api_sign_in("carl", &shown).await.unwrap();

    // The last active administrator is kept, and the page says why.
    let to = admin
        .post_form(
            "/users",
            "user_action",
            &[("username", "admin"), ("action", "delete")],
        )
        .await;
    let page = admin.page(&to).await;
    assert!(page.contains("no active administrator"), "{page}");
    assert!(signed_in(&server, &admin.client).await);
}
