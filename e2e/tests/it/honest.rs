//! The honest path: post, claim, train, verify, finalize, fetch.

use std::time::Duration;

use vtrain_dispute::market::status;
use vtrain_e2e::{Net, SOLVER, SUBMITTER, VERIFIER};

use crate::common::{eth, settle};

/// The reference digits job, end to end: the solver is paid, the watchtower
/// agrees without disputing, and the fetched model matches `modelRoot` and
/// reaches at least 95% test accuracy.
#[tokio::test(flavor = "multi_thread")]
async fn an_honest_job_is_finalized_and_its_model_is_good() {
    let net = Net::start().await;
    let solver = net.solver(&[]);
    let verifier = net.verifier(&[]);
    let spec = net.write_spec("digits.toml", None);
    let submitter_before = net.balance(net.address(SUBMITTER)).await;
    let job = net.post(&spec, "1h");

    let outcome = settle(&net, job, Duration::from_secs(240)).await;
    assert_eq!(outcome, status::FINALIZED, "solver log:\n{}", solver.log());
    let verdict = crate::common::verdict(&net, job, Duration::from_secs(5)).await;
    assert!(verdict["dispute"].is_null(), "{verdict}");
    assert_eq!(
        verdict["replayed"].as_array().map(Vec::len),
        Some(8),
        "full replay"
    );

    // Paid: the reward and the bond back, withdrawn by the solver itself.
    net.wait_withdrawn(net.address(SOLVER), eth(15)).await;
    assert_eq!(net.withdrawn(net.address(VERIFIER)).await, eth(0));
    let spent = submitter_before - net.balance(net.address(SUBMITTER)).await;
    assert!(
        spent > eth(10) && spent < eth(11),
        "the reward plus gas: {spent}"
    );

    let png = net.path("loss.png");
    let png_arg = png.display().to_string();
    let fetched =
        crate::common::fetch_model(&net, job, "model.safetensors", &["--loss-png", &png_arg]).await;
    let accuracy = fetched["test_accuracy"].as_f64().expect("accuracy");
    eprintln!(
        "test accuracy of the fetched model: {:.2}%",
        accuracy * 100.0
    );
    assert!(accuracy >= 0.95, "{fetched}");
    assert_eq!(fetched["loss_png"].as_str(), Some(png_arg.as_str()));
    assert_loss_chart(&png);
    drop(verifier);
}

/// The loss chart `job fetch --loss-png` drew is a PNG of the chart's size
/// with the smoothed training curve and the held-out line (the dataset is in
/// the submitter's store, so the held-out loss is known) among many colours
/// (anti-aliased text, axes, the raw curve).
fn assert_loss_chart(path: &std::path::Path) {
    use vtrain_submitter_cli::plot::{HEIGHT, HELD_OUT_COLOUR, SMOOTHED_COLOUR, WIDTH};

    let bytes = std::fs::read(path).expect("the loss chart");
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .expect("a PNG");
    let mut buffer = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buffer).expect("a frame");
    assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let pixels: Vec<&[u8]> = buffer[..info.buffer_size()].chunks_exact(3).collect();
    let count = |rgb: [u8; 3]| pixels.iter().filter(|p| **p == rgb).count();
    let distinct = pixels
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    assert!(distinct > 20, "{distinct} colours: a blank chart?");
    let smoothed = count([SMOOTHED_COLOUR.0, SMOOTHED_COLOUR.1, SMOOTHED_COLOUR.2]);
    assert!(smoothed > 500, "{smoothed} pixels of the smoothed curve");
    let held_out = count([HELD_OUT_COLOUR.0, HELD_OUT_COLOUR.1, HELD_OUT_COLOUR.2]);
    assert!(held_out > 100, "{held_out} pixels of the held-out line");
}
