//! `docs/agents.md` § Reading the chain with `cast`, run as written against a
//! slashed job: the guide's commands work with Foundry's own `cast`, and the
//! flat getters say what the records hold.

use vtrain_dispute::market::status;
use vtrain_e2e::{Net, SOLVER, SUBMITTER, VERIFIER};

use crate::common::eth;

/// The guide's one `sh` block.
fn guide() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/agents.md");
    let doc = std::fs::read_to_string(path).expect("docs/agents.md");
    let section = doc
        .split("## Reading the chain with `cast`")
        .nth(1)
        .expect("the section");
    let block = section.split("```sh\n").nth(1).expect("its sh block");
    block.split("\n```").next().expect("closed").to_owned()
}

/// The guide with this test's node and manifest, each `cast` command
/// preceded by a marker line naming it; returns each command's output.
fn run_guide(net: &Net) -> Vec<(String, String)> {
    let cast = vtrain_deploy::find_tool("cast").expect("cast (run scripts/setup.sh)");
    let manifest = net.path("deployments").join("31337.json");
    let script: String = guide()
        .replace("http://127.0.0.1:8545", &net.rpc_url())
        .replace("deployments/31337.json", &manifest.display().to_string())
        .lines()
        .map(|line| {
            if line.starts_with("cast ") {
                format!("echo '### {}'\n{line}\n", line.replace('\'', ""))
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    let path = format!(
        "{}:{}",
        cast.parent().expect("folder").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .env("PATH", path)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the guide failed:\n{script}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .split("### ")
        .skip(1)
        .map(|part| {
            let (command, output) = part.split_once('\n').unwrap_or((part, ""));
            (command.to_owned(), output.trim().to_owned())
        })
        .collect()
}

/// The output of the guide's command that starts with `prefix`.
fn output<'a>(outputs: &'a [(String, String)], prefix: &str) -> &'a str {
    outputs
        .iter()
        .find(|(command, _)| command.starts_with(prefix))
        .map(|(_, output)| output.as_str())
        .unwrap_or_else(|| panic!("no command starts with {prefix:?}"))
}

/// A value as `cast` prints it: the number, without the `[1e18]` note.
fn values(output: &str) -> Vec<String> {
    output
        .lines()
        .map(|line| line.split(" [").next().unwrap_or(line).trim().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cast_guide_reads_a_slashed_job_its_game_and_the_payouts() {
    let net = Net::start().await;
    let (job, _agents) = crate::common::slashed_small_job(&net).await;
    let record = net.market().job(job).await.expect("job");
    let game = net.market().game_record(1).await.expect("game");
    let outputs = run_guide(&net);

    let summary = values(output(&outputs, "cast call $MARKET \"jobSummary"));
    let lower = |a: alloy::primitives::Address| a.to_string().to_lowercase();
    let expected_job = [
        status::SLASHED.to_string(),
        lower(vtrain_dispute::ETH),
        lower(net.address(SUBMITTER)),
        lower(net.address(SOLVER)),
        eth(10).to_string(),
        eth(5).to_string(),
        record.claimDeadline.to_string(),
        record.submitDeadline.to_string(),
        (record.submittedAt + record.challengeWindow).to_string(),
        "0".into(),
        "1".into(),
        record.modelRoot.to_string(),
    ];
    let summary: Vec<String> = summary.iter().map(|v| v.to_lowercase()).collect();
    assert_eq!(summary, expected_job, "jobSummary");

    let summary = values(output(&outputs, "cast call $GAME \"gameSummary"));
    let summary: Vec<String> = summary.iter().map(|v| v.to_lowercase()).collect();
    let expected_game = [
        job.to_string(),
        lower(net.address(SOLVER)),
        lower(net.address(VERIFIER)),
        eth(1).to_string(),
        "14".into(),
        "true".into(),
        "false".into(),
        "1".into(),
        game.setup.checkpoint.to_string(),
        game.range.lo.to_string(),
        game.range.hi.to_string(),
    ];
    assert_eq!(summary, expected_game, "gameSummary");
    assert_eq!(
        values(output(&outputs, "cast call $GAME \"turn")),
        ["0x0000000000000000000000000000000000000000", "0"],
        "nobody moves in a resolved game"
    );
    // The solver (the guide's address) withdrew nothing and is owed nothing.
    assert_eq!(
        values(output(&outputs, "cast call $MARKET \"credits")),
        ["0"]
    );
    // The watchtower's payout is among the credits and the withdrawals; the
    // slash is logged once.
    let watchtower = format!("{:x}", net.address(VERIFIER)).to_lowercase();
    for event in ["\"Credited", "\"Withdrawn"] {
        let logs = output(
            &outputs,
            &format!("cast logs --from-block 0 --address $MARKET {event}"),
        );
        assert!(
            logs.to_lowercase().contains(&watchtower),
            "{event}:\n{logs}"
        );
    }
    let finalized = output(
        &outputs,
        "cast logs --from-block 0 --address $MARKET \"JobFinalized",
    );
    assert!(
        !finalized.contains("transactionHash"),
        "a slashed job was not finalized:\n{finalized}"
    );
    // Filtered by its job id (topic 1): the one slash, with the solver as
    // topic 2 and one refutation in its data.
    let slashed = output(
        &outputs,
        "cast logs --from-block 0 --address $MARKET \"SolverSlashed",
    );
    assert_eq!(slashed.matches("transactionHash").count(), 1, "{slashed}");
    let solver = format!("{:x}", net.address(SOLVER)).to_lowercase();
    assert!(slashed.to_lowercase().contains(&solver), "{slashed}");
    assert!(
        slashed.contains(&format!("data: 0x{:064x}", 1)),
        "one refutation:\n{slashed}"
    );
}
