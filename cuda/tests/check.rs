//! The GPU check itself, run on the emulated kernels with small settings:
//! every reference job's ops node by node and two steps of each job agree
//! with the CPU, and the report says so (and says so when they don't).

use std::path::Path;
use std::sync::Arc;
use vtrain_cuda::DeviceBackend;
use vtrain_cuda::EmuDevice;
use vtrain_cuda::check::{CheckSettings, reference_jobs, run_check};

#[test]
fn the_gpu_check_passes_on_the_emulated_kernels_for_every_reference_job() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/shakespeare.txt.gz");
    let jobs = reference_jobs(Some(&corpus)).expect("the reference jobs load");
    assert_eq!(jobs.len(), 4);
    let settings = CheckSettings {
        max_steps: 2,
        large_mlp_steps: 1,
        large_mlp_batch: 8,
    };
    let report = run_check(Arc::new(DeviceBackend::new(EmuDevice)), &jobs, &settings)
        .expect("the check runs");
    eprintln!("{}", report.summary());
    assert!(report.passed(), "{}", report.summary());
    // Every op of every job, twice (real and edge inputs).
    let ops: std::collections::BTreeSet<&str> =
        report.nodes.iter().map(|n| n.op.as_str()).collect();
    for op in [
        "Linear",
        "Conv2dWeightGrad",
        "MaxPool2dGrad",
        "LayerNormInputGrad",
        "AttnKeyGrad",
        "EmbedGrad",
        "AdamWeight",
        "SgdVelocity",
        "ClipGrad",
    ] {
        assert!(ops.contains(op), "no {op} in {ops:?}");
    }
    assert!(report.nodes.iter().any(|n| n.edge_inputs));
    assert_eq!(report.jobs.len(), 4);
    assert!(report.large_mlp_samples_per_second.is_some());
    assert_eq!(report.large_mlp_bits_equal, Some(true));
    let json = report.to_json();
    assert!(json.contains("\"passed\":true"), "{json}");
}

#[test]
fn a_differing_op_fails_the_report() {
    let mut report = vtrain_cuda::check::CheckReport {
        qualification: "passed".into(),
        ..Default::default()
    };
    report.nodes.push(vtrain_cuda::check::NodeCheck {
        job: "j".into(),
        node: "n".into(),
        op: "Linear".into(),
        edge_inputs: false,
        elements: 10,
        mismatches: 1,
    });
    assert!(!report.passed());
    assert!(report.summary().contains("DIFFERS j n (Linear): 1 of 10"));
    assert!(report.to_json().contains("\"passed\":false"));
}
