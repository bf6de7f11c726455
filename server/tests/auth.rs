//! The server without `--open` (docs/auth.md §7), through its real binary: ledger creation from a
//! root delegation, roles, every refusal, and the replay set shared by two instances on one store.
//! Invites, members and revocation are in `auth_invites.rs`.

mod common;

use common::authz::{
    self, create_ledger, delegate, did, invocation, new_key, reason, send, token, Actor,
};
use common::{envelope, name_of, Server, StoreSpec};

async fn push(s: &Server, a: &Actor, kind: &str, bytes: &[u8]) -> (u16, String) {
    let (status, body) = a
        .send(s, "PUT", &format!("/{kind}/{}", name_of(bytes)), bytes)
        .await;
    (status, reason(&body))
}

#[tokio::test]
async fn create_then_the_admin_pushes_and_pulls() {
    let s = Server::start_secure(&StoreSpec::temp_folder(), &[]);
    assert_eq!(s.get("/health").await.0, 200);
    let admin = create_ledger(&s).await;
    let car = envelope(300);
    assert_eq!(push(&s, &admin, "cars", &car).await.0, 201);
    assert_eq!(push(&s, &admin, "cars", &car).await.0, 200, "idempotent");
    let head = envelope(40);
    assert_eq!(push(&s, &admin, "heads", &head).await.0, 201);
    let (status, bytes) = admin
        .send(&s, "GET", &format!("/cars/{}", name_of(&car)), b"")
        .await;
    assert_eq!((status, bytes), (200, car));
    let (status, list) = admin.send(&s, "GET", "/heads/", b"").await;
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_slice(&list).unwrap();
    assert_eq!(list["names"], serde_json::json!([name_of(&head)]));
    assert_eq!(
        admin
            .send(&s, "DELETE", &format!("/heads/{}", name_of(&head)), b"")
            .await
            .0,
        204
    );

    // A second create of the same ledger DID (another root by the same key is still refused).
    let root = delegate(&new_key(), &admin.did(), &admin.ledger, "/ledger", false);
    let t = token(
        invocation(
            &admin.key,
            &root.payload().iss,
            "/ledger",
            ("POST", "/v1/ledgers", root.bytes()),
            &[root.cid()],
        ),
        &admin.key,
    );
    let (status, _) = send(&s, "POST", "/v1/ledgers", root.bytes(), Some(&t)).await;
    assert_eq!(
        status, 400,
        "a root not issued by its subject is not a root"
    );
    // Without a token: 401; the old random ids are not ledger ids here.
    assert_eq!(send(&s, "POST", "/v1/ledgers", b"", None).await.0, 401);
    assert_eq!(
        s.get("/v1/ledgers/aaaaaaaaaaaaaaaaaaaaaaaaaa/heads/")
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn a_token_in_the_query_authorizes_like_the_header() {
    // A GET without headers of its own needs no CORS preflight: browsers send the token as `?auth=`.
    let s = Server::start_secure(&StoreSpec::temp_folder(), &[]);
    let admin = create_ledger(&s).await;
    let reader = admin.add(&s, "/ledger/read").await;
    let car = envelope(300);
    assert_eq!(push(&s, &admin, "cars", &car).await.0, 201);
    let path = reader.path(&format!("/cars/{}", name_of(&car)));
    let t = reader.token("GET", &path, b"");
    assert_eq!(s.get(&format!("{path}?auth={t}")).await, (200, car.clone()));
    // the same invocation again: replayed
    let (status, body) = s.get(&format!("{path}?auth={t}")).await;
    assert_eq!(
        (status, reason(&body).as_str()),
        (401, "replayed invocation")
    );
    // bound to another request, or forged: refused as in the header
    let other = reader.token("GET", &reader.path("/heads/"), b"");
    assert_eq!(s.get(&format!("{path}?auth={other}")).await.0, 403);
    assert_eq!(s.get(&format!("{path}?auth=AAAA")).await.0, 401);
    // a listing with paging parameters around the token
    let heads = reader.path("/heads/");
    let t = reader.token("GET", &heads, b"");
    let after = name_of(&car);
    let (status, list) = s
        .get(&format!("{heads}?after={after}&auth={t}&limit=10"))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&list));
    // several objects in one request (a POST the reader may make: it only reads)
    let get = reader.path("/get");
    let body = format!("cars/{}", name_of(&car));
    let (status, answer) = query_token(&s, &reader, "POST", &get, body.as_bytes(), None).await;
    assert_eq!(
        (status, common::frames(&answer)),
        (200, vec![Ok(car.clone())])
    );
    let signed = Some(("POST", &b"cars/other"[..]));
    let (status, _) = query_token(&s, &reader, "POST", &get, body.as_bytes(), signed).await;
    assert_eq!(status, 403, "the token is bound to the body");
    assert_eq!(send(&s, "POST", &get, body.as_bytes(), None).await.0, 401);
    // a reader's write is still forbidden with the token in the query
    let small = envelope(30);
    let put_path = reader.path(&format!("/cars/{}", name_of(&small)));
    for method in ["PUT", "POST"] {
        let (status, _) = query_token(&s, &reader, method, &put_path, &small, None).await;
        assert_eq!(status, 403, "{method}");
    }
    // the writer's POST with the token in the query (what the browser client sends)
    let (status, _) = query_token(&s, &admin, "POST", &put_path, &small, None).await;
    assert_eq!(status, 201);
    // a token signed for PUT does not authorize the POST
    let signed = Some(("PUT", &small[..]));
    let (status, _) = query_token(&s, &admin, "POST", &put_path, &small, signed).await;
    assert_eq!(status, 403);
}

/// Sends `method path` with `body` and a fresh token in the query, signed for `signed` (another
/// method and body) if given, else for this request.
async fn query_token(
    s: &Server,
    a: &Actor,
    method: &str,
    path: &str,
    body: &[u8],
    signed: Option<(&str, &[u8])>,
) -> (u16, Vec<u8>) {
    let (m, b) = signed.unwrap_or((method, body));
    let t = a.token(m, path, b);
    send(s, method, &format!("{path}?auth={t}"), body, None).await
}

#[tokio::test]
async fn a_second_create_of_one_ledger_is_409() {
    let s = Server::start_secure(&StoreSpec::temp_folder(), &[]);
    let ledger_key = new_key();
    let ledger = did(&ledger_key);
    let mut statuses = vec![];
    let mut second = None;
    for _ in 0..2 {
        let admin = new_key();
        let root = delegate(&ledger_key, &did(&admin), &ledger, "/ledger", false);
        let req = ("POST", "/v1/ledgers", root.bytes());
        let t = token(
            invocation(&admin, &ledger, "/ledger", req, &[root.cid()]),
            &admin,
        );
        statuses.push(
            send(&s, "POST", "/v1/ledgers", root.bytes(), Some(&t))
                .await
                .0,
        );
        second = Some(Actor {
            key: admin,
            ledger,
            cmd: "/ledger/admin".into(),
            prf: vec![root.cid()],
        });
    }
    assert_eq!(statuses, [201, 409]);
    // the refused create stored nothing: its root does not let that device in
    let (status, body) = second.unwrap().send(&s, "GET", "/cars/", b"").await;
    assert_eq!(status, 401, "{}", reason(&body));
}

#[tokio::test]
async fn a_malformed_ledger_id_is_plain_text_on_the_registering_route_too() {
    let s = Server::start_secure(&StoreSpec::temp_folder(), &[]);
    let cid = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    let (status, body) = send(
        &s,
        "PUT",
        &format!("/v1/ledgers/not-a-did/ucans/{cid}"),
        b"x",
        None,
    )
    .await;
    assert_eq!(
        (status, String::from_utf8_lossy(&body).as_ref()),
        (400, "malformed ledger id")
    );
}

#[tokio::test]
async fn writers_push_readers_only_pull() {
    let s = Server::start_secure(&StoreSpec::temp_folder(), &[]);
    let admin = create_ledger(&s).await;
    let writer = admin.add(&s, "/ledger/write").await;
    let reader = admin.add(&s, "/ledger/read").await;
    let car = envelope(200);
    assert_eq!(push(&s, &writer, "cars", &car).await.0, 201);
    assert_eq!(
        writer.send(&s, "GET", "/cars/", b"").await.0,
        200,
        "write implies read"
    );
    let path = format!("/cars/{}", name_of(&car));
    assert_eq!(reader.send(&s, "GET", &path, b"").await, (200, car));
    let (status, why) = push(&s, &reader, "heads", &envelope(40)).await;
    assert_eq!(status, 403, "{why}");
    // Widening the command: the reader invokes /ledger/write with its read-only chain.
    let mut wide = reader.clone();
    wide.cmd = "/ledger/write".into();
    let (status, why) = push(&s, &wide, "heads", &envelope(40)).await;
    assert_eq!(status, 403, "{why}");
    assert!(why.contains("not covered"), "{why}");
    // A writer cannot administer, nor register a delegation wider than its own.
    assert_eq!(writer.send(&s, "GET", "/members", b"").await.0, 403);
    let d = delegate(
        &writer.key,
        &did(&new_key()),
        &writer.ledger,
        "/ledger",
        false,
    );
    assert_eq!(writer.register(&s, &d).await, 403);
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    let s = Server::start_secure(&StoreSpec::temp_folder(), &[]);
    let admin = create_ledger(&s).await;
    let path = admin.path("/heads/");
    let get = |t: Option<String>| {
        let (s, path) = (&s, path.clone());
        async move { send(s, "GET", &path, b"", t.as_deref()).await }
    };
    let (status, body) = get(None).await;
    assert_eq!(
        (status, reason(&body).as_str()),
        (401, "missing authorization")
    );
    assert_eq!(get(Some("not base64!".into())).await.0, 401);

    let mut inv = invocation(
        &admin.key,
        &admin.ledger,
        "/ledger/read",
        ("GET", &path, b""),
        &admin.prf,
    );
    inv.exp = Some(authz::now() - 5);
    let (status, body) = get(Some(token(inv.clone(), &admin.key))).await;
    assert_eq!(status, 401, "expired: {}", reason(&body));
    inv.exp = Some(authz::now() + 3600);
    assert_eq!(
        get(Some(token(inv, &admin.key))).await.0,
        401,
        "lifetime too long"
    );

    let t = admin.token("GET", &path, b"");
    assert_eq!(get(Some(t.clone())).await.0, 200);
    let (status, body) = get(Some(t)).await;
    assert_eq!(
        (status, reason(&body).as_str()),
        (401, "replayed invocation")
    );

    // Forged: signed by another key under the admin's name.
    let inv = invocation(
        &admin.key,
        &admin.ledger,
        "/ledger/read",
        ("GET", &path, b""),
        &admin.prf,
    );
    let mut bytes = ferroproof_server::ucan::Signed::sign(inv, &admin.key)
        .unwrap()
        .bytes()
        .to_vec();
    bytes[5] ^= 1; // inside the 64-byte signature
    let forged = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &bytes);
    let (status, body) = get(Some(forged)).await;
    assert_eq!(status, 401, "{}", reason(&body));

    // A token for another ledger, presented here.
    let other = create_ledger(&s).await;
    let t = invocation(
        &other.key,
        &other.ledger,
        "/ledger/read",
        ("GET", &path, b""),
        &other.prf,
    );
    let (status, body) = get(Some(token(t, &other.key))).await;
    assert_eq!(
        (status, reason(&body).as_str()),
        (403, "token is for another ledger")
    );

    // Bound to another body (or path).
    let good = envelope(40);
    let put_path = admin.path(&format!("/heads/{}", name_of(&good)));
    let t = admin.token("PUT", &put_path, &envelope(40));
    let (status, body) = send(&s, "PUT", &put_path, &good, Some(&t)).await;
    assert_eq!(
        (status, reason(&body).as_str()),
        (403, "invocation is bound to another request")
    );
    let t = admin.token("GET", &admin.path("/cars/"), b"");
    assert_eq!(get(Some(t)).await.0, 403);

    // A proof that was never registered.
    let mut stranger = admin.clone();
    let d = delegate(
        &admin.key,
        &did(&new_key()),
        &admin.ledger,
        "/ledger/read",
        false,
    );
    stranger.prf.push(d.cid());
    let (status, body) = stranger.send(&s, "GET", "/heads/", b"").await;
    assert_eq!(status, 401, "{}", reason(&body));
    assert_eq!(s.get("/health").await.0, 200, "still serving");
}

#[tokio::test]
async fn two_instances_share_the_replay_set() {
    let spec = StoreSpec::temp_folder();
    let (s1, s2) = (
        Server::start_secure(&spec, &[]),
        Server::start_secure(&spec, &[]),
    );
    let admin = create_ledger(&s1).await;
    let path = admin.path("/heads/");
    let t = admin.token("GET", &path, b"");
    assert_eq!(send(&s1, "GET", &path, b"", Some(&t)).await.0, 200);
    let (status, body) = send(&s2, "GET", &path, b"", Some(&t)).await;
    assert_eq!(
        (status, reason(&body).as_str()),
        (401, "replayed invocation")
    );
    assert_eq!(
        admin.send(&s2, "GET", "/heads/", b"").await.0,
        200,
        "a fresh one works there"
    );
}

#[tokio::test]
async fn replay_markers_of_past_windows_are_cleaned() {
    let spec = StoreSpec::temp_folder();
    let s1 = Server::start_secure(&spec, &[]);
    let admin = create_ledger(&s1).await;
    let nonces = std::path::Path::new(&spec.store)
        .join("ledgers")
        .join(admin.ledger.to_string())
        .join("nonces");
    let current: Vec<_> = std::fs::read_dir(&nonces).unwrap().collect();
    assert_eq!(current.len(), 1, "the create's marker, in its window");
    let stale = nonces.join("1000").join(name_of(b"stale"));
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, b"{\"exp\":600000}").unwrap();
    // s1 cleaned at the create (throttled for 10 minutes); a second instance cleans at its first.
    let s2 = Server::start_secure(&spec, &[]);
    assert_eq!(admin.send(&s2, "GET", "/heads/", b"").await.0, 200);
    for _ in 0..100 {
        if !stale.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!stale.exists(), "a marker of a window long over is deleted");
    let windows = std::fs::read_dir(&nonces).unwrap().flatten();
    let markers: usize = windows
        .map(|w| std::fs::read_dir(w.path()).map_or(0, |d| d.count()))
        .sum();
    assert_eq!(markers, 2, "the create's and the GET's markers stay");
}

#[tokio::test]
async fn refusal_reasons_stay_short_whatever_the_token_holds() {
    let s = Server::start_secure(&StoreSpec::temp_folder(), &[]);
    let mut a = authz::create_ledger(&s).await;
    // the longest command a token may hold, which the reason quotes
    a.cmd = format!("/{}", "a".repeat(255));
    let (status, body) = a.send(&s, "GET", "/cars/", b"").await;
    assert!(matches!(status, 401 | 403), "{status}");
    let reason = authz::reason(&body);
    assert!(reason.chars().count() <= 201, "{} characters", reason.len());
    assert!(body.len() < 400, "{} bytes", body.len());
}
