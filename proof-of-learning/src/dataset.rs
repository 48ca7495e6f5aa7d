//! Datasets: loading (CSV, safetensors, byte-level text, the bundled digits),
//! the content root, the train/test split and the order in which training
//! reads samples.
//!
//! A dataset is canonically two tensors: `features [n, d]` (f32) and
//! `labels [n]` (integer class ids stored as exact f32). Its root is
//! `keccak("vtrain.dataset.v1" ‖ u64 n ‖ u64 d ‖ u64 classes ‖ root(features)
//! ‖ root(labels))`, whatever file format carried it.

use crate::commit::tensor_root;
use crate::error::{Error, Result};
use crate::hash::{Hash32, keccak, tag};
use crate::prng::{derive_key, draw, purpose, uniform01};
use crate::spec::{DatasetFormat, JobSpec, MAX_WIDTH};
use std::io::Read;
use std::path::Path;

/// The UCI optical-digits test set (1,797 8×8 images, pixels 0..16), as
/// shipped by scikit-learn: CC BY 4.0, E. Alpaydin and C. Kaynak. See
/// `proof-of-learning/data/NOTICE.md`.
pub const DIGITS_CSV_GZ: &[u8] = include_bytes!("../data/digits.csv.gz");

/// A dataset in canonical form.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Number of samples n.
    pub samples: usize,
    /// Features per sample d.
    pub features: usize,
    /// Number of classes (labels are 0..classes).
    pub classes: usize,
    /// Row-major `[n, d]`.
    pub x: Vec<f32>,
    /// Labels as exact f32 integers, `[n]`.
    pub y: Vec<f32>,
}

fn dataset_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Dataset {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

impl Dataset {
    /// Uniform random features in [0, 1) and uniform labels, the same on
    /// every machine: the benchmarks' stand-in for a dataset of a given
    /// shape (784 features: an MNIST-sized MLP without shipping MNIST).
    pub fn synthetic(samples: usize, features: usize, classes: usize) -> Self {
        Self {
            samples,
            features,
            classes,
            x: (0..samples * features)
                .map(|i| uniform01(1, i as u64))
                .collect(),
            y: (0..samples)
                .map(|i| (draw(2, i as u64) % classes.max(1) as u64) as f32)
                .collect(),
        }
    }

    /// The bundled digits set, pixels scaled by 1/16 into [0, 1] (exactly).
    pub fn digits() -> Result<Self> {
        Self::from_csv_bytes(
            Path::new("<bundled digits.csv.gz>"),
            DIGITS_CSV_GZ,
            1.0 / 16.0,
        )
    }

    /// Loads a CSV file (gzip-compressed if it starts with the gzip magic):
    /// each row is the features, then an integer label; every feature is
    /// multiplied by `feature_scale` (one rounding).
    pub fn from_csv_file(path: &Path, feature_scale: f32) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_csv_bytes(path, &bytes, feature_scale)
    }

    /// Parses CSV bytes (see [`Dataset::from_csv_file`]); `path` names them in errors.
    pub fn from_csv_bytes(path: &Path, bytes: &[u8], feature_scale: f32) -> Result<Self> {
        let text = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut text = String::new();
            flate2::read::GzDecoder::new(bytes)
                .read_to_string(&mut text)
                .map_err(|error| dataset_error(path, format!("gzip: {error}")))?;
            text
        } else {
            String::from_utf8(bytes.to_vec()).map_err(|_| dataset_error(path, "not UTF-8 text"))?
        };
        let mut x = Vec::new();
        let mut y = Vec::new();
        let mut width = None;
        for (line_no, line) in text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
        {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() < 2 {
                return Err(dataset_error(
                    path,
                    format!("line {}: need features and a label", line_no + 1),
                ));
            }
            let features = fields.len() - 1;
            if *width.get_or_insert(features) != features {
                return Err(dataset_error(
                    path,
                    format!(
                        "line {}: {features} features, earlier lines have {}",
                        line_no + 1,
                        width.unwrap_or(0)
                    ),
                ));
            }
            for field in &fields[..features] {
                let value: f32 = field.parse().map_err(|_| {
                    dataset_error(
                        path,
                        format!("line {}: {field:?} is not a number", line_no + 1),
                    )
                })?;
                if !value.is_finite() {
                    return Err(dataset_error(
                        path,
                        format!("line {}: non-finite feature {field}", line_no + 1),
                    ));
                }
                x.push(crate::repops::prim::mul(value, feature_scale));
            }
            y.push(parse_label(fields[features]).ok_or_else(|| {
                dataset_error(
                    path,
                    format!(
                        "line {}: label {:?} is not a class id",
                        line_no + 1,
                        fields[features]
                    ),
                )
            })?);
        }
        Self::from_parts(path, x, y, width.unwrap_or(0))
    }

    /// Loads a byte-level text file (gzip-compressed if it starts with the
    /// gzip magic) cut into windows of `window` tokens: see
    /// [`Dataset::from_text_bytes`].
    pub fn from_text_file(path: &Path, window: usize) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_text_bytes(path, &bytes, window)
    }

    /// Cuts text into a dataset (`docs/commitments.md` § Text datasets). The
    /// tokens are the bytes (gunzipped first if they start with the gzip
    /// magic). With `T = window − 1`, row `i` is the tokens
    /// `[i·T, i·T + window)` and its label the last of them, so consecutive
    /// rows share one token and every adjacent pair of the stream is an
    /// (input, next token) pair exactly once. There are `(len − 1) / T` rows;
    /// a tail that does not fill one is dropped. `path` names the bytes in
    /// errors.
    pub fn from_text_bytes(path: &Path, bytes: &[u8], window: usize) -> Result<Self> {
        if !(2..=MAX_WIDTH as usize).contains(&window) {
            return Err(dataset_error(
                path,
                format!(
                    "a text window of {window} tokens: it must be 2 to {MAX_WIDTH} (the spec's `dataset.features`)"
                ),
            ));
        }
        let unzipped;
        let tokens = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut text = Vec::new();
            flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut text)
                .map_err(|error| dataset_error(path, format!("gzip: {error}")))?;
            unzipped = text;
            &unzipped[..]
        } else {
            bytes
        };
        let stride = window - 1;
        let rows = tokens.len().saturating_sub(1) / stride;
        if rows < 2 {
            return Err(dataset_error(
                path,
                format!(
                    "{} bytes of text make {rows} row(s) of {window} tokens; \
                     a dataset needs two, so at least {} bytes",
                    tokens.len(),
                    2 * stride + 1
                ),
            ));
        }
        let mut x = Vec::with_capacity(rows * window);
        let mut y = Vec::with_capacity(rows);
        for row in tokens.windows(window).step_by(stride).take(rows) {
            x.extend(row.iter().map(|&token| f32::from(token)));
            y.push(f32::from(row[stride]));
        }
        Self::from_parts(path, x, y, window)
    }

    /// Loads a safetensors file with an F32 `features [n, d]` and a `labels [n]`
    /// tensor of F32 (integral), I64, I32, U32 or U8.
    pub fn from_safetensors_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_safetensors_bytes(path, &bytes)
    }

    /// Parses safetensors bytes (see [`Dataset::from_safetensors_file`]);
    /// `path` names them in errors.
    pub fn from_safetensors_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let tensors = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|error| dataset_error(path, format!("not a safetensors file: {error}")))?;
        let features = tensors
            .tensor("features")
            .map_err(|_| dataset_error(path, "no `features` tensor"))?;
        if features.dtype() != safetensors::Dtype::F32 || features.shape().len() != 2 {
            return Err(dataset_error(
                path,
                "`features` must be F32 with shape [n, d]",
            ));
        }
        let width = features.shape()[1];
        let x = le_f32(features.data());
        let labels = tensors
            .tensor("labels")
            .map_err(|_| dataset_error(path, "no `labels` tensor"))?;
        let data = labels.data();
        let raw: Vec<f64> = match labels.dtype() {
            safetensors::Dtype::F32 => le_f32(data).into_iter().map(f64::from).collect(),
            safetensors::Dtype::I64 => data
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f64)
                .collect(),
            safetensors::Dtype::I32 => data
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes(b.try_into().unwrap_or([0; 4])) as f64)
                .collect(),
            safetensors::Dtype::U32 => data
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap_or([0; 4])) as f64)
                .collect(),
            safetensors::Dtype::U8 => data.iter().map(|&b| f64::from(b)).collect(),
            other => {
                return Err(dataset_error(
                    path,
                    format!("`labels` has unsupported dtype {other:?}"),
                ));
            }
        };
        let y = raw
            .into_iter()
            .map(|label| parse_label(&label.to_string()))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| dataset_error(path, "`labels` holds a value that is not a class id"))?;
        if x.iter().any(|value| !value.is_finite()) {
            return Err(dataset_error(path, "`features` holds a non-finite value"));
        }
        Self::from_parts(path, x, y, width)
    }

    fn from_parts(path: &Path, x: Vec<f32>, y: Vec<f32>, width: usize) -> Result<Self> {
        if y.len() < 2 || width == 0 {
            return Err(dataset_error(
                path,
                "needs at least two samples with at least one feature",
            ));
        }
        if x.len() != y.len() * width {
            return Err(dataset_error(
                path,
                format!(
                    "{} feature values for {} samples of width {width}",
                    x.len(),
                    y.len()
                ),
            ));
        }
        let classes = y.iter().fold(0.0f32, |max, &label| max.max(label)) as usize + 1;
        Ok(Self {
            samples: y.len(),
            features: width,
            classes,
            x,
            y,
        })
    }

    /// The canonical file of the dataset: safetensors with F32 `features [n, d]`
    /// and F32 `labels [n]`, the form artifact stores hold (its root is the
    /// dataset's, whatever file the submitter started from).
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>> {
        crate::tensors::encode_f32_tensors(&[
            (
                "features".to_owned(),
                &[self.samples, self.features],
                &self.x,
            ),
            ("labels".to_owned(), &[self.samples], &self.y),
        ])
    }

    /// The content root (see the module docs).
    pub fn root(&self) -> Hash32 {
        keccak(&[
            tag::DATASET,
            &(self.samples as u64).to_be_bytes(),
            &(self.features as u64).to_be_bytes(),
            &(self.classes as u64).to_be_bytes(),
            &tensor_root(&[self.samples, self.features], &self.x).0,
            &tensor_root(&[self.samples], &self.y).0,
        ])
    }

    /// Checks that the data is exactly what `spec` committed to: the root,
    /// and the sample, feature and class counts; for a text dataset or a
    /// language model, also that every feature is a token the model's
    /// vocabulary (`dataset.classes`) holds.
    pub fn check_against(&self, spec: &JobSpec) -> Result<()> {
        let expected = spec.dataset_root()?;
        let actual = self.root();
        if expected != actual {
            return Err(Error::DatasetRootMismatch { expected, actual });
        }
        let d = &spec.dataset;
        if (d.samples as usize, d.features as usize) != (self.samples, self.features)
            || (d.classes as usize) < self.classes
        {
            return Err(Error::DatasetShape(format!(
                "spec says {} samples × {} features, {} classes; the data has {} × {}, {} classes",
                d.samples, d.features, d.classes, self.samples, self.features, self.classes
            )));
        }
        // A language model's inputs and targets are tokens, whatever the file.
        let next_token = matches!(
            &spec.model,
            crate::spec::ModelSpec::Graph {
                loss: crate::spec::Loss::NextToken,
                ..
            }
        );
        if d.format == DatasetFormat::Text || next_token {
            let vocabulary = d.classes as f32;
            if let Some((index, value)) =
                self.x.iter().enumerate().find(|&(_, &value)| {
                    !(value.fract() == 0.0 && (0.0..vocabulary).contains(&value))
                })
            {
                return Err(Error::DatasetShape(format!(
                    "row {}, column {}: {value} is not a token below the vocabulary size \
                     {} (`dataset.classes` of a text dataset or a next_token model)",
                    index / self.features,
                    index % self.features,
                    d.classes
                )));
            }
        }
        Ok(())
    }
}

fn parse_label(field: &str) -> Option<f32> {
    let value: f64 = field.parse().ok()?;
    (value.fract() == 0.0 && (0.0..f64::from(1u32 << 16)).contains(&value)).then_some(value as f32)
}

fn le_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// A keyed pseudo-random permutation of `0..n`, computable one index at a
/// time (so the chain can check any single sample of a batch): a 4-round
/// Feistel network on the smallest even number of bits ≥ log2 n, with round
/// function `draw(key, round·2^32 + half) mod 2^half_bits`, and cycle-walking
/// until the image falls inside `0..n`.
pub fn permute(key: u64, n: u64, index: u64) -> u64 {
    debug_assert!(index < n);
    let bits = (64 - (n.max(2) - 1).leading_zeros()).max(2);
    let half = bits.div_ceil(2);
    let mask = (1u64 << half) - 1;
    let mut x = index;
    loop {
        let (mut left, mut right) = (x >> half, x & mask);
        for round in 0..4u64 {
            let f = draw(key, (round << 32) | right) & mask;
            (left, right) = (right, left ^ f);
        }
        x = (left << half) | right;
        if x < n {
            return x;
        }
    }
}

/// Which samples a job trains and tests on, and in which order.
#[derive(Clone, Copy, Debug)]
pub struct DataOrder {
    samples: u64,
    train: u64,
    batch: u64,
    split_key: u64,
    shuffle_key: u64,
}

impl DataOrder {
    /// The order of `spec`'s job.
    pub fn new(spec: &JobSpec) -> Self {
        Self {
            samples: u64::from(spec.dataset.samples),
            train: u64::from(spec.train_samples()),
            batch: u64::from(spec.batch_size),
            split_key: derive_key(spec.seed, purpose::SPLIT),
            shuffle_key: derive_key(spec.seed, purpose::SHUFFLE),
        }
    }

    /// The same order with another shuffle key: only for the adversarial test
    /// modes (a solver that shuffles its data wrongly).
    #[cfg(feature = "faults")]
    pub fn with_shuffle_key(self, shuffle_key: u64) -> Self {
        Self {
            shuffle_key,
            ..self
        }
    }

    /// The dataset row at split position `position`: positions `0..train` are
    /// the training set, the rest the held-out test set.
    pub fn split_row(&self, position: u64) -> u64 {
        permute(self.split_key, self.samples, position)
    }

    /// The data cursor before step `step`: samples consumed so far.
    pub fn cursor(&self, step: u64) -> u64 {
        step * self.batch
    }

    /// The dataset row of the `cursor`-th training sample: epoch
    /// `cursor / train` reads the training set in its own permuted order.
    pub fn train_row(&self, cursor: u64) -> u64 {
        let epoch = cursor / self.train;
        let position = cursor % self.train;
        let epoch_key = draw(self.shuffle_key, epoch);
        self.split_row(permute(epoch_key, self.train, position))
    }

    /// The dataset rows of step `step`'s batch.
    pub fn batch_rows(&self, step: u64) -> Vec<u32> {
        let start = self.cursor(step);
        (start..start + self.batch)
            .map(|cursor| self.train_row(cursor) as u32)
            .collect()
    }

    /// The dataset rows of the held-out test set.
    pub fn test_rows(&self) -> Vec<u32> {
        (self.train..self.samples)
            .map(|position| self.split_row(position) as u32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_is_a_bijection() {
        for n in [1u64, 2, 3, 10, 255, 256, 1000, 1797] {
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let j = permute(7, n, i) as usize;
                assert!(!seen[j], "n {n}: {j} hit twice");
                seen[j] = true;
            }
        }
    }

    #[test]
    fn digits_load_with_the_published_shape() {
        let digits = Dataset::digits().unwrap();
        assert_eq!(
            (digits.samples, digits.features, digits.classes),
            (1797, 64, 10)
        );
        assert!(
            digits
                .x
                .iter()
                .all(|&v| (0.0..=1.0).contains(&v) && (v * 16.0).fract() == 0.0)
        );
    }

    #[test]
    fn malformed_csv_is_refused_with_its_line() {
        let path = Path::new("bad.csv");
        let error = Dataset::from_csv_bytes(path, b"1,2,0\n3,x,1\n", 1.0).unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
        let error = Dataset::from_csv_bytes(path, b"1,2,0\n3,1\n", 1.0).unwrap_err();
        assert!(error.to_string().contains("features"), "{error}");
        let error = Dataset::from_csv_bytes(path, b"1,2,0.5\n3,1,1\n", 1.0).unwrap_err();
        assert!(error.to_string().contains("class id"), "{error}");
    }
}
