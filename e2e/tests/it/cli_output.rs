//! The CLI's output, pinned by snapshots (paths and hashes that change from
//! run to run are redacted).

use vtrain_e2e::{Net, binary};

use crate::common::small_spec;

fn text(out: &std::process::Output, net: &Net) -> String {
    let all = format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    all.replace(&net.dir.path().display().to_string(), "[TMP]")
        .replace(&net.rpc_url(), "[RPC]")
}

#[test]
fn help_lists_every_command() {
    let out = std::process::Command::new(binary("vtrain"))
        .args(["job", "--help"])
        .output()
        .expect("runs");
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn job_commands_print_what_people_and_scripts_need() {
    let net = Net::start().await;
    insta::assert_snapshot!("list_empty", text(&net.cli(&["job", "list"]), &net));
    insta::assert_snapshot!(
        "status_missing",
        text(&net.cli(&["job", "status", "3"]), &net)
    );
    insta::assert_snapshot!(
        "status_missing_json",
        text(&net.cli(&["job", "status", "3", "--json"]), &net)
    );
    let spec = small_spec(&net);
    let out = net.cli(&[
        "job",
        "post",
        "--spec",
        &spec.display().to_string(),
        "--data",
        "missing.csv",
    ]);
    insta::assert_snapshot!("post_missing_data", text(&out, &net));
    let job = net.post(&spec, "1h");
    let status = text(&net.cli(&["job", "status", &job.to_string()]), &net);
    insta::assert_snapshot!("status_open", status);
    let list = text(&net.cli(&["job", "list", "--json"]), &net);
    insta::assert_snapshot!("list_json", list);
}
