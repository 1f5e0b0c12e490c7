#include "planner/step_projection.h"

#include <algorithm>
#include <sstream>

#include "runtime/layers/mixed_precision.h"
#include "runtime/scheduler/overlap_model.h"

namespace sy {

namespace {

constexpr double kTera = 1e12, kGB = 1e9;
constexpr double kStageOverhead_s = 20e-6;  // the scheduler's cost of one pipeline stage

// What a step repeats: forward, backward (2×), and a second forward under BLOCK recompute.
struct Passes {
  double gemm = 3;         // forward FLOPs multiples
  int exchanges = 4;       // per MoE layer: dispatch and combine, forward and backward
  double expert_gemm = 3;  // MOE_EXPERTS recompute adds an expert forward
};

Passes passes_of(const pb::RunConfig& c) {
  Passes p;
  if (c.recompute() == pb::BLOCK) p = {4, 6, 4};
  if (c.recompute() == pb::MOE_EXPERTS) p.expert_gemm = 4;
  return p;
}

double activation_bytes(const pb::RunConfig& c) {
  return static_cast<double>(dtype_size(compute_dtype(c.precision())));
}

// The exchange of one MoE layer pass (x exchanges) pipelined with `flops` of expert GEMMs.
// Returns the time not hidden by those GEMMs; sets the chunks used.
double exposed_exchange_s(const CollectiveCost& one, double bytes, int x, double flops, double rate,
                          int max_chunks, bool overlap, int* chunks) {
  if (!overlap || max_chunks < 2) {
    *chunks = 1;
    return x * one.seconds();
  }
  OverlapCosts c;
  c.latency_s = one.fixed_s;
  c.bytes_per_s = one.bandwidth_s > 0 ? bytes / one.bandwidth_s : 1e30;
  c.flops_per_s = rate;
  c.chunk_overhead_s = kStageOverhead_s;
  *chunks = choose_chunks(c, flops, x * bytes, x, max_chunks);
  return predict_pipeline_s(c, flops, x * bytes, x, *chunks) - flops / rate;
}

// One MoE layer's expert GEMMs and exchanges, added to `p`.
void add_moe_layer(StepProjection& p, const MoeCost& moe, const pb::RunConfig& c,
                   const pb::HardwareProfile& hw, double rate, const GroupSpan& span) {
  const Passes passes = passes_of(c);
  const double flops = p.tokens_per_gpu * moe.expert_flops_per_token();
  const double expert_rate = rate * hw.grouped_gemm_efficiency();
  p.time.expert_gemm += passes.expert_gemm * flops / expert_rate;
  if (p.choice.ep == 1) return;  // an ep group of one rank exchanges nothing
  const double bytes = moe.payload_bytes(p.tokens_per_gpu, c.precision());
  const CollectiveCost one = all_to_all_cost(hw, span, bytes, p.choice.a2a);
  if (one.intra_bytes + one.inter_bytes >= p.exchange.intra_bytes + p.exchange.inter_bytes)
    p.exchange = one;
  const int x = passes.exchanges;
  p.time.a2a += x * one.seconds();
  p.time.a2a_intra += x * one.intra_bytes / (hw.intra_node_gbs() * kGB);
  p.time.a2a_inter += x * one.inter_bytes / (hw.inter_node_gbs() * kGB);
  const int max_chunks = moe.num_experts / p.choice.ep;
  // Forward: two exchanges around the expert forward; backward: two around twice its FLOPs.
  int n = 1;
  p.time.a2a_exposed +=
      exposed_exchange_s(one, bytes, x / 2, flops, expert_rate, max_chunks, p.choice.overlap, &n);
  p.time.a2a_exposed += exposed_exchange_s(one, bytes, x - x / 2, 2 * flops, expert_rate,
                                           max_chunks, p.choice.overlap, &p.chunks);
}

// Values a block keeps for backward per token (outside and inside the experts; of the experts only
// their inputs when `inputs_only`, as recompute MOE_EXPERTS keeps).
double kept_per_token(const BlockCost& b, bool inputs_only) {
  double v = b.kept_per_token;
  for (const MoeCost& m : b.moes)
    v += m.items_per_token * (inputs_only ? m.kept_input_per_item : m.kept_per_item);
  return v;
}

// Values kept for backward per token of this GPU (outside and inside the experts).
// Recompute keeps less, but the part being recomputed comes back during its backward: MOE_EXPERTS
// adds the largest layer's expert activations to the kept inputs, BLOCK the largest block's whole
// activations to every block's input.
double kept_values(const ModelCost& m, const pb::RunConfig& c, double tokens) {
  double v = 0, largest_block = 0, largest_experts = 0;
  const bool inputs_only = c.recompute() == pb::MOE_EXPERTS;
  for (const BlockCost& b : m.blocks) {
    v += kept_per_token(b, inputs_only);
    largest_block = std::max(largest_block, kept_per_token(b, false));
    for (const MoeCost& e : b.moes)
      largest_experts =
          std::max(largest_experts, e.items_per_token * (e.kept_per_item - e.kept_input_per_item));
  }
  if (c.recompute() == pb::MOE_EXPERTS) v += largest_experts;
  if (c.recompute() == pb::BLOCK) v = static_cast<double>(m.blocks.size()) * m.dim + largest_block;
  return v * tokens;
}

void add_memory(StepProjection& p, const ModelCost& m, const pb::RunConfig& c,
                const pb::HardwareProfile& hw) {
  const double local_weights = static_cast<double>(m.dense_weights()) +
                               static_cast<double>(m.expert_weights()) / p.choice.ep;
  const bool bf16 = c.precision() == pb::BF16;
  p.memory.weights = local_weights * (bf16 ? 6.0 : 4.0);  // fp32 masters (+ bf16 copies)
  p.memory.gradients = local_weights * 4.0;
  p.memory.optimizer = local_weights * 8.0;  // AdamW's two fp32 moments
  const double logits = p.tokens_per_gpu * static_cast<double>(m.vocab) * 4.0 * 2.0;
  p.memory.activations = kept_values(m, c, p.tokens_per_gpu) * activation_bytes(c) + logits;
  p.memory.exchange = 2.0 * (p.exchange.intra_bytes + p.exchange.inter_bytes);
  p.fits = p.memory.total() <= hw.memory_gb() * kGB * hw.usable_memory_fraction();
  // Memory-bound passes: activations 4 times, the optimizer's read-modify-write of its state.
  p.time.memory_bound = 4.0 * p.memory.activations / (hw.memory_gbs() * kGB);
  p.time.optimizer = local_weights * (bf16 ? 30.0 : 28.0) / (hw.memory_gbs() * kGB);
}

// Gradient all-reduce: the dense weights over the world, the experts over their edp group.
void add_grad_reduce(StepProjection& p, const ModelCost& m, const pb::RunConfig& c,
                     const Cluster& cl, const pb::HardwareProfile& hw) {
  const int world = cl.world(), edp = world / p.choice.ep;
  const bool nodes = cl.nodes > 1;
  p.time.grad_reduce =
      all_reduce_cost(hw, world, nodes, 4.0 * m.dense_weights()).seconds() +
      all_reduce_cost(hw, edp, nodes && edp > 1, 4.0 * m.expert_weights() / p.choice.ep).seconds();
  const double backward = (p.time.dense_gemm + p.time.expert_gemm) * 2.0 / 3.0;
  const bool overlapped = c.parallel().grad_overlap() && c.parallel().grad_bucket_mb() > 0;
  p.time.grad_reduce_exposed =
      overlapped ? std::max(0.0, p.time.grad_reduce - backward) : p.time.grad_reduce;
}

}  // namespace

double peak_flops(const pb::RunConfig& c, const pb::HardwareProfile& hw) {
  return (c.precision() == pb::BF16 ? hw.peak_bf16_tflops() : hw.peak_fp32_tflops()) * kTera;
}

std::string why_invalid(const ModelCost& m, const pb::RunConfig& c, const Cluster& cl,
                        const PlanChoice& choice) {
  std::ostringstream why;
  const int world = cl.world();
  if (world % choice.ep != 0)
    why << "ep " << choice.ep << " does not divide the " << world << " GPUs";
  else if (c.data().global_batch() % world != 0)
    why << "data.global_batch " << c.data().global_batch() << " is not a multiple of the " << world
        << " GPUs";
  else if (choice.ep % cl.gpus_per_node != 0 && cl.gpus_per_node % choice.ep != 0)
    why << "an ep group of " << choice.ep << " does not tile nodes of " << cl.gpus_per_node;
  for (const BlockCost& b : m.blocks)
    for (const MoeCost& moe : b.moes)
      if (why.str().empty() && moe.num_experts % choice.ep != 0)
        why << "ep " << choice.ep << " does not divide " << moe.num_experts << " experts";
  if (why.str().empty() && m.moe_layers() == 0 && choice.ep > 1) why << "no MoE layer to split";
  return why.str();
}

StepProjection project_step(const ModelCost& m, const pb::RunConfig& c, const Cluster& cl,
                            const pb::HardwareProfile& hw, const PlanChoice& choice) {
  StepProjection p;
  p.choice = choice;
  p.invalid = why_invalid(m, c, cl, choice);
  if (!p.invalid.empty()) return p;
  const double step_tokens = static_cast<double>(c.data().global_batch()) * m.seq_len;
  p.tokens_per_gpu = step_tokens / cl.world();
  const double rate = peak_flops(c, hw) * hw.gemm_efficiency();
  const double dense = m.forward_flops_per_token() - m.expert_flops_per_token();
  p.time.dense_gemm = passes_of(c).gemm * p.tokens_per_gpu * dense / rate;
  for (const BlockCost& b : m.blocks)
    for (const MoeCost& moe : b.moes)
      add_moe_layer(p, moe, c, hw, rate, ep_group_span(choice.ep, cl.gpus_per_node));
  add_memory(p, m, c, hw);
  add_grad_reduce(p, m, c, cl, hw);
  const StepTimes& t = p.time;
  p.time.step = t.dense_gemm + t.expert_gemm + t.a2a_exposed + t.memory_bound +
                t.grad_reduce_exposed + t.optimizer;
  p.tokens_per_s = step_tokens / p.time.step;
  p.model_tflops_per_gpu =
      3.0 * m.forward_flops_per_token() * p.tokens_per_gpu / p.time.step / kTera;
  p.mfu = p.model_tflops_per_gpu * kTera / peak_flops(c, hw);
  return p;
}

StepProjection project_moe_layer(const MoeOptions& o, double tokens_per_rank,
                                 const pb::RunConfig& c, const Cluster& cl,
                                 const pb::HardwareProfile& hw, const PlanChoice& choice) {
  const BlockCost b = moe_layer_cost(o);
  StepProjection p;
  p.choice = choice;
  p.tokens_per_gpu = tokens_per_rank;
  const double rate = peak_flops(c, hw) * hw.gemm_efficiency();
  p.time.dense_gemm = 3.0 * tokens_per_rank * b.dense_flops_per_token / rate;
  add_moe_layer(p, b.moes.front(), c, hw, rate, ep_group_span(choice.ep, cl.gpus_per_node));
  p.time.memory_bound = 4.0 * kept_per_token(b, c.recompute() == pb::MOE_EXPERTS) *
                        tokens_per_rank * activation_bytes(c) / (hw.memory_gbs() * kGB);
  p.time.step = p.time.dense_gemm + p.time.expert_gemm + p.time.memory_bound + p.time.a2a_exposed;
  return p;
}

}  // namespace sy
