//! Dataset loaders: the same data in CSV and safetensors has one root; text
//! is cut into overlapping windows (`docs/commitments.md` § Text datasets).

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;
use vtrain_proof_of_learning::spec::DatasetFormat;
use vtrain_proof_of_learning::{Dataset, Error, JobSpec};

fn write_safetensors(
    path: &std::path::Path,
    digits: &Dataset,
    labels: &[u8],
    dtype: safetensors::Dtype,
) {
    let features: Vec<u8> = digits.x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let views = vec![
        (
            "features".to_owned(),
            safetensors::tensor::TensorView::new(
                safetensors::Dtype::F32,
                vec![digits.samples, digits.features],
                &features,
            )
            .unwrap(),
        ),
        (
            "labels".to_owned(),
            safetensors::tensor::TensorView::new(dtype, vec![digits.samples], labels).unwrap(),
        ),
    ];
    std::fs::write(path, safetensors::tensor::serialize(views, None).unwrap()).unwrap();
}

#[test]
fn csv_and_safetensors_give_the_same_root() {
    let digits = Dataset::digits().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("digits.safetensors");
    let labels: Vec<u8> = digits
        .y
        .iter()
        .flat_map(|&y| (y as i64).to_le_bytes())
        .collect();
    write_safetensors(&path, &digits, &labels, safetensors::Dtype::I64);
    let loaded = Dataset::from_safetensors_file(&path).unwrap();
    assert_eq!(loaded, digits);
    assert_eq!(loaded.root(), digits.root());

    let csv = dir.path().join("digits.csv");
    let text: String = digits
        .x
        .chunks(digits.features)
        .zip(&digits.y)
        .map(|(row, y)| {
            let mut line: Vec<String> = row.iter().map(|v| format!("{}", v * 16.0)).collect();
            line.push(format!("{y}"));
            line.join(",") + "\n"
        })
        .collect();
    std::fs::write(&csv, text).unwrap();
    assert_eq!(
        Dataset::from_csv_file(&csv, 1.0 / 16.0).unwrap().root(),
        digits.root()
    );
}

#[test]
fn a_truncated_or_mistyped_safetensors_dataset_is_refused() {
    let digits = Dataset::digits().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.safetensors");
    let labels: Vec<u8> = digits.y.iter().flat_map(|&y| y.to_le_bytes()).collect();
    write_safetensors(&path, &digits, &labels, safetensors::Dtype::F32);
    assert!(Dataset::from_safetensors_file(&path).is_ok());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let error = Dataset::from_safetensors_file(&path).unwrap_err();
    assert!(matches!(error, Error::Dataset { .. }), "{error}");
    assert!(error.to_string().contains("safetensors"), "{error}");
    let missing =
        Dataset::from_safetensors_file(&dir.path().join("absent.safetensors")).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }), "{missing}");
}

/// The sha256 of the uncompressed bundled corpus, as `scripts/shakespeare-corpus.sh` pins it.
const SHAKESPEARE_SHA256: &str = "da68ca4e8201d41a12c1d5e82d967bda85105f1dabe823d5735138bccabdd387";

fn repo_file(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

fn text(bytes: &[u8], window: usize) -> vtrain_proof_of_learning::Result<Dataset> {
    Dataset::from_text_bytes(Path::new("test.txt"), bytes, window)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A spec for `data` as a text dataset with vocabulary `classes`.
fn text_spec(data: &Dataset, classes: u32) -> JobSpec {
    let mut spec = crate::common::digits_spec();
    spec.dataset.format = DatasetFormat::Text;
    spec.dataset.root = format!("{}", data.root());
    spec.dataset.samples = data.samples as u32;
    spec.dataset.features = data.features as u32;
    spec.dataset.classes = classes;
    spec.dataset.holdout = 1;
    spec.batch_size = 1;
    spec
}

#[test]
fn text_rows_overlap_by_one_token_and_cover_the_stream() {
    let tokens: Vec<u8> = (0..23u8).map(|i| i.wrapping_mul(37)).collect();
    // window 5: T = 4, (23 − 1) / 4 = 5 rows over tokens 0..=20; 21 and 22 are dropped.
    let data = text(&tokens, 5).unwrap();
    assert_eq!((data.samples, data.features), (5, 5));
    for (i, row) in data.x.chunks(5).enumerate() {
        let expected: Vec<f32> = tokens[4 * i..4 * i + 5]
            .iter()
            .map(|&t| f32::from(t))
            .collect();
        assert_eq!(row, expected, "row {i}");
        assert_eq!(data.y[i], f32::from(tokens[4 * i + 4]), "label {i}");
    }
    // Every adjacent pair of the kept stream is in exactly one row: the tokens
    // are distinct (37 is odd), so each pair names its position.
    let position = |token: f32| tokens.iter().position(|&t| f32::from(t) == token).unwrap();
    let mut seen = [0u32; 20];
    for row in data.x.chunks(5) {
        for pair in row.windows(2) {
            let at = position(pair[0]);
            assert_eq!(position(pair[1]), at + 1);
            seen[at] += 1;
        }
    }
    assert_eq!(seen, [1; 20]);
    let max = tokens[4..=20].iter().step_by(4).max().unwrap();
    assert_eq!(data.classes, usize::from(*max) + 1);

    // n = (len − 1) / T: 21 tokens fill 5 rows exactly, 20 only 4.
    assert_eq!(text(&tokens[..21], 5).unwrap().samples, 5);
    assert_eq!(text(&tokens[..20], 5).unwrap().samples, 4);
    assert_eq!(text(&tokens[..21], 5).unwrap().x, data.x);
    // window 2: every token but the last starts a row.
    assert_eq!(text(&tokens, 2).unwrap().samples, 22);
    // gzip'd text is the same dataset.
    assert_eq!(text(&gzip(&tokens), 5).unwrap(), data);
}

#[test]
fn a_text_dataset_round_trips_through_the_canonical_safetensors() {
    let data = text(b"To be, or not to be, that is the question:\n", 9).unwrap();
    let bytes = data.to_safetensors_bytes().unwrap();
    let loaded =
        Dataset::from_safetensors_bytes(Path::new("canonical.safetensors"), &bytes).unwrap();
    assert_eq!(loaded, data);
    assert_eq!(loaded.root(), data.root());
}

#[test]
fn the_bundled_shakespeare_is_the_pinned_text() {
    let path = repo_file("examples/data/shakespeare.txt.gz");
    let gz = std::fs::read(&path).unwrap();
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut plain)
        .unwrap();
    let digest: String = Sha256::digest(&plain)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(digest, SHAKESPEARE_SHA256);
    let script = std::fs::read_to_string(repo_file("scripts/shakespeare-corpus.sh")).unwrap();
    assert!(
        script.contains(&format!("corpus_sha256={SHAKESPEARE_SHA256}\n")),
        "scripts/shakespeare-corpus.sh pins another hash"
    );

    let data = Dataset::from_text_file(&path, 65).unwrap();
    assert_eq!(plain.len(), 5_057_198);
    assert_eq!((data.samples, data.features), (79_018, 65));
    assert_eq!(data.samples, (plain.len() - 1) / 64);
    assert!(data.classes <= 128, "ASCII text: {} classes", data.classes);
    let first: Vec<f32> = plain[..65].iter().map(|&t| f32::from(t)).collect();
    assert_eq!(data.x[..65], first[..]);
    let last = (data.samples - 1) * 64;
    assert_eq!(data.y[data.samples - 1], f32::from(plain[last + 64]));
}

#[test]
fn unusable_text_is_refused() {
    let error = text(b"abcdefgh", 1).unwrap_err();
    assert!(matches!(error, Error::Dataset { .. }), "{error}");
    assert!(error.to_string().contains("window of 1"), "{error}");
    let error = text(b"abcdefgh", 65_537).unwrap_err();
    assert!(error.to_string().contains("window of 65537"), "{error}");
    // window 4 needs 2·3 + 1 = 7 bytes for two rows.
    assert_eq!(text(b"abcdefg", 4).unwrap().samples, 2);
    let error = text(b"abcdef", 4).unwrap_err();
    assert!(matches!(error, Error::Dataset { .. }), "{error}");
    assert!(error.to_string().contains("make 1 row(s)"), "{error}");
    let error = text(b"", 4).unwrap_err();
    assert!(error.to_string().contains("make 0 row(s)"), "{error}");
    let mut broken = gzip(b"abcdefgh");
    broken.truncate(12);
    let error = text(&broken, 4).unwrap_err();
    assert!(matches!(error, Error::Dataset { .. }), "{error}");
    assert!(error.to_string().contains("gzip"), "{error}");
}

#[test]
fn a_token_outside_the_vocabulary_is_refused() {
    // window 3: rows [0, 7, 1], [1, 2, 3], [3, 1, 4]; labels 1, 3, 4 (5 classes).
    let data = text(&[0, 7, 1, 2, 3, 1, 4], 3).unwrap();
    assert_eq!((data.samples, data.classes), (3, 5));
    data.check_against(&text_spec(&data, 8)).unwrap();
    let error = data.check_against(&text_spec(&data, 5)).unwrap_err();
    assert!(matches!(error, Error::DatasetShape(_)), "{error}");
    assert!(error.to_string().contains("row 0, column 1: 7"), "{error}");
    // Only a text dataset's features are tokens.
    let mut csv = text_spec(&data, 5);
    csv.dataset.format = DatasetFormat::Csv;
    data.check_against(&csv).unwrap();
}
