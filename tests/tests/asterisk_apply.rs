//! The whole configuration pipeline against a real Asterisk 22: a model built over the REST
//! API, rendered by `sipwarden render` to boot Asterisk, applied over AMI by the real server
//! (which runs in the PBX's namespace, beside Asterisk, as in the appliance), verified, and
//! rolled back when a revision is broken. A minimal SIP phone registers with the generated
//! secret.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tests::api::Api;
use tests::asterisk::{self, Asterisk};
use tests::netns::{Lab, Net};
use tests::root;
use tests::server::{Options, TestServer};

const TEST: &str = "asterisk_apply";

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Registers `user` with `password` from the lab host `from`; the final SIP status.
fn register(lab: &Lab, from: &str, user: &str, password: &str) -> u16 {
    tests::sip::register_in_lab(lab, from, user, password).unwrap()
}

#[test]
fn asterisk_loads_exactly_what_was_applied_and_a_broken_revision_is_rolled_back() {
    let started = Instant::now();
    if asterisk::require_rootfs(TEST).is_none() || !root::require_commands(TEST, &["sqlite3"]) {
        return;
    }
    let lab = Lab::standard().expect("building the lab");
    let pbx_ip = lab.host("pbx").ipv4;
    let office = Net::Office.cidr_v4();
    let bootstrap = tempfile::tempdir().unwrap();
    let out_dir = bootstrap.path().to_owned();

    // 1. The model, built over the API by a first server run, and rendered for Asterisk's
    //    first start (Asterisk must know sipwarden's AMI account before any apply).
    let (seed, alice, bob) = lab
        .ns("pbx")
        .block_on(async move {
            let mut server = TestServer::start().unwrap();
            let api = Api::sign_in(&server).await;
            api.change_policy(|policy| {
                policy["sip_bind_v4"] = json!(pbx_ip.to_string());
                policy["realm"] = json!("pbx.example.net");
            })
            .await;
            let alice = api
                .create(
                    "/api/v1/endpoints",
                    json!({"extension": "1001", "display_name": "Alice", "permit": [office], "max_calls": 2}),
                )
                .await;
            let bob = api
                .create(
                    "/api/v1/endpoints",
                    json!({"extension": "1002", "display_name": "Bob", "permit": [office], "calling_class": "national"}),
                )
                .await;
            api.create(
                "/api/v1/trunks",
                json!({"name": "carrier", "peer": "203.0.113.50", "outbound": true,
                       "dids": [{"did": "4930123456", "extension": "1001"}]}),
            )
            .await;
            api.create("/api/v1/ami-users", json!({"name": "crm", "read": ["call"]}))
                .await;
            server.render(&out_dir).unwrap();
            server.terminate().unwrap();
            (server, alice, bob)
        })
        .unwrap();
    let alice_id = alice["id"].as_str().unwrap().to_owned();
    let alice_secret = alice["secret"].as_str().unwrap().to_owned();
    let bob_id = bob["id"].as_str().unwrap().to_owned();

    let ast = Asterisk::start_rendered(lab.ns("pbx"), bootstrap.path()).expect("starting asterisk");
    assert_eq!(
        ast.endpoint_names().unwrap(),
        set(&[&alice_id, &bob_id, "carrier"]),
        "the rendered bootstrap must load as is"
    );

    // 2. The appliance: the server beside Asterisk, writing into its config directory.
    let etc = ast.etc_dir();
    let data_from: PathBuf = seed.data.path().to_owned();
    let (server, report) = lab
        .ns("pbx")
        .block_on(async move {
            let server = TestServer::start_with(Options {
                data_from: Some(data_from),
                env: vec![(
                    "SIPWARDEN_ASTERISK_CONFIG_DIR".to_owned(),
                    etc.display().to_string(),
                )],
                ..Options::default()
            })
            .unwrap();
            let api = Api::sign_in(&server).await;
            let (status, preview) = api.call("GET", "/api/v1/config/preview", None).await;
            assert_eq!(status, StatusCode::OK);
            // Same model as the bootstrap: only the revision headers may differ.
            assert_eq!(preview["changes"], false, "{preview}");
            let (status, report) = api.call("POST", "/api/v1/config/apply", None).await;
            assert_eq!(status, StatusCode::OK, "{report}\n{}", server.log());
            (server, report)
        })
        .unwrap();
    assert_eq!(report["applied"], true, "{report}");
    let checks: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(checks.len(), 5, "{checks:?}");
    eprintln!("{TEST}: first apply verified: {}", checks.join("; "));
    let first_live = report["revision"]["number"].as_i64().unwrap();
    assert!(
        std::fs::symlink_metadata(ast.etc_dir().join("pjsip.conf"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "pjsip.conf is now a link into the live revision"
    );

    // What Asterisk holds, asked independently of sipwarden's own verification.
    assert_eq!(
        ast.endpoint_names().unwrap(),
        set(&[&alice_id, &bob_id, "carrier"])
    );
    let alice_detail = ast.cli(&format!("pjsip show endpoint {alice_id}")).unwrap();
    // The CLI only says an ACL exists; its effect is tested below with the right secret sent
    // from a network it does not permit.
    assert!(
        alice_detail
            .lines()
            .any(|l| l.trim_start().starts_with("acl") && l.contains("deny/permit")),
        "no ACL on the endpoint:\n{alice_detail}"
    );
    let users = ast.cli("manager show users").unwrap();
    for user in ["sipwarden-guard", "sipwarden-apply", "crm"] {
        assert!(users.contains(user), "{user} missing:\n{users}");
    }
    let trunk_ctx = ast.cli("dialplan show sw-trunk-carrier").unwrap();
    assert!(trunk_ctx.contains("4930123456"), "{trunk_ctx}");
    assert!(
        !trunk_ctx.contains("_X."),
        "an inbound context must reach only its DIDs:\n{trunk_ctx}"
    );
    let dialplan = ast.cli("dialplan show").unwrap();
    assert!(
        dialplan.contains("GROUP_COUNT"),
        "call limits are in the dialplan"
    );
    let default_ctx = ast.cli("dialplan show default").unwrap();
    assert!(
        !default_ctx.contains("Dial("),
        "[default] reaches nothing billable:\n{default_ctx}"
    );

    // 3. A phone registers with the generated secret, and fails with any other.
    assert_eq!(register(&lab, "client", &alice_id, &alice_secret), 200);
    assert_eq!(
        register(&lab, "client", &alice_id, "Wrong-but-long-secret-42"),
        401
    );
    // Step 1: the right secret from a network the endpoint does not permit is refused (and
    // looks exactly like a wrong password to the sender).
    assert_eq!(register(&lab, "attacker", &alice_id, &alice_secret), 401);
    let attacker = lab.host("attacker").ipv4.to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ast
        .security_log()
        .lines()
        .any(|l| l.contains("FailedACL") && l.contains(&attacker))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        ast.security_log()
            .lines()
            .any(|l| l.contains("FailedACL") && l.contains(&attacker)),
        "no FailedACL from {attacker}:\n{}",
        ast.security_log()
    );
    let contacts = ast.cli(&format!("pjsip show aor {alice_id}")).unwrap();
    assert!(
        contacts.contains(&lab.host("client").ipv4.to_string()),
        "{contacts}"
    );

    // 4. A change goes live with the next apply. And the firewall's lockout preview sees
    //    Alice registered from the client: a blocklist over the office would cut her off.
    let client_ip = lab.host("client").ipv4.to_string();
    let preview_alice = alice_id.clone();
    let (server, carol_id, second_live) = lab
        .ns("pbx")
        .block_on(async move {
            let api = Api::sign_in(&server).await;
            let mut policy = api.call("GET", "/api/v1/firewall", None).await.1["policy"].clone();
            policy["blocklist"] = json!([Net::Office.cidr_v4()]);
            let (status, doc) = api.call("PUT", "/api/v1/firewall", Some(policy)).await;
            assert_eq!(status, StatusCode::OK, "{doc}");
            let lockout = doc["status"]["lockout"].as_array().unwrap();
            assert!(
                lockout.iter().any(|l| l["kind"] == "endpoint"
                    && l["name"] == preview_alice.as_str()
                    && l["address"] == client_ip.as_str()),
                "the registered phone is in the lockout preview: {doc}"
            );
            let (status, problem) = api.call("POST", "/api/v1/firewall/apply", None).await;
            assert_eq!(status, StatusCode::CONFLICT, "{problem}");
            eprintln!(
                "{TEST}: lockout preview: {}",
                lockout
                    .iter()
                    .map(|l| format!("{} {} at {}", l["kind"], l["name"], l["address"]))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            // "Changes pending" follows the model and what Asterisk loaded.
            let pending = |api: &Api| {
                let api = api.clone();
                async move {
                    api.call("GET", "/api/v1/dashboard/summary", None).await.1["pending_changes"]
                        .clone()
                }
            };
            assert_eq!(pending(&api).await, json!(false), "just applied");
            let carol = api
                .create(
                    "/api/v1/endpoints",
                    json!({"extension": "1003", "display_name": "Carol"}),
                )
                .await;
            assert_eq!(pending(&api).await, json!(true), "a new endpoint waits");
            let (status, preview) = api.call("GET", "/api/v1/config/preview", None).await;
            assert_eq!(status, StatusCode::OK);
            assert!(
                preview["summary"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("+1 endpoint; ")),
                "{preview}"
            );
            let (status, report) = api.call("POST", "/api/v1/config/apply", None).await;
            assert_eq!(status, StatusCode::OK, "{report}");
            assert_eq!(pending(&api).await, json!(false), "applied");
            let live = report["revision"]["number"].as_i64().unwrap();
            (server, carol["id"].as_str().unwrap().to_owned(), live)
        })
        .unwrap();
    assert!(second_live > first_live);
    assert!(ast.endpoint_names().unwrap().contains(&carol_id));

    // 4b. A dialplan of the administrator's own: refused with its line when it would reach
    //     a trunk; applied, Asterisk loads it behind the calling classes.
    let server = lab
        .ns("pbx")
        .block_on(async move {
            let api = Api::sign_in(&server).await;
            let (_, mut policy) = api.call("GET", "/api/v1/policy", None).await;
            policy.as_object_mut().unwrap().remove("version");
            policy["custom_dialplan"] =
                json!("[custom-internal]\nexten => 800,1,Answer()\n same => n,Dial(PJSIP/0044207@provider)\n");
            let (status, problem) = api.call("PUT", "/api/v1/policy", Some(policy.clone())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
            assert_eq!(problem["field"], "custom_dialplan", "{problem}");
            assert!(problem["detail"].as_str().unwrap().contains("line 3"), "{problem}");
            policy["custom_dialplan"] = json!(
                "; the reception menu\n[custom-internal]\nexten => 800,1,Answer()\n same => n,Playback(hello-world)\n same => n,Goto(sw-dial-local,1001,1)\n"
            );
            let (status, saved) = api.call("PUT", "/api/v1/policy", Some(policy)).await;
            assert_eq!(status, StatusCode::OK, "{saved}");
            assert!(saved["custom_dialplan"].as_str().unwrap().starts_with("; the reception menu"));
            let (status, report) = api.call("POST", "/api/v1/config/apply", None).await;
            assert_eq!(status, StatusCode::OK, "{report}");
            (server, report["revision"]["number"].as_i64().unwrap())
        })
        .unwrap();
    // The last good revision from here on.
    let (server, second_live) = server;
    let class = ast.cli("dialplan show sw-class-internal").unwrap();
    assert!(
        class.contains("Include =>        'custom-internal'")
            || class.contains("'custom-internal'"),
        "{class}"
    );
    let menu = ast.cli("dialplan show 800@custom-internal").unwrap();
    assert!(
        menu.contains("Playback(hello-world)") && menu.contains("Goto(sw-dial-local,1001,1)"),
        "{menu}"
    );

    // 5. A broken revision: the first live one, tampered with in the database so that its
    //    pjsip.conf has an AOR that Asterisk refuses. Rolling back to it must fail the
    //    verification and leave the last good revision live.
    let db = server.data.path().join("sipwarden.sqlite3");
    let sql = format!(
        "UPDATE config_revisions SET files = replace(files, '[global]\\ntype=global', \
         '[zzbroken]\\ntype=aor\\nmax_contacts=many\\n\\n[global]\\ntype=global') WHERE number = {first_live};"
    );
    tests::server::sqlite(&db, &sql);
    let (server, problem) = lab
        .ns("pbx")
        .block_on(async move {
            let api = Api::sign_in(&server).await;
            let (status, problem) = api
                .call(
                    "POST",
                    &format!("/api/v1/config/revisions/{first_live}/rollback"),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::CONFLICT, "{problem}");
            (server, problem)
        })
        .unwrap();
    let message = problem["report"]["revision"]["message"].as_str().unwrap();
    assert!(
        message.contains("zzbroken"),
        "the failure names the refused object: {message}"
    );
    assert_eq!(problem["report"]["live_revision"], second_live);
    assert_eq!(
        std::fs::read_link(ast.etc_dir().join("sipwarden/current")).unwrap(),
        PathBuf::from(format!("rev-{second_live}"))
    );
    let names = ast.endpoint_names().unwrap();
    assert!(
        names.contains(&carol_id),
        "the last good revision is live again: {names:?}"
    );
    let aors = ast.cli("pjsip show aors").unwrap();
    assert!(!aors.contains("zzbroken"));

    // 6. The posture check: the files on disk are what sipwarden made live; a hand edit of
    //    one of them is a high finding naming the file.
    let extensions = ast.etc_dir().join("extensions.conf");
    let (server, before, after) = lab
        .ns("pbx")
        .block_on(async move {
            let api = Api::sign_in(&server).await;
            let (status, before) = api.call("GET", "/api/v1/posture", None).await;
            assert_eq!(status, StatusCode::OK, "{before}");
            let mut text = std::fs::read_to_string(&extensions).unwrap();
            text.push_str("\n[handmade]\nexten => _X.,1,Dial(PJSIP/${EXTEN}@carrier)\n");
            std::fs::write(&extensions, text).unwrap();
            let (_, after) = api.call("GET", "/api/v1/posture", None).await;
            (server, before, after)
        })
        .unwrap();
    let edited = |doc: &serde_json::Value| -> Vec<String> {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "config.edited_by_hand")
            .map(|f| f["object"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(edited(&before), Vec::<String>::new(), "{before}");
    assert_eq!(
        edited(&after),
        vec!["extensions.conf".to_owned()],
        "{after}"
    );
    assert!(after["score"].as_u64().unwrap() < before["score"].as_u64().unwrap());
    eprintln!(
        "{TEST}: posture score {} before and {} after a hand edit",
        before["score"], after["score"]
    );

    // 7. A rollback across an AMI secret rotation: the revision rolled back to had the old
    //    secret in its manager.conf, but what goes live is the current one, so the old
    //    secret never works again.
    let (server, logins) = lab
        .ns("pbx")
        .block_on(async move {
            let api = Api::sign_in(&server).await;
            let ami_port = api.call("GET", "/api/v1/policy", None).await.1["ami_port"]
                .as_u64()
                .unwrap() as u16;
            let first = api
                .create(
                    "/api/v1/ami-users",
                    json!({"name": "reports", "read": ["call"], "write": []}),
                )
                .await["secret"]
                .as_str()
                .unwrap()
                .to_owned();
            let apply = |api: &Api| {
                let api = api.clone();
                async move {
                    let (status, report) = api.call("POST", "/api/v1/config/apply", None).await;
                    assert_eq!(status, StatusCode::OK, "{report}");
                    report["revision"]["number"].as_i64().unwrap()
                }
            };
            let with_first = apply(&api).await;
            let mut logins = vec![(
                "first secret, applied",
                ami_login(ami_port, "reports", &first).await,
            )];
            let (status, rotated) = api
                .call("POST", "/api/v1/ami-users/reports/secret", None)
                .await;
            assert_eq!(status, StatusCode::OK, "{rotated}");
            let second = rotated["secret"].as_str().unwrap().to_owned();
            apply(&api).await;
            let (status, report) = api
                .call(
                    "POST",
                    &format!("/api/v1/config/revisions/{with_first}/rollback"),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{report}");
            assert_eq!(report["revision"]["restored_from"], with_first);
            logins.push((
                "first secret, after the rollback",
                ami_login(ami_port, "reports", &first).await,
            ));
            logins.push((
                "second secret, after the rollback",
                ami_login(ami_port, "reports", &second).await,
            ));
            (server, logins)
        })
        .unwrap();
    assert_eq!(
        logins.iter().map(|(_, ok)| *ok).collect::<Vec<_>>(),
        vec![true, false, true],
        "{logins:?}"
    );

    drop(server);
    drop(seed);
    drop(ast);
    eprintln!("{TEST}: whole test {:?}", started.elapsed());
}

/// Whether Asterisk's AMI on loopback accepts `user` with `secret`.
async fn ami_login(port: u16, user: &str, secret: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut ami = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    ami.write_all(
        format!("Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.contains("Response: ") || !seen.contains("Message: ") {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ami.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => break,
        }
    }
    seen.contains("Response: Success")
}
