//! `vtrain job watch`: live progress until the job ends.

use std::time::Duration;

use alloy::providers::Provider;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use vtrain_dispute::{JobBook, Market, progress_key};

use super::status::{JobView, job_view, render};
use super::{Common, book};
use crate::exit::{CliResult, Failure, fail};

/// `vtrain job watch` flags.
#[derive(Args, Clone, Debug)]
pub struct WatchArgs {
    /// Chain and output flags.
    #[command(flatten)]
    pub common: Common,
    /// The job id.
    pub job_id: u64,
    /// How often to look, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    pub poll_ms: u64,
}

/// The solver's progress page (`/v1/jobs/<id>/progress`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Progress {
    pub step: u32,
    pub steps: u32,
    #[serde(default)]
    pub losses: Vec<Option<f32>>,
}

/// The solver's progress for `job_id`, if it announced where to read it.
pub(crate) async fn progress(book: &JobBook, job_id: u64) -> Option<Progress> {
    let solver = book.job(job_id)?.solver?;
    for location in book.locations(&progress_key(job_id)) {
        if location.publisher != solver {
            continue;
        }
        if let Ok(bytes) = vtrain_store::fetch(&location.uri).await
            && let Ok(progress) = serde_json::from_slice::<Progress>(&bytes)
        {
            return Some(progress);
        }
    }
    None
}

#[derive(Serialize)]
struct Event<'a> {
    event: &'a str,
    job_id: u64,
    detail: String,
}

impl WatchArgs {
    /// Follows the job until it is finalized, slashed or cancelled.
    pub async fn run(self) -> CliResult<()> {
        let market = self.common.market().await?;
        let json = self.common.json;
        let bar = ProgressBar::new(1);
        if json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let mut last_line = String::new();
        let mut last_step = None;
        // One book, followed incrementally (it reads again from the
        // deployment block only if the chain changes under it).
        let mut book = book(&market).await?;
        loop {
            market
                .catch_up(&mut book)
                .await
                .map_err(|e| crate::exit::from_chain(e, "reading the market's events"))?;
            let view = job_view(&market, &book, self.job_id).await?;
            let line = self
                .describe(&market, &book, &view, &bar, &mut last_step)
                .await;
            if line != last_line {
                self.event(&view.status, &line, &bar);
                last_line = line;
            }
            if matches!(view.status.as_str(), "finalized" | "slashed" | "cancelled") {
                bar.finish_and_clear();
                if json {
                    println!("{}", serde_json::to_string(&view).unwrap_or_default());
                } else {
                    print!("{}", render(&view));
                }
                return match view.status.as_str() {
                    "finalized" => Ok(()),
                    other => Err(fail(
                        Failure::Ended,
                        format!(
                            "job {} ended {other}: no model; the escrow was refunded",
                            self.job_id
                        ),
                    )),
                };
            }
            tokio::time::sleep(Duration::from_millis(self.poll_ms.max(50))).await;
        }
    }

    /// One line saying where the job is; updates the bar.
    async fn describe<P: Provider + Clone>(
        &self,
        _market: &Market<P>,
        book: &JobBook,
        view: &JobView,
        bar: &ProgressBar,
        last_step: &mut Option<u32>,
    ) -> String {
        match view.status.as_str() {
            "open" => "waiting for a solver to claim it".into(),
            "claimed" => {
                let solver = view.solver.clone().unwrap_or_default();
                match progress(book, view.id).await {
                    Some(p) => {
                        bar.set_prefix("training");
                        bar.set_length(u64::from(p.steps.max(1)));
                        bar.set_position(u64::from(p.step));
                        if let Some(Some(loss)) = p.losses.last() {
                            bar.set_message(format!("loss {loss:.4}"));
                        }
                        // Report every tenth of the run, not every step.
                        let tenth = (p.step * 10) / p.steps.max(1);
                        if *last_step != Some(tenth) {
                            *last_step = Some(tenth);
                        }
                        format!(
                            "training by {solver}: step {}/{} ({}0%)",
                            p.step, p.steps, tenth
                        )
                    }
                    None => format!("claimed by {solver}, training"),
                }
            }
            "submitted" => {
                let open: Vec<_> = view.games.iter().filter(|g| g.state == "open").collect();
                if let Some(game) = open.first() {
                    bar.set_prefix("dispute");
                    bar.set_length(14);
                    bar.set_position(u64::from(game.phase));
                    bar.set_message(game.narrowed_to.clone());
                    format!(
                        "dispute {} at checkpoint {}: {}; narrowed to {}",
                        game.id,
                        game.checkpoint,
                        phase_name(game.phase),
                        game.narrowed_to
                    )
                } else {
                    let window = view.window_closes_at.saturating_sub(view.submitted_at);
                    let elapsed = view
                        .chain_time
                        .saturating_sub(view.submitted_at)
                        .min(window);
                    bar.set_prefix("window");
                    bar.set_length(window.max(1));
                    bar.set_position(elapsed);
                    bar.set_message("challenge window");
                    let decided = view.games.iter().find(|g| g.state != "open");
                    match decided {
                        Some(game) => format!(
                            "dispute {} decided ({}): {}; paying out",
                            game.id,
                            game.state,
                            game.reason.as_deref().unwrap_or("?").replace('_', " ")
                        ),
                        None if view.chain_time >= view.window_closes_at => format!(
                            "result submitted (trace {}); challenge window closed, awaiting finalize",
                            view.trace_root.as_deref().unwrap_or("?")
                        ),
                        None => format!(
                            "result submitted (trace {}); challenge window open for {} s",
                            view.trace_root.as_deref().unwrap_or("?"),
                            view.window_closes_at - view.submitted_at
                        ),
                    }
                }
            }
            other => other.to_string(),
        }
    }

    fn event(&self, status: &str, line: &str, bar: &ProgressBar) {
        if self.common.json {
            let event = Event {
                event: status,
                job_id: self.job_id,
                detail: line.to_owned(),
            };
            println!("{}", serde_json::to_string(&event).unwrap_or_default());
        } else {
            bar.suspend(|| eprintln!("[job {}] {line}", self.job_id));
        }
    }
}

/// A phase's name (`DisputeGame.Phase`), for people.
pub(crate) fn phase_name(phase: u8) -> &'static str {
    match phase {
        1 => "solver bisects the interval",
        2 => "challenger judges the midpoint",
        3 => "solver reveals the step commitment",
        4 => "challenger picks a tensor list",
        5 => "solver reveals Merkle children",
        6 => "challenger picks a child",
        7 => "solver opens the tensor",
        8 => "solver reveals a 1 KiB leaf",
        9 => "challenger names the element",
        10 => "solver commits the element's fp32 micro-trace",
        11 => "challenger picks the micro-trace",
        12 => "challenger names one fp32 operation",
        13 => "solver proves the operation on chain",
        14 => "resolved",
        _ => "?",
    }
}
