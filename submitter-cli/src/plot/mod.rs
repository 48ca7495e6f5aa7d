//! The training-loss chart of `vtrain job fetch --loss-png`, drawn with
//! `plotters`: a title, a step axis and a loss axis with ticks and units, the
//! raw per-step loss as a thin light line, its exponential moving average
//! over it in a strong colour, the held-out loss as a dashed line where
//! known, and a legend that gives the held-out accuracy and says what was
//! skipped.
//!
//! What is drawn is computed in [`series`] (pure, unit-tested, serialisable
//! for the explorer); this module only turns it into pixels.
//!
//! **Text without system fonts.** `plotters`' default `ttf` feature finds
//! fonts through fontconfig, so a chart would depend on what a machine has
//! installed (a bare CI image has none, and a missing font is an error at run
//! time). Its `ab_glyph` feature instead rasterises a font handed to it, so
//! the binary embeds DejaVu Sans 2.37 (`fonts/DejaVuSans.ttf`, copied
//! unmodified from Debian's `fonts-dejavu-core`): a complete, readable sans
//! under the Bitstream Vera / Arev license, which lets it be redistributed
//! inside other software as long as its notice goes along
//! (`fonts/LICENSE-DejaVu.txt`); about 740 KiB of binary.
//! The bitmap is encoded by the `png` crate the CLI already has, so
//! `plotters`' `image` encoder is not built.

pub mod series;

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub use series::{HeldOut, LossChart};

/// The chart's width in pixels: room for a legend that holds the held-out
/// numbers without covering much of the curve.
pub const WIDTH: u32 = 1000;
/// The chart's height in pixels.
pub const HEIGHT: u32 = 560;

/// DejaVu Sans 2.37; see the module's doc and `fonts/LICENSE-DejaVu.txt`.
const FONT: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
/// The family every text of the chart asks for; the embedded font is
/// registered under it.
const FAMILY: &str = "sans-serif";

/// The raw per-step loss: light, so the smoothed curve reads over it.
pub const RAW_COLOUR: RGBColor = RGBColor(150, 185, 230);
/// The smoothed loss: the curve to read.
pub const SMOOTHED_COLOUR: RGBColor = RGBColor(20, 70, 170);
/// The held-out loss of the final model: a dashed line across the run, to
/// compare with where the training loss ended.
pub const HELD_OUT_COLOUR: RGBColor = RGBColor(215, 80, 20);

/// Writes `chart` as a PNG to `path`.
pub fn write_loss_png(path: &Path, chart: &LossChart) -> eyre::Result<()> {
    let png = loss_png(chart)?;
    // The caller names the path in its context.
    std::fs::write(path, png)?;
    Ok(())
}

/// `chart` as the bytes of a `WIDTH`×`HEIGHT` RGB PNG (what the explorer can
/// serve as it is).
pub fn loss_png(chart: &LossChart) -> eyre::Result<Vec<u8>> {
    register_font()?;
    let mut pixels = vec![255u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, chart).map_err(|e| eyre::eyre!("cannot draw the loss chart: {e}"))?;
        root.present()
            .map_err(|e| eyre::eyre!("cannot draw the loss chart: {e}"))?;
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&pixels)?;
    Ok(png)
}

/// Registers the embedded font with `plotters` once per process (its font
/// table is global).
fn register_font() -> eyre::Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(eyre::eyre!(
            "the embedded font (DejaVu Sans) does not parse"
        ))
    }
}

type DrawResult =
    Result<(), DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>>;

/// Draws `chart` on `root`.
fn draw(root: &DrawingArea<BitMapBackend<'_>, Shift>, chart: &LossChart) -> DrawResult {
    root.fill(&WHITE)?;
    let (steps, loss) = (chart.steps, chart.loss);
    let loss_span = loss.max - loss.min;
    let x_ticks = |v: &f64| series::format_step(*v);
    let y_ticks = |v: &f64| series::format_loss(*v, loss_span);
    let mut plot = ChartBuilder::on(root)
        .caption(&chart.title, (FAMILY, 24))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(steps.min..steps.max, loss.min..loss.max)?;
    plot.configure_mesh()
        .x_desc("step")
        .y_desc("training loss (nats)")
        .x_labels(chart.step_ticks())
        .y_labels(8)
        .x_label_formatter(&x_ticks)
        .y_label_formatter(&y_ticks)
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;

    if let Some(note) = chart.empty_note() {
        let centred =
            TextStyle::from((FAMILY, 18).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
        let middle = ((steps.min + steps.max) / 2.0, (loss.min + loss.max) / 2.0);
        plot.plotting_area()
            .draw(&Text::new(note, middle, centred))?;
    }

    let raw = ShapeStyle::from(&RAW_COLOUR).stroke_width(1);
    plot.draw_series(LineSeries::new(chart.raw.iter().copied(), raw))?
        .label(chart.raw_label())
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], raw));
    // Without a curve, the raw legend still says what was skipped; a
    // smoothed legend would only promise a line that is not there.
    if !chart.smoothed.is_empty() {
        let smoothed = ShapeStyle::from(&SMOOTHED_COLOUR).stroke_width(3);
        plot.draw_series(LineSeries::new(chart.smoothed.iter().copied(), smoothed))?
            .label(chart.smoothed_label())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], smoothed));
    }
    // A lone point is no line: mark it.
    if let [only] = chart.smoothed.as_slice() {
        plot.draw_series(std::iter::once(Circle::new(
            *only,
            4,
            SMOOTHED_COLOUR.filled(),
        )))?;
    }
    if let (Some(held_out), Some(label)) = (chart.held_out, chart.held_out_label()) {
        let held_out_style = ShapeStyle::from(&HELD_OUT_COLOUR).stroke_width(2);
        let level = f64::from(held_out.loss);
        let line = if level.is_finite() {
            vec![(steps.min, level), (steps.max, level)]
        } else {
            Vec::new()
        };
        plot.draw_series(DashedLineSeries::new(line, 10, 6, held_out_style))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], held_out_style));
    }
    plot.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// A decoded chart: its size and its RGB pixels.
    struct Decoded {
        width: u32,
        height: u32,
        pixels: Vec<[u8; 3]>,
    }

    impl Decoded {
        fn count(&self, colour: RGBColor) -> usize {
            let RGBColor(r, g, b) = colour;
            self.pixels.iter().filter(|p| **p == [r, g, b]).count()
        }

        fn distinct(&self) -> usize {
            self.pixels.iter().collect::<HashSet<_>>().len()
        }

        /// Near-black pixels: text (titles, ticks, legend) and axes.
        fn dark(&self) -> usize {
            self.pixels
                .iter()
                .filter(|p| p.iter().all(|&c| c < 80))
                .count()
        }
    }

    fn decode(png: &[u8]) -> Decoded {
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut buffer = vec![0; reader.output_buffer_size().expect("a size")];
        let info = reader.next_frame(&mut buffer).expect("a frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let pixels = buffer[..info.buffer_size()]
            .chunks_exact(3)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Decoded {
            width: info.width,
            height: info.height,
            pixels,
        }
    }

    /// Renders `chart`, keeps a copy under `target/plot-tests/` for a person
    /// to look at, and decodes it.
    fn render(name: &str, chart: &LossChart) -> Decoded {
        let png = loss_png(chart).expect("drawn");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plot-tests");
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::write(dir.join(format!("{name}.png")), &png);
        }
        let decoded = decode(&png);
        assert_eq!((decoded.width, decoded.height), (WIDTH, HEIGHT));
        decoded
    }

    fn digits_like(steps: usize) -> Vec<Option<f32>> {
        (0..steps)
            .map(|i| {
                let wobble = ((i * 7919) % 13) as f32 / 13.0 - 0.5;
                Some(2.3 / (1.0 + i as f32 / 15.0) + 0.15 * wobble)
            })
            .collect()
    }

    #[test]
    fn a_training_run_is_drawn_with_every_series_text_and_axes() {
        let held_out = HeldOut {
            loss: 0.12,
            accuracy: 0.9694,
            samples: 360,
        };
        let chart = LossChart::new(
            "job 1: training loss (200 steps, batch 32)",
            &digits_like(200),
            Some(held_out),
        );
        let decoded = render("run", &chart);
        assert!(decoded.distinct() > 20, "{} colours", decoded.distinct());
        assert!(decoded.count(SMOOTHED_COLOUR) > 500, "the smoothed curve");
        assert!(decoded.count(RAW_COLOUR) > 200, "the raw curve");
        assert!(decoded.count(HELD_OUT_COLOUR) > 200, "the held-out line");
        assert!(decoded.dark() > 2_000, "text and axes: {}", decoded.dark());
        // The embedded file is exactly what the rendering read.
        assert_eq!(FONT.len(), 759_720);
    }

    #[test]
    fn the_file_is_written_where_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("loss.png");
        let chart = LossChart::new("job 9", &digits_like(50), None);
        write_loss_png(&path, &chart).expect("written");
        let decoded = decode(&std::fs::read(&path).expect("read"));
        assert_eq!((decoded.width, decoded.height), (WIDTH, HEIGHT));
        assert_eq!(
            decoded.count(HELD_OUT_COLOUR),
            0,
            "no held-out line when unknown"
        );
        let missing = dir.path().join("no/such/dir/loss.png");
        assert!(write_loss_png(&missing, &chart).is_err());
    }

    #[test]
    fn edge_cases_draw_without_panicking() {
        let huge: Vec<Option<f32>> = (0..2_000_000)
            .map(|i| Some(1.0 + 1.0 / (1.0 + i as f32 / 1e5) + ((i % 101) as f32) / 500.0))
            .collect();
        let cases: [(&str, Vec<Option<f32>>); 6] = [
            ("empty", vec![]),
            ("one", vec![Some(2.3)]),
            ("nan", vec![Some(f32::NAN), None, Some(f32::INFINITY)]),
            ("flat", vec![Some(0.7); 300]),
            (
                "gaps",
                vec![Some(2.0), Some(f32::NAN), None, Some(1.5), Some(1.0)],
            ),
            ("huge", huge),
        ];
        for (name, losses) in cases {
            let chart = LossChart::new(format!("job: {name}"), &losses, None);
            let decoded = render(name, &chart);
            assert!(decoded.dark() > 1_000, "{name}: text and axes");
            let curve = decoded.count(SMOOTHED_COLOUR);
            if chart.raw.is_empty() {
                assert_eq!(curve, 0, "{name}: nothing to draw");
            } else {
                assert!(curve > 20, "{name}: {curve} pixels of the curve");
            }
        }
    }
}
