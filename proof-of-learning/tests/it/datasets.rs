//! Dataset loaders: the same data in CSV and safetensors has one root.

use vtrain_proof_of_learning::{Dataset, Error};

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
