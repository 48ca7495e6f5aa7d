// Convolutions, pooling and dropout (repops/conv.rs, the DropoutMask of repops/ops.rs): the kernels of Conv2d, Conv2dWeightGrad, Conv2dInputGrad, Conv2dBiasGrad, MaxPool2d, MaxPool2dGrad, AvgPool2d, AvgPool2dGrad, Dropout, DropoutGrad.
// (To be written.)
