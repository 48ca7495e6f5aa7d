//! Checkpoints: save, load, corruption, replay and resume.

use crate::common::{small_spec, trainer};
use vtrain_proof_of_learning::checkpoint::{load, meta_path, save, tensors_path};
use vtrain_proof_of_learning::{Error, Hash32, Level};

#[test]
fn replay_of_every_interval_equals_the_committed_leaf() {
    let trainer = trainer(small_spec(), Level::detect(), 0);
    let dir = tempfile::tempdir().unwrap();
    let outcome = trainer
        .train(|_, state, root| save(dir.path(), &trainer, state, &root).map(|_| ()))
        .unwrap();
    let k = trainer.spec().checkpoint_interval;
    for (j, root) in outcome
        .checkpoint_roots
        .iter()
        .enumerate()
        .take(outcome.checkpoint_roots.len() - 1)
    {
        let state = load(dir.path(), &trainer, j as u32 * k, Some(root)).unwrap();
        let (_, next_root) = trainer.replay_interval(&state).unwrap();
        assert_eq!(next_root, outcome.checkpoint_roots[j + 1], "interval {j}");
    }
}

#[test]
fn a_resumed_run_ends_with_the_same_trace_root() {
    let trainer = trainer(small_spec(), Level::detect(), 0);
    let dir = tempfile::tempdir().unwrap();
    let full = trainer
        .train(|_, state, root| save(dir.path(), &trainer, state, &root).map(|_| ()))
        .unwrap();
    let resume_at = 2 * trainer.spec().checkpoint_interval;
    let state = load(dir.path(), &trainer, resume_at, None).unwrap();
    let resumed = trainer
        .train_from(state, full.checkpoint_roots[..2].to_vec(), |_, _, _| Ok(()))
        .unwrap();
    assert_eq!(resumed.trace_root, full.trace_root);
}

#[test]
fn one_flipped_ulp_or_a_truncated_file_is_refused() {
    let trainer = trainer(small_spec(), Level::detect(), 0);
    let dir = tempfile::tempdir().unwrap();
    let state = trainer.initial_state();
    let root = trainer.state_root(&state);
    let path = save(dir.path(), &trainer, &state, &root).unwrap();
    assert_eq!(load(dir.path(), &trainer, 0, Some(&root)).unwrap(), state);

    let pristine = std::fs::read(&path).unwrap();
    // Flip the lowest bit of the last f32 of the file (the last moment's last element).
    let mut flipped = pristine.clone();
    let last = flipped.len() - 4;
    flipped[last] ^= 1;
    std::fs::write(&path, &flipped).unwrap();
    let error = load(dir.path(), &trainer, 0, Some(&root)).unwrap_err();
    assert!(
        matches!(error, Error::CheckpointRootMismatch { .. }),
        "{error}"
    );

    // And in a weight: every element is covered.
    let mut flipped = pristine.clone();
    let header = u64::from_le_bytes(pristine[..8].try_into().unwrap()) as usize;
    flipped[8 + header + 4] ^= 1;
    std::fs::write(&path, &flipped).unwrap();
    assert!(matches!(
        load(dir.path(), &trainer, 0, None).unwrap_err(),
        Error::CheckpointRootMismatch { .. }
    ));

    std::fs::write(&path, &pristine[..pristine.len() / 2]).unwrap();
    let error = load(dir.path(), &trainer, 0, None).unwrap_err();
    assert!(matches!(error, Error::Checkpoint { .. }), "{error}");
    assert!(error.to_string().contains("safetensors"), "{error}");

    std::fs::write(&path, &pristine).unwrap();
    let wrong_root = Hash32([7; 32]);
    assert!(matches!(
        load(dir.path(), &trainer, 0, Some(&wrong_root)).unwrap_err(),
        Error::CheckpointRootMismatch { .. }
    ));

    std::fs::write(meta_path(dir.path(), 0), b"{not json").unwrap();
    assert!(matches!(
        load(dir.path(), &trainer, 0, None).unwrap_err(),
        Error::Checkpoint { .. }
    ));
    assert!(tensors_path(dir.path(), 0).exists());
}
