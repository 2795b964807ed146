//! The dashboard's API on the real server over a database holding events (written with the
//! sqlite3 tool into the real file, as the guard's writer would have): the timeseries comes from
//! the rollups bucket by bucket, the summary counts and ranks what the period holds, and the
//! dashboard page draws the chart without JavaScript.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use reqwest::StatusCode;
use tests::api::Api;
use tests::server::{Options, TestServer};

#[tokio::test]
async fn attacks_over_time_and_top_sources_come_from_what_is_stored() {
    if !tests::root::require_commands("dashboard_http", &["sqlite3"]) {
        return;
    }
    // A first run creates the schema and the administrator.
    let mut seed = TestServer::start().unwrap();
    seed.terminate().unwrap();
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    // 30 guessing events from 203.0.113.7 two to three minutes ago, 5 scanner events from
    // [2001:db8::9] ten to eleven minutes ago, 7 old ones (three days ago) from 203.0.113.8.
    // Each group starts a second into its minute, so that it falls into one minute's bucket.
    let minute_start = |at_ms: i64| at_ms - at_ms.rem_euclid(60_000) + 1_000;
    let guessing_at = minute_start(now_ms - 120_000);
    let mut sql = String::from("BEGIN;\n");
    let mut rollups = std::collections::BTreeMap::<(i64, &str), i64>::new();
    // The per-source and per-account counts by four hours and by day, as the writer keeps them.
    let mut top = std::collections::BTreeMap::<(i64, &str, i64, String), i64>::new();
    let mut add = |at_ms: i64, kind: &'static str, source: &str, account: &str| {
        sql.push_str(&format!(
            "INSERT INTO events (at_ms, kind, source, transport, account, method, user_agent, detector, evidence, outcome) \
             VALUES ({at_ms}, '{kind}', '{source}', 'udp', '{account}', 'REGISTER', NULL, 'test', 'seeded', 'reported');\n"
        ));
        *rollups.entry((at_ms / 60_000, kind)).or_default() += 1;
        let address = source
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .ip()
            .to_string();
        for span in [14_400, 86_400] {
            let bucket = at_ms / 1000 / span;
            *top.entry((span, "source", bucket, address.clone()))
                .or_default() += 1;
            *top.entry((span, "account", bucket, account.to_owned()))
                .or_default() += 1;
        }
    };
    for i in 0..30 {
        add(guessing_at + i, "guessing", "203.0.113.7:5060", "1001");
    }
    for i in 0..5 {
        add(
            minute_start(now_ms - 600_000) + i,
            "scanner",
            "[2001:db8::9]:5070",
            "100",
        );
    }
    for i in 0..7 {
        add(
            now_ms - 3 * 86_400_000 + i,
            "guessing",
            "203.0.113.8:5060",
            "1002",
        );
    }
    for ((minute, kind), count) in &rollups {
        sql.push_str(&format!(
            "INSERT INTO event_rollups (minute, kind, count) VALUES ({minute}, '{kind}', {count});\n"
        ));
    }
    for ((span, dimension, bucket, key), count) in &top {
        sql.push_str(&format!(
            "INSERT INTO event_top_rollups (span, dimension, bucket, key, count) \
             VALUES ({span}, '{dimension}', {bucket}, '{key}', {count});\n"
        ));
    }
    sql.push_str("COMMIT;\n");
    tests::server::sqlite(&seed.database(), &sql);

    let server = TestServer::start_with(Options {
        data_from: Some(seed.data.path().to_owned()),
        ..Options::default()
    })
    .unwrap();
    let api = Api::sign_in(&server).await;

    let (status, hour) = api.call("GET", "/api/v1/dashboard/timeseries", None).await;
    assert_eq!(status, StatusCode::OK, "{hour}");
    assert_eq!(hour["bucket_secs"], 60);
    let buckets = hour["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 60);
    let kinds: Vec<&str> = hour["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let column = |kind: &str| kinds.iter().position(|k| *k == kind).unwrap();
    let sum = |kind: &str| -> u64 {
        buckets
            .iter()
            .map(|b| b[column(kind)].as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum("guessing"), 30, "the old ones are outside the hour");
    assert_eq!(sum("scanner"), 5);
    // The guessing events all sit in their minute's bucket. The hour is counted back from the
    // server's clock when it answers, which may already be a minute past the seeding's.
    let start_ms = hour["start_unix"].as_i64().unwrap() * 1000;
    let index = usize::try_from((guessing_at - start_ms) / 60_000).unwrap();
    assert!((56..=57).contains(&index), "{index}: {hour}");
    assert_eq!(buckets[index][column("guessing")], 30, "{hour}");

    let (_, week) = api
        .call("GET", "/api/v1/dashboard/timeseries?range=week", None)
        .await;
    assert_eq!(week["buckets"].as_array().unwrap().len(), 168);
    let total: u64 = week["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b.as_array().unwrap().iter().map(|n| n.as_u64().unwrap()))
        .sum();
    assert_eq!(total, 42);

    let (status, summary) = api
        .call("GET", "/api/v1/dashboard/summary?period=day", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["top_sources"][0]["key"], "203.0.113.7", "{summary}");
    assert_eq!(summary["top_sources"][0]["events"], 30);
    assert_eq!(summary["top_sources"][1]["key"], "2001:db8::9", "{summary}");
    assert_eq!(summary["top_accounts"][0]["key"], "1001");
    // The rate now: the 30 guesses of two minutes ago over the last five minutes.
    assert_eq!(summary["rate_per_minute"], 6, "{summary}");
    assert_eq!(
        summary["top_sources"].as_array().unwrap().len(),
        2,
        "only the last day"
    );
    for (period, sources) in [("hour", 2), ("week", 3)] {
        let (status, summary) = api
            .call(
                "GET",
                &format!("/api/v1/dashboard/summary?period={period}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{summary}");
        assert_eq!(
            summary["top_sources"].as_array().unwrap().len(),
            sources,
            "{period}: {summary}"
        );
        assert_eq!(summary["top_sources"][0]["key"], "203.0.113.7", "{summary}");
    }
    assert_eq!(summary["posture_score"], 100);
    assert_eq!(summary["firewall"], "not_applied");

    for bad in [
        "/api/v1/dashboard/summary?period=year",
        "/api/v1/dashboard/timeseries?range=day",
    ] {
        let (status, problem) = api.call("GET", bad, None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {problem}");
    }

    // The page draws the chart on the server: bars are in the HTML without any script.
    let (client, _) = server
        .api_sign_in("admin", tests::server::ADMIN_PASSWORD)
        .await
        .unwrap();
    let html = client
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"attack-chart\""), "{html}");
    assert!(
        html.contains(" UTC: 30 password guessing</title>"),
        "{html}"
    );
    assert!(html.contains("35 events"), "the last hour's total");
}

/// The dashboard's protection tile, as the server renders it for a signed-in administrator.
async fn protection_tile(server: &TestServer) -> String {
    let session =
        tests::console::ConsoleSession::sign_in(server, "admin", tests::server::ADMIN_PASSWORD)
            .await;
    let page = session.page("/").await;
    let start = page
        .find("id=\"tile-protection\"")
        .unwrap_or_else(|| panic!("no protection tile:\n{page}"));
    // The tile's class comes just before its id; its text up to the tile's end.
    let open = page[..start].rfind("<div").unwrap();
    let end = start + page[start..].find("</div>").unwrap();
    page[open..end].to_owned()
}

#[tokio::test]
async fn the_dashboard_says_first_whether_the_appliance_protects() {
    let start = |mode: &str| {
        TestServer::start_with(Options {
            admin: Some(("admin".to_owned(), tests::server::ADMIN_PASSWORD.to_owned())),
            env: vec![("SIPWARDEN_GUARD_MODE".to_owned(), mode.to_owned())],
            ..Options::default()
        })
        .unwrap()
    };
    let off = protection_tile(&start("off")).await;
    assert!(off.contains("tile bad"), "{off}");
    assert!(off.contains("Protection off"), "{off}");
    let watching = protection_tile(&start("log_only")).await;
    assert!(watching.contains("tile warn"), "{watching}");
    assert!(watching.contains("Watching only"), "{watching}");
    // Enforcing without an Asterisk: the AMI tap is down, so it is not "Protected".
    let blind = protection_tile(&start("enforce")).await;
    assert!(!blind.contains("tile good"), "{blind}");
    assert!(blind.contains("blind"), "{blind}");
}

#[tokio::test]
async fn compromise_signals_stay_until_acknowledged_and_sources_group_by_network() {
    if !tests::root::require_commands("dashboard_http", &["sqlite3"]) {
        return;
    }
    let mut first = TestServer::start().unwrap();
    let api = Api::sign_in(&first).await;
    let (status, created) = api
        .call(
            "POST",
            "/api/v1/endpoints",
            Some(serde_json::json!({"extension": "1001", "display_name": "Remote worker"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    first.terminate().unwrap();

    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let mut sql = String::from("BEGIN;\n");
    let mut event = |at_ms: i64, kind: &str, source: &str, account: &str| {
        sql.push_str(&format!(
            "INSERT INTO events (at_ms, kind, source, transport, account, method, user_agent, detector, evidence, outcome) \
             VALUES ({at_ms}, '{kind}', '{source}', 'udp', '{account}', 'REGISTER', NULL, 'test', 'seeded', 'reported');\n"
        ));
    };
    // A scanner farm: ten addresses of one /24, one event each; one busier lone address.
    for i in 1..=10 {
        event(
            now_ms - 60_000,
            "enumeration",
            &format!("198.51.100.{i}:5060"),
            "admin",
        );
    }
    for _ in 0..4 {
        event(now_ms - 50_000, "guessing", "203.0.113.7:5060", &id);
    }
    // Then the guessed secret works (a compromise signal), twice, and a login from outside
    // the account's networks.
    event(
        now_ms - 40_000,
        "login-after-failures",
        "203.0.113.7:5060",
        &id,
    );
    event(
        now_ms - 30_000,
        "acl-violation",
        "[2001:db8:1:2::9]:5060",
        &id,
    );
    event(
        now_ms - 20_000,
        "login-after-failures",
        "203.0.113.7:5060",
        &id,
    );
    sql.push_str("COMMIT;\n");
    tests::server::sqlite(&first.database(), &sql);

    let server = TestServer::start_with(Options {
        data_from: Some(first.data.path().to_owned()),
        ..Options::default()
    })
    .unwrap();
    let api = Api::sign_in(&server).await;
    let summary = |api: &Api| {
        let api = api.clone();
        async move {
            let (status, s) = api
                .call("GET", "/api/v1/dashboard/summary?period=hour", None)
                .await;
            assert_eq!(status, StatusCode::OK, "{s}");
            s
        }
    };
    let s = summary(&api).await;
    assert_eq!(s["alarms"]["total"], 3, "{s}");
    let alarms = s["alarms"]["events"].as_array().unwrap();
    assert_eq!(
        alarms[0]["kind"], "login-after-failures",
        "newest first: {s}"
    );
    assert_eq!(alarms[0]["account_label"], "1001 Remote worker", "{s}");
    assert_eq!(alarms[1]["kind"], "acl-violation");
    assert_eq!(s["top_networks"][0]["network"], "198.51.100.0/24", "{s}");
    assert_eq!(s["top_networks"][0]["sources"], 10);
    assert_eq!(s["top_networks"][0]["events"], 10);
    assert_eq!(s["top_networks"][1]["network"], "203.0.113.0/24");
    assert_eq!(s["top_networks"][1]["sources"], 1);
    assert_eq!(s["top_networks"][2]["network"], "2001:db8:1:2::/64");
    let labelled = s["top_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == id.as_str())
        .unwrap();
    assert_eq!(labelled["label"], "1001 Remote worker", "{s}");
    let attacker_typed = s["top_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "admin")
        .unwrap();
    assert!(attacker_typed["label"].is_null(), "{s}");
    assert_eq!(s["pending_changes"], true, "nothing was ever applied: {s}");

    // The console shows the card with the account in words, and the pending badge.
    let session =
        tests::console::ConsoleSession::sign_in(&server, "admin", tests::server::ADMIN_PASSWORD)
            .await;
    let page = session.page("/?period=hour").await;
    assert!(page.contains("id=\"alarm-card\""), "{page}");
    assert!(page.contains("3 signs of a possible compromise"), "{page}");
    assert!(page.contains("1001 Remote worker"), "{page}");
    assert!(page.contains("id=\"pending-badge\""), "{page}");
    assert!(page.contains("198.51.100.0/24"), "{page}");

    // A read-only token may not acknowledge; an administrator acknowledges up to the
    // acl-violation: the newer login stays on the card.
    let reader = api.token("reader", "read").await;
    let through = alarms[1]["id"].as_i64().unwrap();
    let refused = reqwest::Client::new()
        .post(server.url("/api/v1/dashboard/alarms/acknowledge"))
        .bearer_auth(&reader)
        .json(&serde_json::json!({"through": through}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/dashboard/alarms/acknowledge",
            Some(serde_json::json!({"through": through})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["acknowledged"], 2);
    let s = summary(&api).await;
    assert_eq!(s["alarms"]["total"], 1, "{s}");
    assert_eq!(s["alarms"]["events"][0]["id"], alarms[0]["id"]);
    // Through a far-away id: only what exists is covered; the card is empty and gone.
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/dashboard/alarms/acknowledge",
            Some(serde_json::json!({"through": 1_000_000_000})),
        )
        .await;
    assert_eq!(
        (status, body["acknowledged"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    assert_eq!(summary(&api).await["alarms"]["total"], 0);
    assert!(!session.page("/").await.contains("id=\"alarm-card\""));
    let (status, problem) = api
        .call(
            "POST",
            "/api/v1/dashboard/alarms/acknowledge",
            Some(serde_json::json!({"through": "all"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    // Each acknowledgement is in the audit log.
    let (_, audit) = api.call("GET", "/api/v1/audit?limit=10", None).await;
    assert!(audit.to_string().contains("alarm_acknowledge"), "{audit}");
}
