//! The step-report route is no CPU drain: it answers only while a game on the
//! trace is open, and a flood of requests during a dispute gets `429`s while
//! the solver answers every move in time and wins.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vtrain_dispute::market::status;
use vtrain_e2e::{Net, wait_until};

use crate::common::{settle, small_spec};

/// `GET url` over plain HTTP/1.1; the status code (0 if the request failed).
async fn http_status(host: &str, path: &str) -> u16 {
    let Ok(mut stream) = tokio::net::TcpStream::connect(host).await else {
        return 0;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return 0;
    }
    let mut head = [0u8; 12];
    if stream.read_exact(&mut head).await.is_err() {
        return 0;
    }
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_step_requests_during_a_dispute_does_not_delay_the_solver() {
    let net = Net::start().await;
    let solver = net.solver(&[]);
    let job = net.post(&small_spec(&net), "1h");
    net.wait_status(job, status::SUBMITTED, Duration::from_secs(60))
        .await;
    let url = solver.listen_url().expect("solver URL");
    let host = url.trim_start_matches("http://").to_owned();
    let trace = net.market().job(job).await.expect("job").traceRoot;
    let path = |t: u32| format!("/v1/traces/{trace}/steps/{t}");
    // No game: nothing to replay for anyone.
    let code = wait_until(Duration::from_secs(30), "the solver's server", || async {
        let code = http_status(&host, &path(3)).await;
        (code != 0 && code != 404).then_some(code)
    })
    .await;
    assert_eq!(code, 409, "refused while no game is open");

    let challenger = net.verifier(&["--dispute-honest-at", "13"]);
    crate::common::wait_for_a_game(&net).await;
    // Sixteen clients hammer the route for the rest of the game.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, limited) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut flood = Vec::new();
    for client in 0..16u32 {
        let (host, stop) = (host.clone(), stop.clone());
        let (served, limited) = (served.clone(), limited.clone());
        let paths: Vec<String> = (0..40).map(path).collect();
        flood.push(tokio::spawn(async move {
            let mut t = client as usize;
            while !stop.load(Ordering::Relaxed) {
                match http_status(&host, &paths[t % paths.len()]).await {
                    200 => served.fetch_add(1, Ordering::Relaxed),
                    429 => limited.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
                t += 16;
            }
        }));
    }
    let flooded = std::time::Instant::now();
    let outcome = settle(&net, job, Duration::from_secs(240)).await;
    stop.store(true, Ordering::Relaxed);
    let minutes = flooded.elapsed().as_secs() as usize / 60 + 1;
    for task in flood {
        let _ = task.await;
    }
    crate::common::assert_the_honest_solver_won(&net, outcome, &solver, &challenger).await;
    let served = served.load(Ordering::Relaxed);
    let limited = limited.load(Ordering::Relaxed);
    eprintln!("step reports: {served} served, {limited} refused with 429");
    assert!(limited > 0, "the flood was limited");
    // `vtrain_solver::step_reports::PER_CLIENT_PER_MINUTE`.
    let allowed = minutes * 30;
    assert!(
        served <= allowed,
        "one client's share a minute: {served} > {allowed}"
    );
}
