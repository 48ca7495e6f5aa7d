//! A loss curve as a small PNG: no fonts, just the curve on a light grid
//! (ten vertical lines for tenths of the run, horizontal ones for quarters of
//! the loss range from 0 to the largest loss).

use std::path::Path;

const WIDTH: usize = 800;
const HEIGHT: usize = 400;
const MARGIN: usize = 20;

/// Writes the curve of `losses` (NaNs skipped) to `path`.
pub(crate) fn write_loss_png(path: &Path, losses: &[f32]) -> eyre::Result<()> {
    let mut pixels = vec![255u8; WIDTH * HEIGHT * 3];
    let mut put = |x: usize, y: usize, rgb: [u8; 3]| {
        if x < WIDTH && y < HEIGHT {
            let at = (y * WIDTH + x) * 3;
            pixels[at..at + 3].copy_from_slice(&rgb);
        }
    };
    let (w, h) = (WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN);
    let grid = [225, 225, 225];
    for i in 0..=10 {
        let x = MARGIN + i * w / 10;
        (MARGIN..=MARGIN + h).for_each(|y| put(x, y, grid));
    }
    for i in 0..=4 {
        let y = MARGIN + i * h / 4;
        (MARGIN..=MARGIN + w).for_each(|x| put(x, y, grid));
    }
    let max = losses
        .iter()
        .copied()
        .filter(|l| l.is_finite())
        .fold(0.0f32, f32::max)
        .max(f32::MIN_POSITIVE);
    let point = |i: usize, loss: f32| {
        let x = MARGIN + i * w / losses.len().max(2).saturating_sub(1);
        let y = MARGIN + h - ((loss / max).clamp(0.0, 1.0) * h as f32) as usize;
        (x as i64, y as i64)
    };
    let mut previous = None;
    for (i, &loss) in losses.iter().enumerate() {
        if !loss.is_finite() {
            previous = None;
            continue;
        }
        let here = point(i, loss);
        let from = previous.unwrap_or(here);
        // A straight segment, sampled densely enough to leave no gaps.
        let steps = (here.0 - from.0).abs().max((here.1 - from.1).abs()).max(1);
        for s in 0..=steps {
            let x = from.0 + (here.0 - from.0) * s / steps;
            let y = from.1 + (here.1 - from.1) * s / steps;
            for (dx, dy) in [(0, 0), (0, 1), (1, 0)] {
                put((x + dx) as usize, (y + dy) as usize, [200, 40, 40]);
            }
        }
        previous = Some(here);
    }
    let file = std::fs::File::create(path)?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), WIDTH as u32, HEIGHT as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&pixels)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curve_is_written_as_a_decodable_png() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("loss.png");
        let losses: Vec<f32> = (0..100).map(|i| 2.3 / (1.0 + i as f32 / 10.0)).collect();
        write_loss_png(&path, &losses).expect("written");
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(&path).expect("open"),
        ));
        let reader = decoder.read_info().expect("a PNG");
        assert_eq!((reader.info().width, reader.info().height), (800, 400));
    }
}
