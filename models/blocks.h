// The residual blocks the model zoo stacks. Each maps x (B·T, d) to y (B·T, d) with a residual
// around its mixers; forward/backward keep what they need (contract 1).
//
//   TransformerBlock: y = x' + FFN(norm(x')), x' = x + Attention(norm(x)); the FFN is dense
//                     (GELU MLP) or a MoE layer (Switch/GShard/hash, or MH-MoE), pre-norm with
//                     LayerNorm or RMSNorm.
//   GmlpBlock:        y = x + V · SGU(GELU(U · LN(x)))  (gMLP, causal multi-head SGU).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "experts/moe_layer.h"
#include "models/layers/causal_attention.h"
#include "models/layers/linear.h"
#include "models/layers/m2_mixers.h"
#include "models/layers/norms.h"
#include "models/layers/spatial_gating.h"

namespace sy {

struct BatchShape {
  int64_t batch = 1, seq_len = 1;
  const int32_t* token_ids = nullptr;  // host, B·T (hash routing)
  bool training = true;
};

class Block {
 public:
  virtual ~Block() = default;
  virtual void forward(const Tensor& y, const Tensor& x, const BatchShape& shape) = 0;
  virtual void backward(const Tensor& dx, const Tensor& dy) = 0;
  virtual std::vector<Param*> params() = 0;
  virtual double aux_loss() const { return 0.0; }
  virtual const MoeLayer* moe() const { return nullptr; }
  virtual const MoeLayer* feature_moe() const { return nullptr; }
};

// A pre-norm normalisation that is LayerNorm or RMSNorm.
class PreNorm {
 public:
  PreNorm(const std::string& name, int64_t dim, bool rms, Device device);
  void forward(const Tensor& y, const Tensor& x);
  void backward(const Tensor& dx, const Tensor& dy);
  std::vector<Param*> params();

 private:
  std::unique_ptr<LayerNorm> ln_;
  std::unique_ptr<RMSNorm> rms_;
};

// Dense GELU MLP: y = W2 · GELU(W1 · x).
class DenseFfn {
 public:
  DenseFfn(const std::string& name, int64_t dim, int64_t hidden, uint64_t seed, Device device);
  void forward(const Tensor& y, const Tensor& x);
  void backward(const Tensor& dx, const Tensor& dy);
  std::vector<Param*> params();

 private:
  Linear up_, down_;
  Tensor h_, a_;
};

class TransformerBlock final : public Block {
 public:
  // moe: the MoE FFN's options, or null for a dense FFN of width d_ff.
  TransformerBlock(const std::string& name, int64_t dim, int heads, int64_t d_ff, bool rms_norm,
                   const MoeOptions* moe, const ProcessGroups& groups, uint64_t seed,
                   Device device);
  void forward(const Tensor& y, const Tensor& x, const BatchShape& shape) override;
  void backward(const Tensor& dx, const Tensor& dy) override;
  std::vector<Param*> params() override;
  double aux_loss() const override { return moe_ ? moe_->aux_loss() : 0.0; }
  const MoeLayer* moe() const override { return moe_.get(); }

 private:
  PreNorm norm1_, norm2_;
  CausalSelfAttention attention_;
  std::unique_ptr<DenseFfn> dense_;
  std::unique_ptr<MoeLayer> moe_;
};

// M2 block: y = x' + BlockDiagGLU(LN(x')), x' = x + M2SequenceMixer(LN(x)); causal for M2-GPT,
// bidirectional for M2-BERT.
class M2Block final : public Block {
 public:
  M2Block(const std::string& name, int64_t dim, int64_t d_ff, int64_t seq_len, int blocks,
          uint64_t seed, Device device, bool bidirectional = false);
  void forward(const Tensor& y, const Tensor& x, const BatchShape& shape) override;
  void backward(const Tensor& dx, const Tensor& dy) override;
  std::vector<Param*> params() override;

 private:
  LayerNorm norm1_, norm2_;
  M2SequenceMixer mixer_;
  BlockDiagGluMlp mlp_;
};

class GmlpBlock final : public Block {
 public:
  GmlpBlock(const std::string& name, int64_t dim, int64_t d_ff, int64_t seq_len, int heads,
            uint64_t seed, Device device);
  void forward(const Tensor& y, const Tensor& x, const BatchShape& shape) override;
  void backward(const Tensor& dx, const Tensor& dy) override;
  std::vector<Param*> params() override;

 private:
  int64_t d_ff_;
  LayerNorm norm_;
  Linear up_, down_;
  SpatialGatingUnit sgu_;
  Tensor u_, z_;
};

}  // namespace sy
