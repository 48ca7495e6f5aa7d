//! `vtrain explorer` against anvil: its JSON API says what the chain says
//! about a slashed job and its game, move by move; its event stream announces
//! a new job as it lands; bad requests get clear errors.

use std::time::Duration;

use alloy::transports::http::reqwest;
use serde_json::Value;
use vtrain_e2e::{Agent, Browser, Net, SOLVER, SUBMITTER, VERIFIER, wait_until};

use crate::common::{eth, small_spec};

/// GET `url`: the status and the body as JSON.
async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.expect("the explorer answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"));
    (status, body)
}

/// The next `head` event's data from an open event stream.
async fn next_head(stream: &mut reqwest::Response, buffer: &mut String) -> Value {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if let Some(data) = event
                .lines()
                .find_map(|line| line.strip_prefix("data:"))
                .filter(|_| event.contains("event: head"))
            {
                return serde_json::from_str(data.trim()).expect("the event's JSON");
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(30), stream.chunk())
            .await
            .expect("an event within 30 s")
            .expect("the stream")
            .expect("the stream is open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

fn lower(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_lowercase()
}

/// A devnet where a cheating solver's job was slashed by the watchtower's
/// game, paid out, and an explorer that follows it: the net, the explorer,
/// its URL and the job id.
async fn slashed_job_with_explorer() -> (Net, Agent, String, u64, [Agent; 2]) {
    let net = Net::start().await;
    let explorer = net.explorer();
    let base = explorer.listen_url().expect("its URL");
    let (job, agents) = crate::common::slashed_small_job(&net).await;
    (net, explorer, base, job, agents)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_explorer_shows_a_slashed_job_its_game_move_by_move_and_new_jobs_live() {
    let (net, explorer, base, job, agents) = slashed_job_with_explorer().await;
    let spec = small_spec(&net);
    let record = net.market().job(job).await.expect("job");

    // The list, once the explorer has read the slash.
    let jobs_url = format!("{base}/api/jobs");
    let rows = wait_until(Duration::from_secs(30), "the slash in the list", || async {
        let (code, rows) = get(&jobs_url).await;
        (code == 200 && rows[0]["status"] == "slashed").then_some(rows)
    })
    .await;
    let row = &rows[0];
    assert_eq!(row["id"], job);
    assert_eq!(
        lower(&row["submitter"]),
        format!("{:?}", net.address(SUBMITTER)).to_lowercase()
    );
    assert_eq!(
        lower(&row["solver"]),
        format!("{:?}", net.address(SOLVER)).to_lowercase()
    );
    assert_eq!(row["reward"]["wei"], eth(10).to_string());
    assert_eq!(row["reward"]["display"], "1");
    assert_eq!(row["reward"]["token"], "ETH");
    assert_eq!(row["solver_bond"]["display"], "0.5");
    assert_eq!(row["games"], 1);
    assert_eq!(row["open_games"], 0);
    assert_eq!(
        row["window_end"],
        record.submittedAt + record.challengeWindow
    );
    // Filters.
    let (_, slashed) = get(&format!("{jobs_url}?status=slashed")).await;
    assert_eq!(slashed.as_array().map(Vec::len), Some(1));
    let (_, finalized) = get(&format!("{jobs_url}?status=finalized")).await;
    assert_eq!(finalized.as_array().map(Vec::len), Some(0));
    let verifier = format!("{:?}", net.address(VERIFIER));
    let (_, none) = get(&format!("{jobs_url}?solver={verifier}")).await;
    assert_eq!(none.as_array().map(Vec::len), Some(0));

    // The job: its spec decoded, the result's roots as committed, where the
    // artifacts are announced, its game.
    let (code, detail) = get(&format!("{base}/api/jobs/{job}")).await;
    assert_eq!(code, 200, "{detail}");
    assert_eq!(detail["job_hash"], record.jobHash.to_string());
    assert_eq!(detail["dataset"]["root"], record.datasetRoot.to_string());
    assert!(
        !detail["dataset"]["locations"]
            .as_array()
            .expect("list")
            .is_empty()
    );
    assert_eq!(detail["spec"]["steps"], 40);
    assert_eq!(detail["spec"]["checkpoint_interval"], 10);
    let result = &detail["result"];
    assert_eq!(result["trace"]["root"], record.traceRoot.to_string());
    assert_eq!(result["model"]["root"], record.modelRoot.to_string());
    assert_eq!(result["checkpoint_roots"].as_array().map(Vec::len), Some(5));
    assert_eq!(result["submitted_at"], record.submittedAt);
    assert!(
        detail["progress"][0]
            .as_str()
            .is_some_and(|uri| uri.ends_with(&format!("/v1/jobs/{job}/progress"))),
        "{detail}"
    );
    assert_eq!(detail["games"][0]["outcome"], "challenger won");
    // The solver's losses, relayed from the route it announced.
    let (code, progress) = get(&format!("{base}/api/jobs/{job}/progress")).await;
    assert_eq!(code, 200, "{progress}");
    assert_eq!(
        (progress["step"].clone(), progress["steps"].clone()),
        (40.into(), 40.into())
    );
    let losses = progress["losses"].as_array().expect("losses");
    assert_eq!(losses.len(), 40);
    // The cheater's state after its flipped bit trains to a loss that is not
    // finite, reported as null; every other is a cross-entropy of 10 classes.
    assert!(
        losses
            .iter()
            .all(|l| l.is_null() || l.as_f64().is_some_and(|l| l > 0.0 && l < 10.0)),
        "{progress}"
    );
    assert!(
        losses.iter().filter(|l| l.is_null()).count() < 5,
        "{progress}"
    );
    assert_eq!(progress["source"], detail["progress"][0]);

    // The game, move by move: opened by the watchtower, narrowed by both,
    // ended by the chain's ALU refuting the solver's fp32 operation.
    let (code, game) = get(&format!("{base}/api/games/1")).await;
    assert_eq!(code, 200, "{game}");
    let on_chain = net.market().game_record(1).await.expect("game");
    assert_eq!(game["job_id"], job);
    assert_eq!(game["phase_name"], "resolved");
    assert_eq!(game["outcome"], "challenger won");
    assert_eq!(game["reason"], "the step was refuted by the chain's ALU");
    assert_eq!(game["settled"], true);
    assert_eq!(game["mover"], Value::Null);
    assert_eq!(
        (game["lo"].clone(), game["hi"].clone()),
        (on_chain.range.lo.into(), on_chain.range.hi.into())
    );
    let moves = game["moves"].as_array().expect("moves");
    let events: Vec<&str> = moves.iter().filter_map(|m| m["event"].as_str()).collect();
    assert_eq!(events.first(), Some(&"GameOpened"), "{events:?}");
    assert_eq!(events.last(), Some(&"GameResolved"), "{events:?}");
    assert!(
        events.contains(&"MidpointPosted") && events.contains(&"StepExecuted"),
        "{events:?}"
    );
    let solver = format!("{:?}", net.address(SOLVER)).to_lowercase();
    let watchtower = verifier.to_lowercase();
    for m in moves {
        assert!(
            m["gas_used"].as_u64().is_some_and(|gas| gas > 21_000),
            "{m}"
        );
        let sender = lower(&m["sender"]);
        assert!(sender == solver || sender == watchtower, "{m}");
    }
    let by = |event: &str| {
        moves
            .iter()
            .find(|m| m["event"] == event)
            .map(|m| lower(&m["sender"]))
    };
    // The clock each mover had left, replayed from the events: none for the
    // opening and the end; for the moves, each side's last is what the chain
    // stores. A side's clock only shrinks, but for the challenger's one
    // extension at the step reveal (one game on the job).
    let mut last_left = std::collections::BTreeMap::new();
    for m in moves {
        let event = m["event"].as_str().unwrap_or_default();
        if event == "GameOpened" || event == "GameResolved" {
            assert_eq!(m["clock_left"], Value::Null, "{m}");
            continue;
        }
        let left = m["clock_left"]
            .as_u64()
            .unwrap_or_else(|| panic!("no clock: {m}"));
        let sender = lower(&m["sender"]);
        if let Some(before) = last_left.insert(sender.clone(), left) {
            let extension = if event == "ListChosen" { 1_800 } else { 0 };
            assert!(left <= before + extension, "a clock grew: {m}");
        }
        assert!(m["time"].as_u64().is_some_and(|t| t > 0), "{m}");
    }
    assert_eq!(last_left.get(&solver), Some(&on_chain.clock.solverClock));
    assert_eq!(
        last_left.get(&watchtower),
        Some(&on_chain.clock.challengerClock)
    );
    // What it paid: the watchtower's bond back at the settlement, then its
    // share of the solver's bond (half of it; the rest is burned), in ETH.
    let paid: Vec<(String, String, String, String)> = game["payouts"]
        .as_array()
        .expect("payouts")
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap_or_default().to_owned(),
                p["role"].as_str().unwrap_or_default().to_owned(),
                p["amount"]["wei"].as_str().unwrap_or_default().to_owned(),
                p["amount"]["token"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let row = |kind: &str, amount: alloy::primitives::U256| {
        (
            kind.to_owned(),
            "challenger".to_owned(),
            amount.to_string(),
            "ETH".to_owned(),
        )
    };
    assert_eq!(
        paid,
        vec![
            row("settlement", crate::common::eth(1)),
            row(
                "share",
                crate::common::eth(5) / alloy::primitives::U256::from(2)
            ),
        ],
        "{}",
        game["payouts"]
    );
    // Read again, the senders and gas come from the explorer's receipt cache.
    let (_, again) = get(&format!("{base}/api/games/1")).await;
    assert_eq!(again["moves"], game["moves"]);
    assert_eq!(
        by("MidpointPosted"),
        Some(solver.clone()),
        "the solver bisects"
    );
    assert_eq!(
        by("MidpointJudged"),
        Some(watchtower.clone()),
        "the watchtower judges"
    );

    // Live: a page's event stream sees a new job land, and the list has it.
    let mut stream = reqwest::get(format!("{base}/api/events"))
        .await
        .expect("the event stream");
    assert_eq!(stream.status().as_u16(), 200);
    let mut buffer = String::new();
    let first = next_head(&mut stream, &mut buffer).await;
    let second_job = net.post(&spec, "1h");
    let landed = loop {
        let head = next_head(&mut stream, &mut buffer).await;
        assert!(
            head["version"].as_u64() > first["version"].as_u64(),
            "{head}"
        );
        let (_, rows) = get(&jobs_url).await;
        if rows[0]["id"] == second_job {
            break rows;
        }
    };
    assert_eq!(landed.as_array().map(Vec::len), Some(2));

    // Bad requests: clear errors, as JSON.
    for (path, code, says) in [
        ("/api/jobs/99", 404, "no job 99"),
        ("/api/jobs/99/progress", 404, "no job 99"),
        ("/api/jobs/abc", 400, "is not a job id"),
        ("/api/jobs?status=bogus", 400, "is none of"),
        ("/api/jobs?solver=0x12", 400, "an address"),
        ("/api/games/99", 404, "no game 99"),
        ("/api/games/-1", 400, "is not a game id"),
        (
            format!("/api/jobs/{job}/checkpoints/5").as_str(),
            404,
            "there is no checkpoint 5",
        ),
        ("/api/jobs/99/checkpoints/0", 404, "no job 99"),
        (
            format!("/api/jobs/{second_job}/checkpoints/0").as_str(),
            404,
            "no result yet",
        ),
    ] {
        let (status, body) = get(&format!("{base}{path}")).await;
        assert_eq!(status, code, "{path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(says)),
            "{path}: {body}"
        );
    }

    // The artifacts behind the checkpoint roots: each fetched from the
    // solver's trace route and its state root recomputed (the cheater's
    // checkpoints are its own committed states: the lie is in how they were
    // trained, not in what it serves). With the solver gone, the one not yet
    // checked is unavailable; those that checked out stay so.
    let checkpoint = |c: u32| {
        let base = base.clone();
        async move { get(&format!("{base}/api/jobs/{job}/checkpoints/{c}")).await }
    };
    for c in 0..4 {
        let (code, found) = checkpoint(c).await;
        assert_eq!(code, 200, "{found}");
        assert_eq!(found["status"], "ok", "{found}");
        assert_eq!(found["step"], c * 10);
        assert_eq!(
            found["root"], result["checkpoint_roots"][c as usize],
            "{found}"
        );
        assert!(
            found["source"]
                .as_str()
                .is_some_and(|s| s.ends_with(&format!("/checkpoints/{c}"))),
            "{found}"
        );
    }
    drop(agents);
    let (_, gone) = checkpoint(4).await;
    assert_eq!(gone["status"], "unavailable", "{gone}");
    assert!(
        gone["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{gone}"
    );
    let (_, kept) = checkpoint(0).await;
    assert_eq!(kept["status"], "ok", "{kept}");
    assert!(explorer.log().contains("explorer up"), "{}", explorer.log());
}

/// Where the browser test leaves its screenshots, for a person to look at.
fn screenshot(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/explorer-screenshots")
        .join(name)
}

/// `document.querySelector(selector)?.textContent` in the page.
fn text_of(selector: &str) -> String {
    format!("return document.querySelector({selector:?})?.textContent ?? null")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_explorer_pages_in_chromium_show_the_chain_and_update_live() {
    let (net, _explorer, base, job, _agents) = slashed_job_with_explorer().await;
    let record = net.market().job(job).await.expect("job");
    let (_, game) = get(&format!("{base}/api/games/1")).await;
    let browser = Browser::start().await;
    let wait = Duration::from_secs(30);

    // The list.
    browser.open(&format!("{base}/#/")).await;
    let status = browser
        .wait_for(
            &text_of(&format!("tr[data-job=\"{job}\"] [data-status]")),
            wait,
        )
        .await;
    assert_eq!(status, "slashed");
    let row = browser
        .eval(&text_of(&format!("tr[data-job=\"{job}\"]")))
        .await;
    assert!(row.as_str().is_some_and(|r| r.contains("1 ETH")), "{row}");
    browser
        .wait_for(&text_of("#live").replace("?? null", "=== 'live'"), wait)
        .await;
    browser.screenshot(&screenshot("jobs.png")).await;

    // The job: its result's roots, its checkpoints, its game.
    browser.open(&format!("{base}/#/jobs/{job}")).await;
    browser
        .wait_for(
            &text_of("h1").replace("?? null", "?.includes('Job #1')"),
            wait,
        )
        .await;
    let text = browser.text().await;
    for expected in [
        record.modelRoot.to_string(),
        record.traceRoot.to_string(),
        record.jobHash.to_string(),
        "challenger won".to_owned(),
        "0.5 ETH".to_owned(),
    ] {
        assert!(
            text.contains(&expected),
            "{expected} is not on the page:\n{text}"
        );
    }
    let progress = browser.wait_for(&text_of("#progress"), wait).await;
    assert!(
        progress
            .as_str()
            .is_some_and(|p| p.starts_with("Step 40 of 40")),
        "{progress}"
    );
    let drawn = browser
        .eval("return document.querySelector('#loss-chart path.raw').getAttribute('d').split(/[ML]/).length - 1")
        .await;
    let (_, relayed) = get(&format!("{base}/api/jobs/{job}/progress")).await;
    let finite = relayed["losses"]
        .as_array()
        .map(|l| l.iter().filter(|l| !l.is_null()).count());
    assert_eq!(
        drawn.as_u64(),
        finite.map(|n| n as u64),
        "one point a finite loss"
    );
    let checkpoints = browser
        .eval(
            "return document.querySelectorAll('main table')[0].querySelectorAll('tbody tr').length",
        )
        .await;
    assert_eq!(checkpoints, 5, "one row per checkpoint");
    let checked = browser
        .wait_for(
            "const cells = [...document.querySelectorAll('td.artifact')]; \
             return cells.length === 5 && cells.every((c) => c.textContent === 'checks out') ? 'all' : null",
            wait,
        )
        .await;
    assert_eq!(checked, "all", "every checkpoint is served and checks out");
    browser.screenshot(&screenshot("job.png")).await;

    // The game: every move, the narrowing done to the fp32 operation.
    browser.open(&format!("{base}/#/games/1")).await;
    let outcome = browser.wait_for(&text_of("#outcome"), wait).await;
    assert_eq!(outcome, "challenger won");
    let moves = browser
        .eval("return document.querySelectorAll('tr.move').length")
        .await;
    assert_eq!(
        moves.as_u64(),
        game["moves"].as_array().map(|m| m.len() as u64)
    );
    let payouts = browser
        .eval("return document.querySelectorAll('tr.payout').length")
        .await;
    assert_eq!(payouts, 2, "the bond back and the share");
    let done = browser
        .eval("return document.querySelectorAll('#levels li.done').length")
        .await;
    assert_eq!(done, 5, "every level of the narrowing was played");
    let text = browser.text().await;
    assert!(
        text.contains("StepExecuted") && text.contains("the step was refuted by the chain's ALU"),
        "{text}"
    );
    browser.screenshot(&screenshot("game.png")).await;

    // Live: the list gets a new job without a reload (a marker set on the
    // window survives).
    browser.open(&format!("{base}/#/")).await;
    browser
        .wait_for(
            &text_of(&format!("tr[data-job=\"{job}\"] [data-status]")),
            wait,
        )
        .await;
    browser.eval("window.vtrainMarker = 42; return true").await;
    let second = net.post(&small_spec(&net), "1h");
    browser
        .wait_for(
            &format!("return document.querySelector('tr[data-job=\"{second}\"]') !== null"),
            wait,
        )
        .await;
    assert_eq!(
        browser.eval("return window.vtrainMarker ?? null").await,
        42,
        "no reload"
    );

    // A page for a job that does not exist says so.
    browser.open(&format!("{base}/#/jobs/99")).await;
    let error = browser.wait_for(&text_of("#error"), wait).await;
    assert_eq!(error, "no job 99");
    // No console error on any page but that one: Chromium logs the page's
    // failed fetch of /api/jobs/99 (which the page handled), once for each
    // time the page drew itself (on the navigation, and again if a block
    // landed meanwhile); its presence also shows that the console is read.
    let errors = browser.console_errors().await;
    assert!(!errors.is_empty(), "the console was not read");
    assert!(
        errors
            .iter()
            .all(|e| e.contains("/api/jobs/99") && e.contains("404")),
        "{errors:#?}"
    );
    browser.close().await;
}
