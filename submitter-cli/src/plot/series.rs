//! What a loss chart shows, computed without drawing anything: the points of
//! the raw and smoothed curves, the axes' ranges, the labels. Kept apart from
//! the drawing so that every edge case (no losses, one loss, NaNs, a flat
//! curve, millions of steps) is unit-tested on numbers, not pixels, and so
//! that the explorer can serve the same series as JSON and draw them itself.

use serde::Serialize;

/// At most this many points of the raw curve are drawn: a run of millions of
/// steps is reduced to the lowest and highest loss of each of
/// `MAX_RAW_POINTS / 2` buckets, which keeps the band the raw curve fills
/// (its spikes included) while drawing in milliseconds.
pub const MAX_RAW_POINTS: usize = 4_000;

/// At most this many points of the smoothed curve are drawn (evenly spaced,
/// the last one always kept): it is smooth, so nothing is lost at a chart's
/// width.
pub const MAX_SMOOTHED_POINTS: usize = 2_000;

/// The evaluation of the final model on the job's held-out split, when the
/// dataset was at hand (`vtrain job fetch` computes it).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HeldOut {
    /// Mean cross-entropy over the held-out samples, in nats.
    pub loss: f32,
    /// Fraction of held-out samples (or tokens) predicted right, 0 to 1.
    pub accuracy: f64,
    /// How many held-out samples it was measured on.
    pub samples: usize,
}

/// A closed interval of one axis.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AxisRange {
    /// The lower end.
    pub min: f64,
    /// The upper end, always above `min`.
    pub max: f64,
}

/// Everything a loss chart draws. Step `s` (1-based) is the `s`-th optimizer
/// step; its loss is the one the solver measured on that step's batch before
/// updating the weights, as its progress route lists them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LossChart {
    /// The chart's title.
    pub title: String,
    /// The raw `(step, loss)` points, finite losses only, reduced to at most
    /// [`MAX_RAW_POINTS`].
    pub raw: Vec<(f64, f64)>,
    /// The exponential moving average of the finite losses, reduced to at
    /// most [`MAX_SMOOTHED_POINTS`].
    pub smoothed: Vec<(f64, f64)>,
    /// The EMA's span in steps: its weight is `2 / (span + 1)`.
    pub smoothing_span: usize,
    /// Steps whose loss was recorded but is NaN or infinite (skipped).
    pub not_finite: usize,
    /// Steps with no loss recorded (skipped), e.g. steps a solver restarted
    /// over.
    pub missing: usize,
    /// The held-out evaluation, where known.
    pub held_out: Option<HeldOut>,
    /// The x axis: steps.
    pub steps: AxisRange,
    /// The y axis: loss in nats.
    pub loss: AxisRange,
}

impl LossChart {
    /// The chart of `losses` (one per step, `None` where none was recorded),
    /// with the held-out evaluation where known.
    pub fn new(
        title: impl Into<String>,
        losses: &[Option<f32>],
        held_out: Option<HeldOut>,
    ) -> Self {
        let mut finite = Vec::with_capacity(losses.len());
        let (mut not_finite, mut missing) = (0, 0);
        for (i, loss) in losses.iter().enumerate() {
            match loss {
                Some(l) if l.is_finite() => finite.push(((i + 1) as f64, f64::from(*l))),
                Some(_) => not_finite += 1,
                None => missing += 1,
            }
        }
        let smoothing_span = smoothing_span(finite.len());
        let smoothed = ema(&finite, smoothing_span);
        let held_out_loss = held_out
            .map(|h| f64::from(h.loss))
            .filter(|l| l.is_finite());
        let loss = loss_range(finite.iter().map(|p| p.1).chain(held_out_loss));
        Self {
            title: title.into(),
            raw: envelope(&finite, MAX_RAW_POINTS),
            smoothed: thin(&smoothed, MAX_SMOOTHED_POINTS),
            smoothing_span,
            not_finite,
            missing,
            held_out,
            steps: step_range(losses.len()),
            loss,
        }
    }

    /// How many ticks the step axis may have: steps are whole numbers, so a
    /// short run gets one tick per step rather than ticks between steps.
    pub fn step_ticks(&self) -> usize {
        let span = (self.steps.max - self.steps.min).ceil();
        if span < 10.0 { span as usize + 1 } else { 10 }
    }

    /// The raw curve's legend, saying what was skipped.
    pub fn raw_label(&self) -> String {
        let mut skipped = Vec::new();
        if self.not_finite > 0 {
            skipped.push(format!("{} not finite", self.not_finite));
        }
        if self.missing > 0 {
            skipped.push(format!("{} not recorded", self.missing));
        }
        if skipped.is_empty() {
            "loss per step".to_string()
        } else {
            format!("loss per step ({}: skipped)", skipped.join(", "))
        }
    }

    /// The smoothed curve's legend.
    pub fn smoothed_label(&self) -> String {
        if self.smoothing_span <= 1 {
            "smoothed (too few steps: as measured)".to_string()
        } else {
            format!("smoothed (EMA over ~{} steps)", self.smoothing_span)
        }
    }

    /// The held-out line's legend, where the evaluation is known.
    pub fn held_out_label(&self) -> Option<String> {
        let held_out = self.held_out?;
        let loss = if held_out.loss.is_finite() {
            format!("{:.4}", held_out.loss)
        } else {
            "not finite".to_string()
        };
        Some(format!(
            "final model, held out: loss {loss}, accuracy {:.2}% ({} samples)",
            held_out.accuracy * 100.0,
            held_out.samples
        ))
    }

    /// What the plotting area says when there is no curve to draw.
    pub fn empty_note(&self) -> Option<&'static str> {
        self.raw
            .is_empty()
            .then_some("no finite training loss recorded")
    }
}

/// The EMA span for `n` finite losses: about a fortieth of the run, so the
/// smoothed curve shows the trend at any length without lagging far behind
/// a steep early drop.
fn smoothing_span(n: usize) -> usize {
    (n / 40).clamp(1, 5_000)
}

/// The exponential moving average of `points`, debiased (as TensorBoard and
/// Adam do) so that the start is not pulled towards zero.
fn ema(points: &[(f64, f64)], span: usize) -> Vec<(f64, f64)> {
    let alpha = 2.0 / (span as f64 + 1.0);
    let beta = 1.0 - alpha;
    let mut mean = 0.0;
    let mut weight = 0.0;
    points
        .iter()
        .map(|&(step, loss)| {
            mean = beta * mean + alpha * loss;
            weight = beta * weight + alpha;
            (step, mean / weight)
        })
        .collect()
}

/// At most `max` of `points` (`max` ≥ 2): all of them if few enough, else the
/// lowest and the highest of each of `max / 2` buckets, in step order.
fn envelope(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max {
        return points.to_vec();
    }
    let buckets = (max / 2).max(1);
    let mut out = Vec::with_capacity(buckets * 2);
    for b in 0..buckets {
        let bucket = &points[b * points.len() / buckets..(b + 1) * points.len() / buckets];
        let (Some(&first), rest) = (bucket.first(), bucket.get(1..).unwrap_or(&[])) else {
            continue;
        };
        let (mut low, mut high) = (first, first);
        for &p in rest {
            if p.1 < low.1 {
                low = p;
            }
            if p.1 > high.1 {
                high = p;
            }
        }
        if low.0 <= high.0 {
            out.extend([low, high]);
        } else {
            out.extend([high, low]);
        }
        if low == high {
            out.pop();
        }
    }
    out
}

/// At most `max` of `points` (`max` ≥ 2), evenly spaced, first and last kept.
fn thin(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max {
        return points.to_vec();
    }
    let last = points.len() - 1;
    let slots = max.max(2) - 1;
    (0..=slots).map(|k| points[k * last / slots]).collect()
}

/// Steps 0 to `count` (at least 0 to 2, so one step sits inside the frame).
fn step_range(count: usize) -> AxisRange {
    AxisRange {
        min: 0.0,
        max: (count as f64).max(2.0),
    }
}

/// The loss axis over `values`: their span with 5% room above and below
/// (not below 0 if no value is), a flat curve padded to ±10% (at least ±0.1),
/// and 0 to 1 when there is nothing to show.
fn loss_range(values: impl Iterator<Item = f64>) -> AxisRange {
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if low > high {
        return AxisRange { min: 0.0, max: 1.0 };
    }
    let span = high - low;
    let pad = if span <= high.abs().max(low.abs()).max(1.0) * 1e-9 {
        (high.abs() * 0.1).max(0.1)
    } else {
        span * 0.05
    };
    let min = if low >= 0.0 {
        (low - pad).max(0.0)
    } else {
        low - pad
    };
    AxisRange {
        min,
        max: high + pad,
    }
}

/// A step tick: a whole number, shortened with k, M or G past 9,999 so that
/// a run of millions of steps keeps its ticks legible.
pub fn format_step(step: f64) -> String {
    let step = step.round();
    let (scaled, suffix) = match step.abs() {
        a if a >= 1e9 => (step / 1e9, "G"),
        a if a >= 1e6 => (step / 1e6, "M"),
        a if a >= 1e4 => (step / 1e3, "k"),
        _ => return format!("{step:.0}"),
    };
    let digits = format!("{scaled:.2}");
    let digits = digits.trim_end_matches('0').trim_end_matches('.');
    format!("{digits}{suffix}")
}

/// A loss tick on an axis spanning `span` nats: enough decimals to tell
/// neighbouring ticks apart (an axis has about ten), scientific notation for
/// losses too large or too small for that.
pub fn format_loss(loss: f64, span: f64) -> String {
    if loss == 0.0 {
        return "0".to_string();
    }
    if loss.abs() >= 1e5 || span < 1e-5 {
        return format!("{loss:.2e}");
    }
    let tick = (span / 10.0).max(f64::MIN_POSITIVE);
    let decimals = (-tick.log10()).ceil().clamp(0.0, 5.0) as usize;
    format!("{loss:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(losses: &[f32]) -> Vec<Option<f32>> {
        losses.iter().copied().map(Some).collect()
    }

    #[test]
    fn no_losses_give_an_empty_chart_with_sane_axes() {
        let chart = LossChart::new("job 1", &[], None);
        assert!(chart.raw.is_empty() && chart.smoothed.is_empty());
        assert_eq!(chart.steps, AxisRange { min: 0.0, max: 2.0 });
        assert_eq!(chart.loss, AxisRange { min: 0.0, max: 1.0 });
        assert_eq!(chart.empty_note(), Some("no finite training loss recorded"));
        assert_eq!(chart.step_ticks(), 3, "0, 1 and 2: no half steps");
        assert_eq!(chart.raw_label(), "loss per step");
    }

    #[test]
    fn one_loss_is_a_point_inside_a_padded_frame() {
        let chart = LossChart::new("job 1", &some(&[2.3]), None);
        assert_eq!(chart.raw, vec![(1.0, f64::from(2.3f32))]);
        assert_eq!(chart.smoothed, chart.raw);
        assert!(chart.steps.min < 1.0 && chart.steps.max > 1.0);
        assert!(
            chart.loss.min < 2.3 && chart.loss.max > 2.3,
            "{:?}",
            chart.loss
        );
        assert_eq!(chart.empty_note(), None);
        assert_eq!(
            chart.smoothed_label(),
            "smoothed (too few steps: as measured)"
        );
    }

    #[test]
    fn constant_losses_get_a_padded_range() {
        let chart = LossChart::new("flat", &some(&[0.5; 100]), None);
        let AxisRange { min, max } = chart.loss;
        assert!(
            (min - 0.4).abs() < 1e-6 && (max - 0.6).abs() < 1e-6,
            "{min} {max}"
        );
        // Zero everywhere: the axis still has a height.
        let zero = LossChart::new("zero", &some(&[0.0; 10]), None);
        assert_eq!(zero.loss, AxisRange { min: 0.0, max: 0.1 });
        // The EMA of a constant is that constant from its first point on.
        assert!(chart.smoothed.iter().all(|p| (p.1 - 0.5).abs() < 1e-12));
    }

    #[test]
    fn nan_inf_and_missing_losses_are_skipped_and_counted() {
        let losses = [
            Some(2.0),
            Some(f32::NAN),
            None,
            Some(f32::INFINITY),
            Some(1.0),
            Some(f32::NEG_INFINITY),
        ];
        let chart = LossChart::new("job 2", &losses, None);
        assert_eq!(chart.raw, vec![(1.0, 2.0), (5.0, 1.0)]);
        assert_eq!((chart.not_finite, chart.missing), (3, 1));
        assert_eq!(
            chart.raw_label(),
            "loss per step (3 not finite, 1 not recorded: skipped)"
        );
        assert_eq!(chart.steps.max, 6.0);
        assert_eq!(chart.step_ticks(), 7);
        assert!(chart.loss.min.is_finite() && chart.loss.max.is_finite());
        let only_nan = LossChart::new("nan", &some(&[f32::NAN; 3]), None);
        assert!(only_nan.raw.is_empty());
        assert_eq!(only_nan.loss, AxisRange { min: 0.0, max: 1.0 });
    }

    #[test]
    fn the_ema_is_debiased_and_follows_the_trend() {
        let points: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, 10.0)).collect();
        // Debiased: a constant series stays at its value from the start.
        assert!(ema(&points, 3).iter().all(|p| (p.1 - 10.0).abs() < 1e-12));
        // Span 3: weight 1/2 on each new value, renormalised.
        let steps = [(1.0, 0.0), (2.0, 4.0)];
        let smoothed = ema(&steps, 3);
        assert_eq!(smoothed[0], (1.0, 0.0));
        // (0.5·0.5·0 + 0.5·4) / (0.5·0.5 + 0.5) = 2 / 0.75
        assert!((smoothed[1].1 - 2.0 / 0.75).abs() < 1e-12);
        // A decaying curve: smoothed, it lies above the raw values (it lags)
        // and decreases.
        let decay: Vec<Option<f32>> = (0..400)
            .map(|i| Some(2.3 / (1.0 + i as f32 / 20.0)))
            .collect();
        let chart = LossChart::new("decay", &decay, None);
        assert_eq!(chart.smoothing_span, 10);
        assert_eq!(chart.step_ticks(), 10);
        assert!(chart.smoothed.windows(2).all(|w| w[1].1 <= w[0].1));
        assert!(
            chart
                .smoothed
                .iter()
                .zip(&chart.raw)
                .all(|(s, r)| s.1 >= r.1 - 1e-9)
        );
    }

    #[test]
    fn millions_of_steps_are_reduced_keeping_the_extremes() {
        let n = 3_000_000;
        let losses: Vec<Option<f32>> = (0..n)
            .map(|i| {
                Some(if i == 1_234_567 {
                    50.0
                } else {
                    1.0 + (i % 7) as f32 / 10.0
                })
            })
            .collect();
        let chart = LossChart::new("big", &losses, None);
        assert!(chart.raw.len() <= MAX_RAW_POINTS, "{}", chart.raw.len());
        assert!(chart.smoothed.len() <= MAX_SMOOTHED_POINTS);
        assert!(chart.raw.iter().any(|p| p.1 == 50.0), "the spike is kept");
        assert!(chart.raw.iter().any(|p| p.1 == 1.0), "the floor is kept");
        assert!(
            chart.raw.windows(2).all(|w| w[0].0 < w[1].0),
            "in step order"
        );
        assert_eq!(chart.smoothed.last().map(|p| p.0), Some(n as f64));
        assert_eq!(chart.steps.max, n as f64);
        assert_eq!(format_step(chart.steps.max), "3M");
    }

    #[test]
    fn the_held_out_loss_is_inside_the_range_and_labelled() {
        let held_out = HeldOut {
            loss: 4.0,
            accuracy: 0.9655,
            samples: 360,
        };
        let chart = LossChart::new("job 3", &some(&[2.0, 1.0]), Some(held_out));
        assert!(chart.loss.max > 4.0);
        assert_eq!(
            chart.held_out_label().as_deref(),
            Some("final model, held out: loss 4.0000, accuracy 96.55% (360 samples)")
        );
        let nan = HeldOut {
            loss: f32::NAN,
            ..held_out
        };
        let chart = LossChart::new("job 3", &some(&[2.0, 1.0]), Some(nan));
        assert!(chart.loss.max < 3.0, "a NaN held-out loss is not ranged");
        assert!(
            chart
                .held_out_label()
                .is_some_and(|l| l.contains("not finite"))
        );
        assert_eq!(LossChart::new("x", &[], None).held_out_label(), None);
    }

    #[test]
    fn reducers_keep_small_inputs_and_bound_large_ones() {
        let points: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, (i % 3) as f64)).collect();
        assert_eq!(envelope(&points, 10), points);
        assert_eq!(thin(&points, 10), points);
        let thinned = thin(&points, 4);
        assert_eq!(thinned.len(), 4);
        assert_eq!((thinned[0], thinned[3]), (points[0], points[9]));
        let enveloped = envelope(&points, 4);
        assert!(enveloped.len() <= 4);
        assert!(enveloped.iter().any(|p| p.1 == 2.0) && enveloped.iter().any(|p| p.1 == 0.0));
    }

    #[test]
    fn ticks_are_legible() {
        assert_eq!(format_step(0.0), "0");
        assert_eq!(format_step(200.0), "200");
        assert_eq!(format_step(9_999.4), "9999");
        assert_eq!(format_step(12_500.0), "12.5k");
        assert_eq!(format_step(2_000_000.0), "2M");
        assert_eq!(format_step(1_250_000_000.0), "1.25G");
        assert_eq!(format_loss(0.0, 2.0), "0");
        assert_eq!(format_loss(0.5, 2.3), "0.5");
        assert_eq!(format_loss(0.25, 0.3), "0.25");
        assert_eq!(format_loss(2.0, 30.0), "2");
        assert_eq!(format_loss(123_456.0, 1e6), "1.23e5");
        assert_eq!(format_loss(1.0, 1e-7), "1.00e0");
    }
}
