// sMLP's sparse block (PAPERS.md, arXiv 2203.06850): an sMoE module in place of gMLP's spatial
// gating, then a tMoE module in place of the FFN.
//
//   x' = x + V · (Z1 ⊙ sMoE(LN(Z2))),  Z = GELU(U · LN(x)) = [Z1 | Z2]
//   y  = x' + tMoE(LN(x'))            (token MoE with BASE routing; in fairseq's form, the default,
//                                      y = x' + α·FFN_e(LN x'), the experts normalising inside)
#pragma once

#include <memory>
#include <string>

#include "experts/feature_moe_layer.h"
#include "models/blocks.h"

namespace sy {

class SmlpSparseBlock final : public Block {
 public:
  SmlpSparseBlock(const BlockSpec& spec, const FeatureMoeOptions& smoe, const MoeOptions& tmoe,
                  const ProcessGroups& groups, const pb::ParallelConfig* overlap);
  void forward(const Tensor& y, const Tensor& x, const BatchShape& shape) override;
  void backward(const Tensor& dx, const Tensor& dy) override;
  std::vector<Param*> params() override;
  double aux_loss() const override { return smoe_.aux_loss() + tmoe_.aux_loss(); }
  // gMLP's (the sMoE computes one SGU's worth, spread over experts), plus the tMoE's.
  double forward_flops_per_token() const override {
    return gmlp_flops_per_token(spec_) + tmoe_.forward_flops_per_token();
  }
  const MoeLayer* moe() const override { return &tmoe_; }
  const MoeLayer* feature_moe() const override { return &smoe_.core(); }
  void drop_activations() override;

 private:
  BlockSpec spec_;
  int64_t d_ff_;
  LayerNorm norm_, gate_norm_, tmoe_norm_;
  Linear up_, down_;
  FeatureMoeLayer smoe_;
  MoeLayer tmoe_;
  Tensor u_, z_, halves_, g_;
};

}  // namespace sy
