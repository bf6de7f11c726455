//! The server on a local folder store: API behaviour, bad input, races, real time, restarts, CLI.

mod common;

use std::time::Duration;

use common::{envelope, frames, name_of, scenarios, Server, StoreSpec};

#[tokio::test]
async fn health_and_ledger_create() {
    let s = Server::start(&StoreSpec::temp_folder());
    assert_eq!(s.get("/health").await, (200, b"ok".to_vec()));
    let a = s.new_ledger().await;
    let b = s.new_ledger().await;
    assert_ne!(a, b);
    assert_eq!(
        s.list(&a, "heads", "").await["names"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn a_get_of_many_leaves_out_what_passes_16_mib() {
    let s = Server::start(&StoreSpec::temp_folder());
    let ledger = s.new_ledger().await;
    let mut names = Vec::new();
    for _ in 0..9 {
        let (status, name) = s.put(&ledger, "cars", &envelope(2_200_000)).await;
        assert_eq!(status, 201);
        names.push(format!("cars/{name}"));
    }
    let (status, answer) = s.get_many(&ledger, &names.join("\n")).await;
    assert_eq!(status, 200);
    let got = frames(&answer);
    assert_eq!(got.len(), 9);
    assert!(got[..8]
        .iter()
        .all(|g| g.as_ref().is_ok_and(|b| b.len() == 2_200_017)));
    assert_eq!(
        got[8],
        Err(u32::MAX - 1),
        "the ninth is left for a later request"
    );
    let (status, answer) = s.get_many(&ledger, &names[8]).await;
    assert_eq!((status, frames(&answer).len()), (200, 1));
}

#[tokio::test]
async fn round_trip() {
    scenarios::round_trip(&StoreSpec::temp_folder()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_only_race() {
    scenarios::create_only_race(&StoreSpec::temp_folder()).await;
}

#[tokio::test]
async fn two_instances_real_time() {
    scenarios::two_instances(&StoreSpec::temp_folder()).await;
}

#[tokio::test]
async fn restart_keeps_everything() {
    scenarios::restart_keeps_everything(&StoreSpec::temp_folder()).await;
}

#[tokio::test]
async fn bad_input_is_4xx_and_the_server_keeps_serving() {
    let s = Server::start(&StoreSpec::temp_folder());
    let ledger = s.new_ledger().await;
    let good = envelope(100);
    let good_name = name_of(&good);
    let other = name_of(&envelope(100));

    assert_eq!(
        s.put_as(&ledger, "heads", &other, &good).await,
        400,
        "name mismatch"
    );
    let garbage = b"NOPE\x01 thirty-three bytes of not an envelope".to_vec();
    assert_eq!(s.put(&ledger, "cars", &garbage).await.0, 400, "bad magic");
    let mut v2 = envelope(100);
    v2[4] = 2;
    assert_eq!(s.put(&ledger, "cars", &v2).await.0, 400, "bad version");
    assert_eq!(
        s.put(&ledger, "heads", &envelope(10)).await.0,
        400,
        "shorter than 33 bytes"
    );

    // Size bounds: at the bound is fine, one byte more is 413.
    assert_eq!(
        s.put(&ledger, "heads", &envelope((64 << 10) - 17)).await.0,
        201
    );
    assert_eq!(
        s.put(&ledger, "heads", &envelope((64 << 10) - 16)).await.0,
        413
    );
    assert_eq!(
        s.put(&ledger, "cars", &envelope((8 << 20) - 17)).await.0,
        201
    );
    assert_eq!(
        s.put(&ledger, "cars", &envelope((8 << 20) - 16)).await.0,
        413
    );

    let unknown = "aaaaaaaaaaaaaaaaaaaaaaaaaa";
    assert_eq!(
        s.put(unknown, "heads", &good).await.0,
        404,
        "unknown ledger"
    );
    assert_eq!(s.get(&format!("/v1/ledgers/{unknown}/heads/")).await.0, 404);
    assert_eq!(
        s.get(&format!("/v1/ledgers/{unknown}/heads/{good_name}"))
            .await
            .0,
        404
    );
    assert_eq!(
        s.put_as(&ledger, "blobs", &good_name, &good).await,
        400,
        "bad kind"
    );
    assert_eq!(
        s.get(&format!("/v1/ledgers/{ledger}/heads/{good_name}"))
            .await
            .0,
        404
    );
    assert_eq!(
        s.get(&format!("/v1/ledgers/{ledger}/heads/?limit=0"))
            .await
            .0,
        400
    );
    assert_eq!(
        s.get(&format!("/v1/ledgers/{ledger}/heads/?limit=1001"))
            .await
            .0,
        400
    );
    assert_eq!(
        s.get(&format!("/v1/ledgers/{ledger}/heads/?limit=x"))
            .await
            .0,
        400
    );
    assert_eq!(
        s.get(&format!("/v1/ledgers/{ledger}/heads/?after=.."))
            .await
            .0,
        400
    );

    // Paths a URL library would normalise go over raw TCP; none may reach the store or fail with 5xx.
    let up = format!("{}..", &good_name[..57]);
    let long = format!("{good_name}a");
    let upper = good_name.to_uppercase();
    let paths = [
        format!("/v1/ledgers/{ledger}/heads/.."),
        format!("/v1/ledgers/{ledger}/heads/%2e%2e"),
        format!("/v1/ledgers/{ledger}/heads/%2E%2E%2F%2E%2E%2Fledger"),
        format!("/v1/ledgers/{ledger}/heads/{up}"),
        format!("/v1/ledgers/{ledger}/heads/{long}"),
        format!("/v1/ledgers/{ledger}/heads/{upper}"),
        format!(
            "/v1/ledgers/{ledger}/heads/{}%2f{}",
            &good_name[..29],
            &good_name[30..]
        ),
        format!("/v1/ledgers/{ledger}/%2e%2e/{good_name}"),
        format!("/v1/ledgers/../heads/{good_name}"),
        format!("/v1/ledgers/%2e%2e/heads/{good_name}"),
        format!("/v1/ledgers/{}/heads/{good_name}", ledger.to_uppercase()),
        format!("/v1/ledgers/{ledger}1/heads/{good_name}"),
        format!("/v1/ledgers/{}/heads/{good_name}", &ledger[..25]),
        format!("/v1/ledgers/{}8/heads/{good_name}", &ledger[..25]),
        format!("/v1/ledgers/{ledger}/heads/%ff%fe"),
        format!("/v1/ledgers/{ledger}/heads/{good_name}/extra"),
        "/v1/ledgers/%00/watch".to_owned(),
        "/../../etc/passwd".to_owned(),
    ];
    for p in &paths {
        for m in ["GET", "PUT", "DELETE"] {
            let code = s.raw_status(m, p);
            assert!((400..=405).contains(&code), "{m} {p} -> {code}");
        }
    }
    assert_eq!(
        s.delete(&format!("/v1/ledgers/{ledger}/cars/{good_name}"))
            .await,
        405
    );
    // a method a route does not have: 405 with a short reason
    let r = common::client()
        .patch(s.url(&format!("/v1/ledgers/{ledger}/cars/{good_name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.text().await.unwrap(), "method not allowed");
    assert_eq!(
        s.get("/health").await,
        (200, b"ok".to_vec()),
        "still serving"
    );
    assert_eq!(s.put(&ledger, "heads", &good).await.0, 201, "still writing");
}

#[tokio::test]
async fn cors_preflight_allows_any_origin() {
    let s = Server::start(&StoreSpec::temp_folder());
    let r = common::client()
        .request(reqwest::Method::OPTIONS, s.url("/v1/ledgers"))
        .header("origin", "http://127.0.0.1:5173")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn watch_hears_puts_on_the_same_instance() {
    let s = Server::start_with(&StoreSpec::temp_folder(), &["--poll-ms", "60000"]);
    let ledger = s.new_ledger().await;
    let mut w = s.watch(&ledger).await;
    let (_, head) = s.put(&ledger, "heads", &envelope(40)).await;
    assert_eq!(w.expect_put(&head, Duration::from_secs(2)).await, "heads");
    let (_, car) = s.put(&ledger, "cars", &envelope(400)).await;
    assert_eq!(w.expect_put(&car, Duration::from_secs(2)).await, "cars");
    assert_eq!(s.put(&ledger, "heads", &envelope(40)).await.0, 201);
    assert_eq!(
        s.raw_status("GET", "/v1/ledgers/aaaaaaaaaaaaaaaaaaaaaaaaaa/watch"),
        404
    );
}

#[tokio::test]
async fn without_open_every_ledger_request_needs_a_token() {
    // Until authorization existed the server refused to start without --open; now it enforces it.
    let s = Server::start_secure(&StoreSpec::temp_folder(), &[]);
    assert_eq!(s.get("/health").await, (200, b"ok".to_vec()));
    let r = common::client()
        .post(s.url("/v1/ledgers"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// Reads from `s` until the server closes the connection (or `within` passes); returns what came.
fn read_until_closed(s: &mut std::net::TcpStream, within: Duration) -> Option<String> {
    use std::io::Read;
    s.set_read_timeout(Some(within)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&got).into_owned())
            }
            Err(_) => return None, // still open after `within`
        }
    }
}

#[tokio::test]
async fn clients_that_stall_are_cut_off_and_connections_are_capped() {
    use std::io::Write;
    use std::net::TcpStream;
    let s = Server::start_with(
        &StoreSpec::temp_folder(),
        &["--stall-ms", "300", "--max-connections", "3"],
    );
    let ledger = s.new_ledger().await;
    // half a request head: closed, without an answer
    let mut half = TcpStream::connect(&s.addr).unwrap();
    half.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    assert!(
        read_until_closed(&mut half, Duration::from_secs(5)).is_some(),
        "half a head is cut off"
    );
    // an idle keep-alive connection: answered, then closed
    let mut idle = TcpStream::connect(&s.addr).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let answered = read_until_closed(&mut idle, Duration::from_secs(5)).expect("idle closed");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    // a body that stops coming: 408, and nothing stored
    let mut slow = TcpStream::connect(&s.addr).unwrap();
    let body = envelope(100);
    let head = format!(
        "PUT /v1/ledgers/{ledger}/cars/{} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        name_of(&body),
        body.len()
    );
    slow.write_all(head.as_bytes()).unwrap();
    slow.write_all(&body[..10]).unwrap();
    let answer = read_until_closed(&mut slow, Duration::from_secs(5)).expect("slow body answered");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(
        s.list(&ledger, "cars", "").await["names"],
        serde_json::json!([])
    );
    // three connections held open (one sends nothing, one part of the HTTP/2 preface, one all
    // of it): a fourth is closed unread…
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    held[1].write_all(b"PRI * HTTP/2.0\r\n").unwrap();
    held[2]
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut fourth = TcpStream::connect(&s.addr).unwrap();
    let _ = fourth.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        read_until_closed(&mut fourth, Duration::from_secs(2)).as_deref(),
        Some(""),
        "over the cap: closed without an answer"
    );
    // …until the server cuts the stalled ones off (h2c is not served); then it answers again
    for (i, c) in held.iter_mut().enumerate() {
        assert_eq!(
            read_until_closed(c, Duration::from_secs(3)).as_deref(),
            Some(""),
            "held connection {i} was not closed"
        );
    }
    assert_eq!(s.get("/health").await, (200, b"ok".to_vec()));
    drop(held);
}

#[tokio::test]
async fn uploads_share_a_memory_budget_and_one_that_cannot_get_its_share_is_answered_503() {
    use std::io::Write;
    use std::net::TcpStream;
    let s = Server::start_with(
        &StoreSpec::temp_folder(),
        &["--stall-ms", "400", "--max-memory-mib", "16"],
    );
    let ledger = s.new_ledger().await;
    // two uploads declaring 8 MiB each and sending a byte at a time hold the whole budget…
    let big = envelope((8 << 20) - 17);
    let head = format!(
        "PUT /v1/ledgers/{ledger}/cars/{} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        name_of(&big),
        big.len()
    );
    let mut slow: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut c = TcpStream::connect(&s.addr).unwrap();
            c.write_all(head.as_bytes()).unwrap();
            c
        })
        .collect();
    let trickle = std::thread::spawn(move || {
        for i in 0..12 {
            for c in &mut slow {
                let _ = c.write_all(&[0u8]);
            }
            std::thread::sleep(Duration::from_millis(100));
            if i == 11 {
                drop(slow); // …until they go away
                return;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // …so a third upload waits the stall time for its share, then gets 503, and nothing is stored
    let small = envelope(100);
    assert_eq!(s.put(&ledger, "heads", &small).await.0, 503);
    trickle.join().unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        s.list(&ledger, "heads", "").await["names"],
        serde_json::json!([])
    );
    // the budget comes back with them: uploads and answers go through again
    assert_eq!(s.put(&ledger, "heads", &small).await.0, 201);
    let (status, name) = s.put(&ledger, "cars", &big).await;
    assert_eq!(status, 201);
    let (status, got) = s.get(&format!("/v1/ledgers/{ledger}/cars/{name}")).await;
    assert_eq!((status, got.len()), (200, big.len()));
}

#[tokio::test]
async fn watchers_count_against_the_connection_cap_and_are_dropped_when_silent_or_too_chatty() {
    use std::io::Write;
    use std::net::TcpStream;
    let s = Server::start_with(
        &StoreSpec::temp_folder(),
        &["--stall-ms", "300", "--max-connections", "2"],
    );
    let ledger = s.new_ledger().await;
    // two open sockets hold both slots: a third connection is closed unread
    let mut a = s.watch(&ledger).await;
    let mut b = s.watch(&ledger).await;
    let mut third = TcpStream::connect(&s.addr).unwrap();
    let _ = third.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        read_until_closed(&mut third, Duration::from_secs(2)).as_deref(),
        Some(""),
        "two watchers fill a cap of 2"
    );
    // a watcher that reads (and so answers the pings) stays, past 3 silent pings' time
    assert!(
        !b.closed_within(Duration::from_millis(1500)).await,
        "a live watcher was dropped"
    );
    // one that stops reading answers no ping: dropped after 3 pings, and its slot comes free
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        a.closed_within(Duration::from_secs(2)).await,
        "a silent watcher stays"
    );
    assert_eq!(s.get("/health").await, (200, b"ok".to_vec()));
    // a message over 4 KiB closes the socket instead of being buffered
    b.send_text(64 * 1024).await;
    assert!(
        b.closed_within(Duration::from_secs(5)).await,
        "a 64 KiB message was buffered"
    );
    let mut c = s.watch(&ledger).await;
    c.send_text(100).await; // small messages are ignored
    let body = envelope(100);
    assert_eq!(s.put(&ledger, "heads", &body).await.0, 201);
    assert_eq!(
        c.expect_put(&name_of(&body), Duration::from_secs(5)).await,
        "heads"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_an_answer_is_cut_off() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let s = Server::start_with(
        &StoreSpec::temp_folder(),
        &["--stall-ms", "300", "--max-connections", "1"],
    );
    // each helper call opens its own connection: the one before must be closed as idle (300 ms)
    let idle = || tokio::time::sleep(Duration::from_millis(600));
    let ledger = s.new_ledger().await;
    let mut keys = Vec::new();
    for _ in 0..3 {
        idle().await;
        let (status, name) = s.put(&ledger, "cars", &envelope(7 << 20)).await;
        assert_eq!(status, 201);
        keys.push(format!("cars/{name}"));
    }
    let body = keys.join("\n");
    idle().await;
    let mut c = TcpStream::connect(&s.addr).unwrap();
    write!(
        c,
        "POST /v1/ledgers/{ledger}/get HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // never read: an answer of ~21 MiB cannot all sit in the two sockets' buffers
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        s.get("/health").await,
        (200, b"ok".to_vec()),
        "the stalled answer still holds the only slot"
    );
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    assert!(
        got.len() < 21 << 20,
        "{} bytes: the whole answer",
        got.len()
    );
}
