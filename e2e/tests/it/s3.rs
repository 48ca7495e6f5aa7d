//! The agents' stores in a real S3 bucket (`s3s-fs`, started by the harness),
//! reached with the usual AWS environment variables: an honest job trains,
//! is served and verified out of the bucket, a corrupt object in the bucket
//! is caught by its root, and a wrong secret key is refused. The secret key
//! never reaches a log.

use std::path::Path;
use std::time::Duration;

use vtrain_dispute::market::status;
use vtrain_e2e::{Agent, Net, S3Server};

use crate::common::{
    assert_the_honest_solver_won, corrupt_every_file, fetch_model, settle, small_spec, verdict,
};

/// Files in `dir` (an object "folder" of the bucket); 0 if there is none.
fn objects(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.count())
}

/// Waits until `agent` is up with its store at `store`: its start line names
/// the store's URL (which holds no credential). A build without the `s3`
/// feature fails here, saying so.
async fn wait_up(agent: &Agent, store: &str) {
    let field = format!("store={store}");
    let start = std::time::Instant::now();
    while !agent.log().split_whitespace().any(|word| word == field) {
        let log = agent.log();
        assert!(
            !log.contains("cloud stores need a build"),
            "the agents were built without S3: build them with --features vtrain-store/s3\n{log}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the agent did not log {field:?} within 30 s:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The secret key appears in none of `agents`' output.
fn assert_no_secret(s3: &S3Server, agents: &[&Agent]) {
    for agent in agents {
        let log = agent.log();
        assert!(!log.is_empty(), "the agent logged nothing");
        assert!(
            !log.contains(s3.secret_key()),
            "an agent logged the S3 secret key:\n{log}"
        );
    }
}

/// A solver and a watchtower, each with its store under its own prefix of
/// one bucket: the job is trained into the bucket, verified by a full replay
/// against the checkpoints the solver serves from it, finalized, and its
/// model fetched through the solver.
#[tokio::test(flavor = "multi_thread")]
async fn a_solver_and_a_watchtower_on_s3_settle_an_honest_job() {
    let net = Net::start().await;
    let s3 = S3Server::start(&net.path("s3"), "vtrain");
    let (solver_store, verifier_store) = (s3.url("solver"), s3.url("watchtower"));
    let solver = net.solver_with_env(&["--store", &solver_store], &s3.env());
    let verifier = net.verifier_with_env(&["--store", &verifier_store], &s3.env());
    wait_up(&solver, &solver_store).await;
    wait_up(&verifier, &verifier_store).await;
    let job = net.post(&small_spec(&net), "1h");

    let outcome = settle(&net, job, Duration::from_secs(120)).await;
    assert_eq!(
        outcome,
        status::FINALIZED,
        "solver:\n{}\nwatchtower:\n{}\ns3s-fs:\n{}",
        solver.log(),
        verifier.log(),
        s3.log()
    );
    let verdict = verdict(&net, job, Duration::from_secs(5)).await;
    assert!(verdict["dispute"].is_null(), "{verdict}");
    assert_eq!(
        verdict["replayed"].as_array().map(Vec::len),
        Some(4),
        "a full replay: {verdict}"
    );

    // The artifacts are objects in the bucket, not files of a local store.
    assert_eq!(objects(&s3.object_file("solver/states")), 5, "S_0 … S_40");
    assert_eq!(objects(&s3.object_file("solver/models")), 1);
    assert_eq!(objects(&s3.object_file("watchtower/datasets")), 1);
    for local in ["solver-store", "verifier-store"] {
        assert!(!net.path(local).exists(), "{local} was not used");
    }
    // Served: the CLI fetches the model from the solver, which reads it from
    // the bucket.
    fetch_model(&net, job, "model.safetensors", &[]).await;
    assert_no_secret(&s3, &[&solver, &verifier]);
}

/// Every checkpoint object in the honest solver's bucket is corrupted on the
/// server's disk, then a deluded challenger disputes its result: the solver
/// finds each object's root wrong, quarantines it in the bucket, replays from
/// S_0 and wins the game.
#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_object_in_the_bucket_is_caught_by_its_root() {
    let net = Net::start().await;
    let s3 = S3Server::start(&net.path("s3"), "vtrain");
    let store = s3.url("solver");
    let mut solver = net.solver_with_env(&["--store", &store], &s3.env());
    wait_up(&solver, &store).await;
    let job = net.post(&small_spec(&net), "1h");
    net.wait_status(job, status::SUBMITTED, Duration::from_secs(60))
        .await;
    solver.kill9();
    assert!(corrupt_every_file(&s3.object_file("solver/states")) >= 5);

    let challenger = net.verifier(&["--dispute-honest-at", "13"]);
    solver.restart();
    let outcome = settle(&net, job, Duration::from_secs(240)).await;
    assert_the_honest_solver_won(&net, outcome, &solver, &challenger).await;

    assert!(
        objects(&s3.object_file("solver/quarantine/states")) >= 1,
        "the bad objects are kept aside in the bucket"
    );
    let log = solver.log();
    assert!(log.contains("quarantined"), "{log}");
    assert!(
        log.contains(&format!("{store}/states/")) && log.contains("is corrupt: its root is"),
        "the object is named by its S3 URL and caught by its root:\n{log}"
    );
    assert_no_secret(&s3, &[&solver]);
}

/// A solver whose secret key is wrong: the bucket refuses every request, the
/// solver says so (naming the store, never a secret) and claims nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_key_is_refused_and_never_logged() {
    let net = Net::start().await;
    let s3 = S3Server::start(&net.path("s3"), "vtrain");
    let wrong = format!("wrong-{}", s3.secret_key());
    let env: Vec<(String, String)> = s3
        .env()
        .into_iter()
        .map(|(key, value)| match key.as_str() {
            "AWS_SECRET_ACCESS_KEY" => (key, wrong.clone()),
            _ => (key, value),
        })
        .collect();
    let store = s3.url("solver");
    let solver = net.solver_with_env(&["--store", &store], &env);
    wait_up(&solver, &store).await;
    let job = net.post(&small_spec(&net), "1h");
    let log = vtrain_e2e::wait_until(Duration::from_secs(30), "the refusal", || async {
        let log = solver.log();
        log.contains("403 Forbidden").then_some(log)
    })
    .await;
    assert!(
        log.contains("not taking the job") && log.contains("SignatureDoesNotMatch"),
        "{log}"
    );
    assert_eq!(net.status(job).await, status::OPEN, "{log}");
    assert_no_secret(&s3, &[&solver]);
}
