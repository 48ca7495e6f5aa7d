// Layer norms, GELU and gradient clipping (repops/norm.rs, repops/clip.rs): the kernels of LayerNormStats, LayerNorm, LayerNormInputGrad, LayerNormWeightGrad, Gelu, GeluGrad, GradSquareSum, ClipScale, ClipGrad.
// (To be written.)
