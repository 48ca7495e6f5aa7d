//! A job paid in an ERC-20 token, end to end: the devnet's test token
//! (`DevToken`, 6 decimals), `vtrain job post --token`, a solver that takes
//! token jobs (`--min-reward TOKEN=…`) bonds in the token and cheats, the
//! honest watchtower refutes it (its bond in ETH) and is paid its share of
//! the solver's bond in the token; the submitter gets its reward back in it.

use std::time::Duration;

use alloy::primitives::U256;
use vtrain_dispute::market::status;
use vtrain_e2e::{Net, SOLVER, SUBMITTER, VERIFIER};

use crate::common::{eth, settle_with, small_spec};

/// `n` vUSD in its smallest unit (6 decimals).
fn vusd(n: u64) -> U256 {
    U256::from(n) * U256::from(1_000_000u64)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_job_pays_the_refuter_in_the_token() {
    let net = Net::start().await;
    let token = net.dev_token();
    let token_flag = token.to_string();
    let (submitter, solver_account, watchtower) = (
        net.address(SUBMITTER),
        net.address(SOLVER),
        net.address(VERIFIER),
    );
    let funded = net.token_balance(token, submitter).await;
    assert_eq!(funded, U256::from(vtrain_deploy::DEV_TOKEN_FUNDING));
    let solver = net.solver(&[
        "--fault",
        "flip-ulp@13",
        "--min-reward",
        &format!("{token_flag}=100"),
    ]);
    let verifier = net.verifier(&[]);
    let spec = small_spec(&net);

    // Clumsy first: more decimals than the token has, and an account with
    // too few tokens. Each is refused with its reason, and nothing is sent.
    let nonce_before = net.nonce(submitter).await;
    let too_fine = net.post_with(
        &spec,
        "1h",
        &["--token", &token_flag, "--reward", "1.0000001"],
    );
    assert_eq!(too_fine.status.code(), Some(3), "{too_fine:?}");
    assert!(
        String::from_utf8_lossy(&too_fine.stderr).contains("6 decimal places"),
        "{}",
        String::from_utf8_lossy(&too_fine.stderr)
    );
    let too_much = net.post_with(
        &spec,
        "1h",
        &["--token", &token_flag, "--reward", "2000000"],
    );
    assert_eq!(too_much.status.code(), Some(3), "{too_much:?}");
    assert!(
        String::from_utf8_lossy(&too_much.stderr).contains("holds 1000000 vUSD"),
        "{}",
        String::from_utf8_lossy(&too_much.stderr)
    );
    let not_a_token = net.post_with(
        &spec,
        "1h",
        &["--token", &net.address(7).to_string(), "--reward", "1"],
    );
    assert_eq!(not_a_token.status.code(), Some(3), "{not_a_token:?}");
    assert_eq!(net.nonce(submitter).await, nonce_before, "nothing was sent");

    // The job: 250 vUSD, a 100 vUSD solver bond.
    let out = net.post_with(
        &spec,
        "1h",
        &[
            "--token",
            &token_flag,
            "--reward",
            "250",
            "--solver-bond",
            "100",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let posted: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(posted["currency"], "vUSD");
    assert_eq!(posted["reward_wei"], vusd(250).to_string());
    let job = posted["job_id"].as_u64().expect("job id");
    let record = net.market().job(job).await.expect("job");
    assert_eq!(record.token, token);
    assert_eq!(U256::from(record.reward), vusd(250));

    let outcome = settle_with(&net, job, Duration::from_secs(180), false).await;
    assert_eq!(
        outcome,
        status::SLASHED,
        "solver:\n{}\nverifier:\n{}",
        solver.log(),
        verifier.log()
    );
    // The solver bonded in the token (and lost it); no ETH bond.
    assert_eq!(
        net.token_balance(token, solver_account).await,
        funded - vusd(100)
    );
    // The watchtower: its ETH bond back, and half the solver's token bond
    // (the rest is burned), both withdrawn by the agent itself.
    net.wait_withdrawn(watchtower, eth(1)).await;
    vtrain_e2e::wait_until(
        Duration::from_secs(30),
        "the token share withdrawn",
        || async { (net.withdrawn_in(token, watchtower).await == vusd(50)).then_some(()) },
    )
    .await;
    assert_eq!(
        net.token_balance(token, watchtower).await,
        funded + vusd(50)
    );
    // The submitter: the reward back in the token, withdrawn with the CLI
    // (it finds the token among the account's jobs).
    assert_eq!(net.credits_in(token, submitter).await, vusd(250));
    let out = net.cli(&["job", "withdraw", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let withdrawn: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(withdrawn["tokens"][0]["symbol"], "vUSD", "{withdrawn}");
    assert_eq!(withdrawn["tokens"][0]["amount"], vusd(250).to_string());
    assert_eq!(net.token_balance(token, submitter).await, funded);
    // The status shows the job's currency.
    let out = net.cli(&["job", "status", &job.to_string()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("250 vUSD"), "{text}");
}
