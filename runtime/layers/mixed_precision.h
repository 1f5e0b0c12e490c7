// Mixed precision (config `precision: BF16`), in the style of Megatron's bf16 mode with fp32 master
// weights: the optimizer updates fp32 masters and fp32 state; every weight matrix has a bf16 copy
// the GEMMs read, cast from its master once per step (after the update, at start-up, after a
// load); activations enter GEMMs as bf16 and the GEMMs accumulate in fp32; the MoE all-to-all
// payload is bf16. Norms, softmax, routing (router weights included, as Switch Transformer's
// "selective precision" does), the loss and every reduction stay fp32. In an fp32 run none of
// this allocates or casts anything: compute() is the master and as_compute() returns its input.
#pragma once

#include <vector>

#include "runtime/core/param.h"
#include "switchyard/config.pb.h"

namespace sy {

// The dtype GEMM operands take under a precision: kF32 or kBF16.
DType compute_dtype(pb::Precision precision);

// Gives every weight matrix (two or more dimensions) a compute copy of `type` filled from its
// master (none for kF32; vectors — biases, norm gains — and Params marked keep_fp32 never get
// one).
void use_compute_type(const std::vector<Param*>& params, DType type);

// Casts every master into its compute copy: after each optimizer step and after a load.
void refresh_compute_copies(const std::vector<Param*>& params, Stream stream = {});

// x as a GEMM operand of dtype `type`: x itself when it has that dtype, else a cast copy.
Tensor as_compute(const Tensor& x, DType type, Stream stream = {});

}  // namespace sy
