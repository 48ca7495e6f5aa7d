// Embeddings and causal attention (repops/attention.rs): the kernels of Embed, EmbedGrad, AttnScores, AttnSoftmaxStats, AttnSoftmax, AttnContext, AttnProbsGrad, AttnValueGrad, AttnSoftmaxDot, AttnSoftmaxGrad, AttnQueryGrad, AttnKeyGrad.
// (To be written.)
