// The settings of one MoE layer, resolved from the run config (pb::MoeConfig plus the model width).
#pragma once

#include <cstdint>
#include <string>

#include "runtime/ops/shared/elementwise_math.h"
#include "switchyard/config.pb.h"

namespace sy {

struct MoeOptions {
  int d_model = 64;     // token width d
  int num_experts = 4;  // E, global
  int top_k = 1;        // k
  pb::RouterKind router = pb::TOPK_SOFTMAX;
  pb::ExpertKind expert = pb::FFN_GELU;
  int d_expert = 0;               // expert hidden width F; 0 = 4 · item width
  float capacity_factor = 1.25f;  // capacity = ceil(cf · k · S_world / E)
  bool dropless = false;
  bool renormalize = false;  // renormalise the k gate weights to sum 1
  float balance_coef = 0.01f;
  float z_coef = 0.001f;
  int num_heads = 1;            // MH-MoE h: items are d/h-wide sub-tokens
  bool mh_projections = false;  // MH-MoE head (d→d) and merge (d→d) projections
  float xmoe_temperature = 0.07f;
  bool xmoe_learn_temperature = false;  // a parameter initialised at xmoe_temperature
  bool expert_bias = false;             // FFN experts: biases on both projections
  // BASE in fairseq's form (MoeConfig.base_form): the experts normalise their rows, the router adds
  // no bypass, the block feeds the layer its un-normalised x.
  bool base_fairseq = false;
  bool zero_output_init = false;  // FFN experts' second weight starts at 0 (fairseq's BASE)
  int xmoe_dim = 16;
  int monarch_blocks = 4;  // blocks of BLOCKDIAG experts' weights
  // The overlap scheduler: the exchange and the expert compute are pipelined over `chunks` slices
  // of every rank's local experts (at most E/ep of them), communication running beside compute.
  // overlap false: the same chunks, one after the other on the main thread. overlap_auto: chunks
  // chosen per step by the measured cost model (runtime/scheduler/overlap_model.h). Same numbers
  // either way.
  int chunks = 1;
  bool overlap = false;
  bool overlap_auto = false;
  // GPU: wait for the device at the start and end of every timed step, so that the stats record
  // holds each step's own time (the benchmark's serial baseline). Off in training: it defeats the
  // overlap.
  bool sync_step_timers = false;
  // How rows reach the experts' expert-major buffer over an ep group of several ranks: kGather —
  // one exchange per chunk in arrival order, then a gather (and a scatter back); kDirect — one
  // exchange per local expert straight into (and out of) expert-major places, no copies but
  // E_local messages per peer; kAuto — direct on the CPU (copies cost cores), gather on a GPU
  // (messages cost latency). The same bytes in the same places either way.
  enum class ExpertExchange { kAuto, kGather, kDirect };
  ExpertExchange expert_exchange = ExpertExchange::kAuto;
  // Recompute the experts' forward during backward instead of keeping their hidden activations
  // (recompute: MOE_EXPERTS): only each chunk's input rows are kept.
  bool recompute_experts = false;
  // The GELU experts' activation (FFN_GELU, BLOCKDIAG, MONARCH): kGelu (tanh) or kGeluErf.
  Activation gelu = Activation::kGelu;
  uint64_t seed = 1234;
  std::string name = "moe";  // parameter-name prefix; also the random streams' names

  int item_width() const { return d_model / num_heads; }
  // MoeConfig.expert_width: EXPLICIT, FLOP_MATCHED or PARAM_MATCHED.
  pb::MoeConfig::ExpertWidth expert_width = pb::MoeConfig::EXPLICIT;
  // The experts' hidden width F' (MoeConfig.expert_width says how it follows from d_expert).
  int hidden() const {
    const int base = d_expert > 0 ? d_expert : 4 * d_model;  // the plain MoE's width F
    switch (expert_width) {
      case pb::MoeConfig::FLOP_MATCHED: return base;
      case pb::MoeConfig::PARAM_MATCHED: return num_heads * base;
      default: return d_expert > 0 ? d_expert : 4 * item_width();
    }
  }

  // From the config: model width d, whether the layer is an MH-MoE layer (head and merge
  // projections), the run's seed, and a unique name for the layer ("block3.moe").
  // BASE routing (one expert per item) in the given form: sets router, top_k, base_fairseq and
  // zero_output_init together.
  void use_base(pb::MoeConfig::BaseForm form);
  static MoeOptions from_config(const pb::MoeConfig& c, int d_model, bool mh, uint64_t seed,
                                const std::string& name);
  // Applies parallel.overlap_chunks / overlap_auto.
  void set_overlap(const pb::ParallelConfig& p);
};

}  // namespace sy
