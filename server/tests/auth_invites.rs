//! Invites, members and revocation on the server without `--open` (docs/auth.md §7.5–7.7),
//! through its real binary, including an open WebSocket closed by a revocation.

mod common;

use std::time::Duration;

use common::authz::{create_ledger, delegate, did, new_key, reason, Actor};
use common::{envelope, name_of, Server, StoreSpec};
use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;

async fn push(s: &Server, a: &Actor, kind: &str, bytes: &[u8]) -> (u16, String) {
    let rest = format!("/{kind}/{}", name_of(bytes));
    let (status, body) = a.send(s, "PUT", &rest, bytes).await;
    (status, reason(&body))
}

/// The admin invites with a one-time key; `join` redeems it for a fresh device.
async fn join(s: &Server, invite: &Actor, cmd: &str) -> (u16, Actor) {
    let device = new_key();
    let d = delegate(&invite.key, &did(&device), &invite.ledger, cmd, false);
    let status = invite.register(s, &d).await;
    let mut prf = invite.prf.clone();
    prf.push(d.cid());
    let actor = Actor {
        key: device,
        ledger: invite.ledger,
        cmd: cmd.into(),
        prf,
    };
    (status, actor)
}

#[tokio::test]
async fn invites_are_redeemed_once_then_members_and_revocation() {
    let s = Server::start_secure(&StoreSpec::temp_folder(), &["--poll-ms", "60000"]);
    let admin = create_ledger(&s).await;
    let reader = admin.add(&s, "/ledger/read").await;
    let one_time = new_key();
    let d = delegate(
        &admin.key,
        &did(&one_time),
        &admin.ledger,
        "/ledger/write",
        true,
    );
    assert_eq!(admin.register(&s, &d).await, 201);
    let mut prf = admin.prf.clone();
    prf.push(d.cid());
    let invite = Actor {
        key: one_time,
        ledger: admin.ledger,
        cmd: "/ledger/write".into(),
        prf,
    };
    let (status, body) = invite.send(&s, "GET", "/heads/", b"").await;
    assert_eq!(
        (status, reason(&body).as_str()),
        (403, "an invite key can only redeem")
    );

    let (status, a) = join(&s, &invite, "/ledger/write").await;
    assert_eq!(status, 201);
    assert_eq!(push(&s, &a, "cars", &envelope(100)).await.0, 201);
    let (status, b) = join(&s, &invite, "/ledger/write").await;
    assert_eq!(status, 409, "a second redemption");
    assert_eq!(
        push(&s, &b, "cars", &envelope(100)).await.0,
        401,
        "its delegation was not registered"
    );

    let (status, body) = admin.send(&s, "GET", "/members", b"").await;
    assert_eq!(status, 200, "{}", reason(&body));
    let members: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    let mut got: Vec<(String, String)> = members
        .iter()
        .map(|m| {
            (
                m["did"].as_str().unwrap().to_owned(),
                m["can"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        (admin.did().to_string(), "admin".to_owned()),
        (reader.did().to_string(), "read".to_owned()),
        (a.did().to_string(), "write".to_owned()),
    ];
    want.sort();
    assert_eq!(got, want);
    assert!(members.iter().all(|m| m["expires"].as_i64().is_some()));
    assert_eq!(reader.send(&s, "GET", "/members", b"").await.0, 403);

    // Revoke A while it watches: its next request is 403 and its socket closes at the next put.
    let path = a.path("/watch");
    let url = format!("ws://{}{path}?auth={}", s.addr, a.token("GET", &path, b""));
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket");
    let ready = ws.next().await.unwrap().unwrap();
    assert!(ready.to_text().unwrap().contains("ready"));
    let body = serde_json::json!({ "did": a.did().to_string() }).to_string();
    assert_eq!(
        admin.send(&s, "POST", "/revoke", body.as_bytes()).await.0,
        201
    );
    assert_eq!(
        admin.send(&s, "POST", "/revoke", body.as_bytes()).await.0,
        200
    );
    let (status, why) = push(&s, &a, "cars", &envelope(100)).await;
    assert_eq!(status, 403, "{why}");
    assert_eq!(push(&s, &admin, "heads", &envelope(40)).await.0, 201);
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Close(frame) = m {
                return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
            }
        }
        None
    })
    .await
    .expect("closed within 5 s");
    assert_eq!(closed, Some((1008, "revoked".to_owned())));
    let (_, body) = admin.send(&s, "GET", "/members", b"").await;
    assert!(!String::from_utf8_lossy(&body).contains(&a.did().to_string()));
    // A watch without a token is refused before the upgrade.
    let url = format!("ws://{}{path}", s.addr);
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("expected a 401, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn revoking_a_device_stops_whom_it_delegated_to() {
    let s = Server::start_secure(&StoreSpec::temp_folder(), &[]);
    let admin = create_ledger(&s).await;
    let writer = admin.add(&s, "/ledger/write").await;
    let second = writer.add(&s, "/ledger/write").await;
    assert_eq!(push(&s, &second, "cars", &envelope(50)).await.0, 201);
    let body = serde_json::json!({ "did": writer.did().to_string() }).to_string();
    assert_eq!(
        writer.send(&s, "POST", "/revoke", body.as_bytes()).await.0,
        403,
        "admin only"
    );
    assert_eq!(
        admin.send(&s, "POST", "/revoke", body.as_bytes()).await.0,
        201
    );
    let (status, why) = push(&s, &second, "cars", &envelope(50)).await;
    assert_eq!(status, 403, "{why}");
    assert!(why.contains("is revoked"), "{why}");
    let bad = admin
        .send(&s, "POST", "/revoke", b"{\"did\": \"did:web:x\"}")
        .await;
    assert_eq!(bad.0, 400);
    let own = serde_json::json!({ "did": admin.ledger.to_string() }).to_string();
    assert_eq!(
        admin.send(&s, "POST", "/revoke", own.as_bytes()).await.0,
        400
    );
}
