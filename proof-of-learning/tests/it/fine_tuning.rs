//! Fine-tuning: a job whose S₀ is a model named by its root
//! (`examples/digits-mlp-finetune.toml` continues `examples/digits-mlp.toml`).

use vtrain_proof_of_learning::commit::model_root;
use vtrain_proof_of_learning::spec::InitSpec;
use vtrain_proof_of_learning::{Dataset, Error, JobSpec, Kernels, Level, Trainer};

use crate::common::{digits_spec, small_spec, trainer};

const FINETUNE: &str = include_str!("../../../examples/digits-mlp-finetune.toml");

/// Trace root of `examples/digits-mlp-finetune.toml` from the reference
/// job's model.
const FINETUNE_GOLDEN: &str = "0x9cc81552198cb89f11863e9e34b3105fb48dd85b4d5b4ae2b8bdf3c677df1a20";

fn finetune_spec() -> JobSpec {
    JobSpec::from_toml(FINETUNE).unwrap()
}

fn kernels() -> Kernels {
    Kernels::new(Level::detect(), 2).unwrap()
}

/// The reference job's model is the example's `init.root`; the fine-tuning
/// job starts from exactly those weights with zero moments, matches its
/// golden trace root, and classifies the held-out split (the same split: the
/// same seed) at least as well as the model it starts from (96.94% → 97.50%;
/// the held-out loss moves 0.0830 → 0.0856).
#[test]
fn the_example_continues_the_reference_model() {
    let reference = trainer(digits_spec(), Level::detect(), 2);
    let first = reference.train(|_, _, _| Ok(())).unwrap();
    let root = model_root(reference.param_shapes(), &first.final_state.params);
    let spec = finetune_spec();
    assert_eq!(spec.initial_model_root().unwrap(), Some(root), "init.root");

    let tuned = Trainer::with_initial_model(
        spec,
        Dataset::digits().unwrap(),
        Some(first.final_state.params.clone()),
        kernels(),
    )
    .unwrap();
    let s0 = tuned.initial_state();
    assert_eq!(s0.params, first.final_state.params);
    assert!(s0.moments.iter().flatten().all(|&m| m.to_bits() == 0));
    let second = tuned.train(|_, _, _| Ok(())).unwrap();
    let test = tuned.order().test_rows();
    let before = tuned.evaluate(&first.final_state, &test);
    let after = tuned.evaluate(&second.final_state, &test);
    eprintln!(
        "fine-tuning: held-out accuracy {:.4} → {:.4}, loss {:.4} → {:.4}; trace root {}",
        before.accuracy, after.accuracy, before.loss, after.loss, second.trace_root
    );
    assert_eq!(second.trace_root.to_hex(), FINETUNE_GOLDEN);
    assert!(after.accuracy >= before.accuracy, "{after:?} vs {before:?}");
}

/// A trainer for a fine-tuning job takes exactly the named model: none, one
/// with another root or other shapes, or one for a job drawn from the seed is
/// refused.
#[test]
fn a_fine_tuning_trainer_takes_exactly_its_model() {
    let base = trainer(small_spec(), Level::detect(), 1);
    let weights = base.initial_state().params;
    let mut spec = small_spec();
    spec.init = InitSpec::Model {
        root: model_root(base.param_shapes(), &weights).to_hex(),
    };
    let build = |initial: Option<Vec<Vec<f32>>>| {
        Trainer::with_initial_model(spec.clone(), Dataset::digits().unwrap(), initial, kernels())
    };

    let missing = build(None).unwrap_err();
    assert!(
        matches!(missing, Error::InitialModelMissing(_)),
        "{missing}"
    );
    let mut flipped = weights.clone();
    flipped[1][3] = f32::from_bits(flipped[1][3].to_bits() ^ 1);
    let other = build(Some(flipped)).unwrap_err();
    assert!(other.to_string().contains("model root"), "{other}");
    let mut short = weights.clone();
    short[0].pop();
    let shape = build(Some(short)).unwrap_err();
    assert!(shape.to_string().contains("values"), "{shape}");
    let fewer = build(Some(weights[..2].to_vec())).unwrap_err();
    assert!(fewer.to_string().contains("tensors"), "{fewer}");
    let seeded = Trainer::with_initial_model(
        small_spec(),
        Dataset::digits().unwrap(),
        Some(weights.clone()),
        kernels(),
    )
    .unwrap_err();
    assert!(seeded.to_string().contains("seed"), "{seeded}");

    let tuned = build(Some(weights.clone())).unwrap();
    assert_eq!(tuned.initial_state().params, weights);
    // The same weights as the seed's S₀, but a different job: another hash.
    assert_ne!(
        tuned.state_root(&tuned.initial_state()),
        base.state_root(&base.initial_state())
    );
    // Loaded weights have no element program; the game never asks for one.
    assert!(tuned.init_element_trace(0, 0).is_err());
    assert!(base.init_element_trace(0, 0).is_ok());
}

/// `[init]` in TOML and in the canonical bytes: the seed is the default and
/// encodes as nothing (every existing job keeps its hash); a model adds
/// `u8 2 ‖ root`; bad roots are refused naming `init.root`.
#[test]
fn the_init_section_parses_encodes_and_validates() {
    let seeded = digits_spec();
    let explicit = JobSpec::from_toml(&format!(
        "{}\n[init]\nfrom = \"seed\"\n",
        include_str!("../../../examples/digits-mlp.toml")
    ))
    .unwrap();
    assert_eq!(explicit, seeded);
    assert_eq!(explicit.canonical_bytes(), seeded.canonical_bytes());

    let tuned = finetune_spec();
    let bytes = tuned.canonical_bytes();
    let root = tuned.initial_model_root().unwrap().unwrap();
    assert_eq!(bytes[bytes.len() - 33], 2);
    assert_eq!(&bytes[bytes.len() - 32..], &root.0);
    assert_eq!(JobSpec::from_canonical_bytes(&bytes).unwrap(), tuned);
    assert_eq!(JobSpec::from_toml(&tuned.to_toml()).unwrap(), tuned);

    for bad in [
        "0x00",
        "0x0000000000000000000000000000000000000000000000000000000000000000",
        "0xabcd",
        "",
    ] {
        let mut spec = digits_spec();
        spec.init = InitSpec::Model {
            root: bad.to_owned(),
        };
        match spec.validate() {
            Err(Error::InvalidSpec { field, .. }) => assert_eq!(field, "init.root", "{bad:?}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let unknown = FINETUNE.replace("[init]", "[init]\nstrict = true");
    assert!(JobSpec::from_toml(&unknown).is_err());
}
