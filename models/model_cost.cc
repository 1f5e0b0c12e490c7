#include "models/model_cost.h"

#include <algorithm>

#include "experts/expert_cost.h"
#include "models/family_builders.h"
#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/layers/mixed_precision.h"

namespace sy {

double attention_flops_per_token(int64_t dim, int64_t seq_len) {
  const double d = static_cast<double>(dim), t = static_cast<double>(seq_len);
  return 2.0 * (4 * d * d + 2 * t * d);
}

double dense_ffn_flops_per_token(int64_t dim, int64_t hidden) {
  return 2.0 * 2.0 * static_cast<double>(dim) * static_cast<double>(hidden);
}

MoeCost token_moe_cost(const MoeOptions& o) {
  MoeCost m;
  const int64_t w = o.item_width();
  m.num_experts = o.num_experts;
  m.items_per_token = o.num_heads * o.top_k;
  m.item_width = w;
  m.expert_flops_per_item = expert_flops_per_item(o, w);
  m.weights_per_expert = expert_weight_count(o, w);
  // Input, pre-activation, activation, output.
  m.kept_per_item = static_cast<double>(w + ffn_up_width(o) + o.hidden() + w);
  m.kept_input_per_item = w;
  return m;
}

double MoeCost::payload_bytes(double tokens, pb::Precision precision) const {
  return tokens * payload_per_token() * static_cast<double>(dtype_size(compute_dtype(precision)));
}

namespace {

// The sum of f(x) over the items of v.
template <typename T, typename F>
auto sum_of(const std::vector<T>& v, F&& f) {
  decltype(f(v.front())) s{};
  for (const T& x : v) s += f(x);
  return s;
}

int64_t norm_weights(int64_t d, bool rms) {
  return rms ? d : 2 * d;
}

// A token MoE layer in block `b`: its router and projections, and its experts.
void add_moe(BlockCost& b, const MoeOptions& o) {
  const double h = o.num_heads;
  b.dense_flops_per_token += mh_projection_flops_per_token(o) + h * router_flops_per_item(o);
  b.dense_weights += router_weight_count(o) + mh_projection_weight_count(o);
  b.kept_per_token += (o.mh_projections ? 2.0 : 0.0) * o.d_model + h * o.top_k;  // + gate weights
  b.moes.push_back(token_moe_cost(o));
}

BlockCost attention_block_cost(const pb::RunConfig& c, int index) {
  const BlockSpec s = block_spec(c, index, Device::cpu());
  const int64_t d = s.dim;
  const std::optional<MoeOptions> moe = attention_block_moe(c, index);
  const bool rms = attention_rms_norm(c.model());
  const bool inner_norm = moe && moe->base_fairseq;  // fairseq's BASE: the experts normalise
  BlockCost b;
  b.dense_flops_per_token = attention_flops_per_token(d, s.seq_len);
  b.dense_weights = norm_weights(d, rms) * (inner_norm ? 1 : 2) + (d * 3 * d + 3 * d) + (d * d + d);
  // Norm inputs and outputs, QKV, the per-head probabilities, context, the residual.
  b.kept_per_token = 2.0 * d + 3.0 * d + static_cast<double>(s.heads) * s.seq_len + d + 3.0 * d;
  if (moe) {
    add_moe(b, *moe);
  } else {
    b.dense_flops_per_token += dense_ffn_flops_per_token(d, s.d_ff);
    b.dense_weights += d * s.d_ff + s.d_ff + s.d_ff * d + d;
    b.kept_per_token += 2.0 * s.d_ff;
  }
  return b;
}

// gMLP's block: LayerNorm, U (d → 2F, bias), the SGU (LayerNorm over F, h spatial T×T matrices
// and biases), V (F → d, bias). Kept: norm in/out, U's output, the gate's norm, mix and product.
BlockCost gmlp_block_cost(const BlockSpec& s) {
  const int64_t d = s.dim, f = s.d_ff, t = s.seq_len, h = s.heads;
  BlockCost b;
  b.dense_flops_per_token = gmlp_flops_per_token(s);
  b.dense_weights = 2 * d + (d * 2 * f + 2 * f) + (2 * f + h * t * t + h * t) + (f * d + d);
  b.kept_per_token = 2.0 * d + 2.0 * f + 3.0 * f;
  return b;
}

// sMLP's sparse block: gMLP's U and V around the sMoE (the SGU's spatial mixing, as experts over
// channel chunks), then the tMoE (BASE) with its own norm unless fairseq's form normalises.
BlockCost smlp_sparse_block_cost(const pb::RunConfig& c, int index) {
  const SmlpSparseOptions o = smlp_sparse_options(c, index);
  const int64_t d = o.spec.dim, f = o.spec.d_ff, t = o.spec.seq_len;
  const int64_t e = o.smoe.num_experts, chunk = f / e;
  BlockCost b;
  // The sMoE's mixing is gMLP's T·F term, now in the experts; its gate is counted with them.
  b.dense_flops_per_token = gmlp_flops_per_token(o.spec) - sgu_expert_flops_per_item(t, f) / t;
  b.dense_weights = 2 * d + (d * 2 * f + 2 * f) + 2 * f + (f * d + d) +
                    (o.tmoe.base_fairseq ? 0 : 2 * d) +
                    (o.smoe.prefix_len > 0 ? o.smoe.prefix_len * chunk * e : 0);
  b.kept_per_token = 2.0 * d + 2.0 * f + 2.0 * f + (o.tmoe.base_fairseq ? 0.0 : 2.0 * d);
  MoeCost smoe;
  smoe.num_experts = static_cast<int>(e);
  smoe.items_per_token = static_cast<double>(e) / static_cast<double>(t);
  smoe.item_width = t * chunk;
  smoe.expert_flops_per_item = sgu_expert_flops_per_item(t, chunk);
  smoe.weights_per_expert = sgu_expert_weight_count(t);
  smoe.kept_per_item = 2.0 * static_cast<double>(t * chunk);  // input and output
  smoe.kept_input_per_item = static_cast<double>(t * chunk);
  b.moes.push_back(smoe);
  add_moe(b, o.tmoe);
  // The built block counts gMLP's FLOPs and the tMoE's, not a router for the sMoE.
  return b;
}

// One long convolution's kernel: C = d/heads channels; EXPLICIT: a weight per channel and tap
// (T, or 2T bidirectional); IMPLICIT: the skip D (C), the shared sine frequency (W) and per
// direction the filter MLP (features → W, inner W → W layers, W → C without bias).
int64_t long_kernel_weights(int64_t d, int64_t t, const M2BlockOptions& o) {
  const LongKernelOptions& k = o.mixer.kernel;
  const int64_t ch = d / k.heads, taps = o.mixer.bidirectional ? 2 * t : t;
  if (!k.implicit) return ch * taps;
  const int64_t w = k.filter.width;
  const int64_t mlp = (k.filter.features * w + w) + k.filter.inner_layers * (w * w + w) + w * ch;
  return ch + w + (o.mixer.bidirectional ? 2 : 1) * mlp;
}

// M2's block: LayerNorm, the mixer (in d → 3d and out d → d with biases, the 3-tap short kernel of
// 3d channels, one or two long kernels), then — unless MLP-free — LayerNorm and the block-diagonal
// GLU (W1 d → 2F, W2 F → d in `blocks` blocks, a bias on the output).
BlockCost m2_block_cost(const BlockSpec& s, const M2BlockOptions& o) {
  const int64_t d = s.dim, f = s.d_ff, t = s.seq_len;
  BlockCost b;
  b.dense_flops_per_token = m2_flops_per_token(s, o);
  const int64_t kernels = o.mixer.residual_long_conv ? 2 : 1;
  b.dense_weights = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 3 * d * 3 +
                    kernels * long_kernel_weights(d, t, o);
  if (o.mlp) b.dense_weights += 2 * d + 2 * f * d / o.blocks + d * f / o.blocks + d;
  // Norm in/out, the 3d projections and their short convolution, the gated product, the out
  // projection; the GLU's 2F, F and output.
  b.kept_per_token = 2.0 * d + 6.0 * d + 2.0 * d + (o.mlp ? 2.0 * d + 3.0 * f : 0.0);
  return b;
}

std::vector<BlockCost> family_blocks(const pb::RunConfig& c) {
  const pb::ModelConfig& m = c.model();
  std::vector<BlockCost> blocks;
  switch (m.family()) {
    case pb::TRANSFORMER:
    case pb::BERT:
    case pb::TRANSFORMER_MOE:
    case pb::MH_MOE:
      for (int i = 0; i < m.n_layers(); ++i) blocks.push_back(attention_block_cost(c, i));
      return blocks;
    case pb::GMLP:
      for (int i = 0; i < m.n_layers(); ++i)
        blocks.push_back(gmlp_block_cost(block_spec(c, i, Device::cpu())));
      return blocks;
    case pb::SMLP:
      for (int i = 0; i < m.n_dense_blocks(); ++i)
        blocks.push_back(gmlp_block_cost(block_spec(c, i, Device::cpu())));
      for (int j = 0; j < m.n_sparse_blocks(); ++j)
        blocks.push_back(smlp_sparse_block_cost(c, m.n_dense_blocks() + j));
      return blocks;
    case pb::M2_GPT:
    case pb::M2_BERT:
      for (int i = 0; i < m.n_layers(); ++i)
        blocks.push_back(m2_block_cost(block_spec(c, i, Device::cpu()), m2_block_options(m)));
      return blocks;
    default: break;
  }
  SY_THROW("model family " << pb::ModelFamily_Name(m.family())
                           << " is not set or not known; use TRANSFORMER, BERT, TRANSFORMER_MOE, "
                              "MH_MOE, GMLP, SMLP, M2_GPT or M2_BERT");
}

}  // namespace

double BlockCost::expert_flops_per_token() const {
  return sum_of(moes, [](const MoeCost& m) { return m.expert_flops_per_token(); });
}

int64_t BlockCost::expert_weights() const {
  return sum_of(moes, [](const MoeCost& m) { return m.expert_weights(); });
}

size_t moe_exchange_bytes_per_rank(const pb::RunConfig& c, int world) {
  const ModelCost m = model_cost(c);
  const double tokens = static_cast<double>(c.data().global_batch()) * m.seq_len / world;
  double bytes = 0;
  for (const BlockCost& b : m.blocks)
    for (const MoeCost& moe : b.moes)
      bytes = std::max(bytes, moe.payload_bytes(tokens, c.precision()));
  return static_cast<size_t>(bytes);
}

BlockCost moe_layer_cost(const MoeOptions& o) {
  BlockCost b;
  add_moe(b, o);
  b.kept_per_token += o.d_model;  // the layer's input (the router's backward reads it)
  return b;
}

ModelCost model_cost(const pb::RunConfig& c) {
  const pb::ModelConfig& m = c.model();
  ModelCost mc;
  mc.blocks = family_blocks(c);
  mc.dim = m.d_model();
  mc.seq_len = m.seq_len();
  mc.vocab = m.vocab_size();
  mc.head_flops_per_token = 2.0 * static_cast<double>(mc.dim) * static_cast<double>(mc.vocab);
  mc.other_weights = mc.vocab * mc.dim + 2 * mc.dim;  // embedding, final LayerNorm
  if (!m.tie_embeddings()) mc.other_weights += mc.dim * mc.vocab;
  if (resolved_position(m) == pb::ModelConfig::LEARNED) mc.other_weights += mc.seq_len * mc.dim;
  return mc;
}

double ModelCost::forward_flops_per_token() const {
  return head_flops_per_token + expert_flops_per_token() +
         sum_of(blocks, [](const BlockCost& b) { return b.dense_flops_per_token; });
}

double ModelCost::expert_flops_per_token() const {
  return sum_of(blocks, [](const BlockCost& b) { return b.expert_flops_per_token(); });
}

int64_t ModelCost::dense_weights() const {
  return other_weights + sum_of(blocks, [](const BlockCost& b) { return b.dense_weights; });
}

int64_t ModelCost::expert_weights() const {
  return sum_of(blocks, [](const BlockCost& b) { return b.expert_weights(); });
}

int ModelCost::moe_layers() const {
  return sum_of(blocks, [](const BlockCost& b) { return static_cast<int>(b.moes.size()); });
}

}  // namespace sy
