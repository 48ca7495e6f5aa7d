//! The counter-based PRNG every random choice of a job comes from.
//!
//! SplitMix64's finaliser applied to `key + counter · γ` (γ = 0x9E3779B97F4A7C15,
//! wrapping): a pure function of (key, counter), so any draw can be recomputed
//! on its own, in any order, on any machine, and on chain. Streams are separated
//! by deriving a key per purpose with [`derive_key`]. Normative text:
//! `docs/repops.md` § Randomness.

/// SplitMix64's increment, the golden ratio in 64 bits.
pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function (Stafford's variant 13).
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `counter`-th 64-bit draw of the stream keyed by `key`.
pub const fn draw(key: u64, counter: u64) -> u64 {
    mix64(key.wrapping_add(counter.wrapping_add(1).wrapping_mul(GAMMA)))
}

/// The key of the sub-stream `purpose` (a small constant) of stream `key`.
pub const fn derive_key(key: u64, purpose: u64) -> u64 {
    draw(key, purpose ^ 0x5654_5241_494E_0000) // "VTRAIN\0\0"
}

/// A uniform f32 in [0, 1): the top 24 bits of the draw, times 2⁻²⁴ (exact).
pub fn uniform01(key: u64, counter: u64) -> f32 {
    ((draw(key, counter) >> 40) as u32) as f32 * (1.0 / 16_777_216.0)
}

/// Sub-stream purposes.
pub mod purpose {
    /// Initial weights: one sub-stream per parameter tensor (`+ index`).
    pub const INIT: u64 = 0x100;
    /// The per-epoch shuffle of the training set (`+ epoch`, wrapping).
    pub const SHUFFLE: u64 = 0x1_0000_0000;
    /// The train/test split of a dataset.
    pub const SPLIT: u64 = 0x200;
    /// The dropout masks of layer `i` of a graph (`+ i`; one key per step
    /// drawn from it).
    pub const DROPOUT: u64 = 0x300;
    /// Sampling text from a trained language model (one draw per token).
    pub const GENERATE: u64 = 0x400;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_published_sequence() {
        // SplitMix64 seeded with 1234567: the reference C implementation's
        // first outputs (state += γ, then mix).
        let expected = [
            6_457_827_717_110_365_317u64,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423,
        ];
        for (i, want) in expected.iter().enumerate() {
            assert_eq!(draw(1_234_567, i as u64), *want, "draw {i}");
        }
    }

    #[test]
    fn uniform01_is_in_range_and_exactly_representable() {
        for counter in 0..10_000 {
            let u = uniform01(42, counter);
            assert!((0.0..1.0).contains(&u));
            assert_eq!((u * 16_777_216.0).fract(), 0.0);
        }
    }
}
