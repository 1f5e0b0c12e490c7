// A trainable parameter: its value, its gradient (accumulated with +=, per contract 1) and how its
// gradient is reduced across ranks: expert parameters over the edp_group, everything else over the
// world (DESIGN.md contract 2).
#pragma once

#include <string>
#include <vector>

#include "runtime/core/tensor.h"

namespace sy {

struct Param {
  std::string name;
  Tensor value;  // the fp32 master
  Tensor grad;   // fp32
  bool is_expert = false;
  // In mixed precision, the copy of value the GEMMs read (bf16), cast from value once per step
  // (runtime/layers/mixed_precision.h); undefined in fp32 runs.
  Tensor compute_copy;
  // Read in fp32 even in mixed precision, so never given a compute copy: the routers' weights
  // (routing stays fp32) and the convolution kernels of the fp32 long convolution.
  bool keep_fp32 = false;
  // AdamW decays matrices (two or more dimensions) unless this is set: biases kept per expert are
  // matrices in shape only.
  bool no_weight_decay = false;
  // An optimizer group of its own (M2's implicit filters): the peak learning rate (0 = the
  // optimizer's; the schedule scales it alike) and the weight decay of every element, vectors
  // included (< 0 = the optimizer's rule above).
  float lr = 0.0f;
  float weight_decay = -1.0f;

  Param() = default;
  Param(std::string n, const Shape& shape, Device device, bool expert = false)
      : name(std::move(n)),
        value(Tensor::zeros(shape, DType::kF32, device)),
        grad(Tensor::zeros(shape, DType::kF32, device)),
        is_expert(expert) {}
  void zero_grad() { grad.fill(0.0); }
  // The weights a GEMM reads: the compute copy where there is one, else the master itself.
  const Tensor& compute() const { return compute_copy.defined() ? compute_copy : value; }
};

}  // namespace sy
