//! Store-independent scenarios: each runs against fresh servers on the given store (folder or S3).

use std::time::Duration;

use super::{envelope, frames, name_of, Server, StoreSpec};

/// Create a ledger, then put/get/list/page/delete cars and heads.
pub async fn round_trip(spec: &StoreSpec) {
    let s = Server::start(spec);
    let ledger = s.new_ledger().await;
    assert_eq!(ledger.len(), 26);
    assert!(ledger
        .bytes()
        .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c)));

    let car = envelope(500);
    let (status, car_name) = s.put(&ledger, "cars", &car).await;
    assert_eq!(status, 201);
    assert!(car_name.starts_with("bafkrei") && car_name.len() == 59);
    assert_eq!(
        s.get(&format!("/v1/ledgers/{ledger}/cars/{car_name}"))
            .await,
        (200, car.clone())
    );

    let mut heads = Vec::new();
    for _ in 0..3 {
        let (status, name) = s.put(&ledger, "heads", &envelope(40)).await;
        assert_eq!(status, 201);
        heads.push(name);
    }
    heads.sort();
    assert_eq!(
        s.list(&ledger, "heads", "").await["names"],
        serde_json::json!(heads)
    );
    assert_eq!(
        s.get(&format!("/v1/ledgers/{ledger}/heads")).await.0,
        200,
        "no trailing slash"
    );
    assert_eq!(
        s.list(&ledger, "cars", "").await["names"],
        serde_json::json!([car_name])
    );
    assert!(s.list(&ledger, "cars", "").await.get("next").is_none());

    // Paging.
    let p1 = s.list(&ledger, "heads", "?limit=2").await;
    assert_eq!(p1["names"], serde_json::json!(heads[..2]));
    assert_eq!(p1["next"], heads[1].as_str());
    let p2 = s
        .list(&ledger, "heads", &format!("?after={}&limit=2", heads[1]))
        .await;
    assert_eq!(p2["names"], serde_json::json!(heads[2..]));
    assert!(p2.get("next").is_none());

    // Paging through more names than a page holds, by `next`: every name once, in order.
    let mut cars = vec![car_name.clone()];
    for _ in 0..24 {
        cars.push(s.put(&ledger, "cars", &envelope(30)).await.1);
    }
    cars.sort();
    let (mut paged, mut after) = (Vec::new(), String::new());
    loop {
        let q = match after.as_str() {
            "" => "?limit=4".to_string(),
            a => format!("?after={a}&limit=4"),
        };
        let page = s.list(&ledger, "cars", &q).await;
        let names = page["names"].as_array().unwrap().clone();
        assert!(names.len() <= 4);
        paged.extend(names.into_iter().map(|n| n.as_str().unwrap().to_owned()));
        match page.get("next").and_then(|n| n.as_str()) {
            Some(n) => after = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(paged, cars);

    // The one delete, idempotent.
    let path = format!("/v1/ledgers/{ledger}/heads/{}", heads[0]);
    assert_eq!(s.delete(&path).await, 204);
    assert_eq!(s.delete(&path).await, 204);
    assert_eq!(s.get(&path).await.0, 404);
    assert_eq!(
        s.list(&ledger, "heads", "").await["names"],
        serde_json::json!(heads[1..])
    );
    assert_eq!(
        s.delete(&format!("/v1/ledgers/{ledger}/cars/{car_name}"))
            .await,
        405
    );
    assert_eq!(
        s.get(&format!("/v1/ledgers/{ledger}/cars/{car_name}"))
            .await
            .0,
        200
    );
    // POST is the same create-only write (the browser client's: no CORS preflight)
    let posted = envelope(300);
    assert_eq!(s.post(&ledger, "cars", &posted).await, 201);
    assert_eq!(s.post(&ledger, "cars", &posted).await, 200, "idempotent");
    assert_eq!(
        s.get(&format!("/v1/ledgers/{ledger}/cars/{}", name_of(&posted)))
            .await,
        (200, posted.clone())
    );

    // Several objects in one request, in the order asked, an absent one marked.
    let absent = name_of(b"never stored");
    let body = format!(
        "cars/{}\nheads/{}\ncars/{absent}\ncars/{car_name}",
        name_of(&posted),
        heads[1]
    );
    let (status, answer) = s.get_many(&ledger, &body).await;
    assert_eq!(status, 200);
    let got = frames(&answer);
    assert_eq!(got.len(), 4);
    assert_eq!(got[0], Ok(posted));
    assert_eq!(name_of(got[1].as_ref().unwrap()), heads[1]);
    assert_eq!(got[2], Err(u32::MAX));
    assert_eq!(got[3], Ok(car));
    // bad requests: 4xx, and the server keeps serving
    let too_many = vec![format!("cars/{absent}"); 65].join("\n");
    for bad in [
        "",
        "cars/",
        "files/x",
        "cars/../x",
        &format!("cars/{absent}\n"),
        &too_many,
    ] {
        assert_eq!(s.get_many(&ledger, bad).await.0, 400, "{bad:?}");
    }
    let unknown = "aaaaaaaaaaaaaaaaaaaaaaaaaa";
    let (status, _) = s.get_many(unknown, &format!("cars/{absent}")).await;
    assert_eq!(status, 404);
    assert_eq!(s.get_many(&ledger, &body).await.0, 200);
}

/// 32 concurrent PUTs of one name: all succeed, exactly one creates; a later re-put is a 200.
pub async fn create_only_race(spec: &StoreSpec) {
    let s = Server::start(spec);
    let ledger = s.new_ledger().await;
    for kind in ["heads", "cars"] {
        let bytes = envelope(1000);
        let name = name_of(&bytes);
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (url, body) = (
                    s.url(&format!("/v1/ledgers/{ledger}/{kind}/{name}")),
                    bytes.clone(),
                );
                tokio::spawn(async move {
                    let r = super::client().put(url).body(body).send().await.unwrap();
                    r.status().as_u16()
                })
            })
            .collect();
        let mut codes = Vec::new();
        for t in tasks {
            codes.push(t.await.unwrap());
        }
        codes.sort();
        let created = codes.iter().filter(|&&c| c == 201).count();
        let existed = codes.iter().filter(|&&c| c == 200).count();
        assert_eq!((created, existed), (1, 31), "{kind}: {codes:?}");
        assert_eq!(
            s.put(&ledger, kind, &bytes).await.0,
            200,
            "idempotent re-put"
        );
        assert_eq!(
            s.get(&format!("/v1/ledgers/{ledger}/{kind}/{name}")).await,
            (200, bytes)
        );
    }
}

/// Two instances on one store: a head PUT on A reaches a watcher on B within 2 s (by polling), and
/// a watcher on A hears it at once.
pub async fn two_instances(spec: &StoreSpec) {
    let a = Server::start(spec);
    let b = Server::start(spec);
    let ledger = a.new_ledger().await;
    let (status, old) = a.put(&ledger, "heads", &envelope(40)).await;
    assert_eq!(status, 201);
    let mut on_b = b.watch(&ledger).await;
    let mut on_a = a.watch(&ledger).await;
    let (status, name) = a.put(&ledger, "heads", &envelope(40)).await;
    assert_eq!(status, 201);
    assert_eq!(
        on_a.expect_put(&name, Duration::from_secs(2)).await,
        "heads"
    );
    assert_eq!(
        on_b.expect_put(&name, Duration::from_secs(2)).await,
        "heads"
    );
    // And the other way round; nothing is announced twice, and the head present before "ready" is not.
    let (_, back) = b.put(&ledger, "heads", &envelope(40)).await;
    assert_eq!(
        on_a.expect_put(&back, Duration::from_secs(2)).await,
        "heads"
    );
    assert_eq!(
        on_b.expect_put(&back, Duration::from_secs(2)).await,
        "heads"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    for w in [&mut on_a, &mut on_b] {
        if let Some(m) = w.next_json(Duration::from_millis(100)).await {
            panic!("unexpected extra message {m} (old head {old})");
        }
    }
}

/// A server restarted on the same store still has the ledger and everything in it.
pub async fn restart_keeps_everything(spec: &StoreSpec) {
    let s = Server::start(spec);
    let ledger = s.new_ledger().await;
    let car = envelope(3000);
    let head = envelope(40);
    let (_, car_name) = s.put(&ledger, "cars", &car).await;
    let (_, head_name) = s.put(&ledger, "heads", &head).await;
    let _watcher = s.watch(&ledger).await;
    let started = std::time::Instant::now();
    assert_eq!(s.terminate().code(), Some(0), "graceful exit on SIGTERM");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited for a watcher"
    );

    let s = Server::start(spec);
    assert_eq!(
        s.get(&format!("/v1/ledgers/{ledger}/cars/{car_name}"))
            .await,
        (200, car)
    );
    assert_eq!(
        s.get(&format!("/v1/ledgers/{ledger}/heads/{head_name}"))
            .await,
        (200, head)
    );
    assert_eq!(
        s.list(&ledger, "heads", "").await["names"],
        serde_json::json!([head_name])
    );
    assert_eq!(
        s.put(&ledger, "heads", &envelope(40)).await.0,
        201,
        "still writable"
    );
}
