// The residual blocks the model zoo stacks. Each maps x (B·T, d) to y (B·T, d) with a residual
// around its mixers; forward/backward keep what they need (contract 1); each reports its forward
// FLOPs per token (2 × multiply-adds, each token's routed experts only, full T×T sequence mixing:
// the napkin math for comparing families at equal compute).
//
//   TransformerBlock: y = x' + FFN(norm(x')), x' = x + Attention(norm(x)); the FFN is dense
//                     (GELU MLP) or a MoE layer (Switch/GShard/hash, or MH-MoE), pre-norm with
//                     LayerNorm or RMSNorm.
//   M2Block:          y = x' + BlockDiagGLU(LN(x')), x' = x + M2SequenceMixer(LN(x)).
//   GmlpBlock:        y = x + V · SGU(GELU(U · LN(x)))  (gMLP, causal multi-head SGU).
// sMLP's sparse block is in models/smlp_block.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "experts/mh_moe_layer.h"
#include "models/layers/causal_attention.h"
#include "models/layers/m2_mixers.h"
#include "models/layers/norms.h"
#include "models/layers/spatial_gating.h"
#include "runtime/layers/linear.h"

namespace sy {

// What every block of a model shares.
struct BlockSpec {
  std::string name;  // parameter-name prefix, e.g. "block3"
  int64_t dim = 0;   // d
  int64_t d_ff = 0;  // the FFN's (or gMLP's) hidden width
  int64_t seq_len = 0;
  int heads = 1;  // attention or SGU heads
  uint64_t seed = 0;
  Device device;
  double rope_base = 0;                 // > 0: rotary positions on attention's queries and keys
  Activation gelu = Activation::kGelu;  // model.gelu: kGelu (tanh) or kGeluErf
  bool bidirectional = false;           // attention over the whole sequence (BERT)
  bool post_norm = false;               // M2 blocks: y = LN(x + f(x)) (M2-BERT's release)
};

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
  virtual double forward_flops_per_token() const = 0;
  virtual const MoeLayer* moe() const { return nullptr; }
  virtual const MoeLayer* feature_moe() const { return nullptr; }
  // Drops what forward kept for backward, for recompute: backward must then follow a new forward
  // of the same input (models/language_model.h).
  virtual void drop_activations() = 0;
};

// A pre-norm normalisation that is LayerNorm or RMSNorm.
class PreNorm {
 public:
  PreNorm(const std::string& name, int64_t dim, bool rms, Device device);
  void forward(const Tensor& y, const Tensor& x);
  void backward(const Tensor& dx, const Tensor& dy);
  std::vector<Param*> params();
  void drop_activations() { ln_ ? ln_->drop_activations() : rms_->drop_activations(); }

 private:
  std::unique_ptr<LayerNorm> ln_;
  std::unique_ptr<RMSNorm> rms_;
};

// Dense GELU MLP: y = W2 · GELU(W1 · x).
class DenseFfn {
 public:
  DenseFfn(const std::string& name, int64_t dim, int64_t hidden, uint64_t seed, Device device,
           Activation gelu = Activation::kGelu);
  void forward(const Tensor& y, const Tensor& x);
  void backward(const Tensor& dx, const Tensor& dy);
  std::vector<Param*> params();
  void drop_activations() {
    up_.drop_activations();
    down_.drop_activations();
    release(h_, a_);
  }

 private:
  Activation gelu_;
  Linear up_, down_;
  Tensor h_, a_;
};

class TransformerBlock final : public Block {
 public:
  // moe: the MoE FFN's options, or null for a dense FFN of width d_ff.
  TransformerBlock(const BlockSpec& spec, bool rms_norm, const MoeOptions* moe,
                   const ProcessGroups& groups);
  void forward(const Tensor& y, const Tensor& x, const BatchShape& shape) override;
  void backward(const Tensor& dx, const Tensor& dy) override;
  std::vector<Param*> params() override;
  double aux_loss() const override { return moe_ ? moe_->core().aux_loss() : 0.0; }
  double forward_flops_per_token() const override;
  const MoeLayer* moe() const override { return moe_ ? &moe_->core() : nullptr; }
  void drop_activations() override;

 private:
  // Whether the MoE layer normalises inside (BASE in fairseq's form): no norm2 then.
  bool moe_inner_norm() const { return moe_ && moe_->core().normalizes_input(); }

  BlockSpec spec_;
  PreNorm norm1_, norm2_;
  CausalSelfAttention attention_;
  std::unique_ptr<DenseFfn> dense_;
  std::unique_ptr<TokenMoe> moe_;
};

// M2's block: the sequence mixer, causal for M2-GPT and bidirectional for M2-BERT, then (unless
// MLP-free, the paper's M2-GPT) the block-diagonal GLU with `blocks` blocks.
struct M2BlockOptions {
  M2MixerOptions mixer;
  bool mlp = true;
  int blocks = 4;
};

// M2's forward FLOPs per token (the formula above M2Block::forward_flops_per_token in blocks.cc).
double m2_flops_per_token(const BlockSpec& spec, const M2BlockOptions& options);

class M2Block final : public Block {
 public:
  M2Block(const BlockSpec& spec, const M2BlockOptions& options);
  void forward(const Tensor& y, const Tensor& x, const BatchShape& shape) override;
  void backward(const Tensor& dx, const Tensor& dy) override;
  std::vector<Param*> params() override;
  double forward_flops_per_token() const override;
  void drop_activations() override;

 private:
  BlockSpec spec_;
  M2BlockOptions o_;
  LayerNorm norm1_, norm2_;
  M2SequenceMixer mixer_;
  std::unique_ptr<BlockDiagGluMlp> mlp_;
};

// gMLP's forward FLOPs per token: U (d → 2F), V (F → d) and the T×T spatial mixing of F channels.
double gmlp_flops_per_token(const BlockSpec& spec);

class GmlpBlock final : public Block {
 public:
  explicit GmlpBlock(const BlockSpec& spec);
  void forward(const Tensor& y, const Tensor& x, const BatchShape& shape) override;
  void backward(const Tensor& dx, const Tensor& dy) override;
  std::vector<Param*> params() override;
  double forward_flops_per_token() const override { return gmlp_flops_per_token(spec_); }
  void drop_activations() override;

 private:
  BlockSpec spec_;
  int64_t d_ff_;
  LayerNorm norm_;
  Linear up_, down_;
  SpatialGatingUnit sgu_;
  Tensor u_, z_;
};

}  // namespace sy
