// One builder per model family (PAPERS.md): the blocks of the model a run config describes.
//   TRANSFORMER      dense pre-norm Transformer blocks (LayerNorm, GELU MLP)
//   TRANSFORMER_MOE  the same with a MoE FFN every moe_freq blocks (Switch, GShard, hash, BASE,
//                    X-MoE: whatever model.moe says)
//   MH_MOE           RMSNorm pre-norm blocks of attention + MH-MoE every moe_freq blocks
//   GMLP             gMLP blocks (causal multi-head SGU)
//   SMLP             n_dense_blocks gMLP blocks, then n_sparse_blocks sparse blocks (sMoE over
//                    channel chunks + tMoE with BASE routing)
//   M2_GPT, M2_BERT  Monarch Mixer blocks, causal or bidirectional
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "comm/process_groups.h"
#include "experts/feature_moe_layer.h"
#include "models/blocks.h"
#include "switchyard/config.pb.h"

namespace sy {

std::vector<std::unique_ptr<Block>> build_blocks(const pb::RunConfig& config,
                                                 const ProcessGroups& groups, Device device);

// Block `index`'s shared settings (name, widths, positions, GELU form) on `device`.
BlockSpec block_spec(const pb::RunConfig& config, int index, Device device);
// Whether the attention families' pre-norms are RMSNorm (model.norm; unset: MH-MoE's choice).
bool attention_rms_norm(const pb::ModelConfig& model);
// TRANSFORMER_MOE and MH_MOE: block `index`'s MoE layer (every moe_freq-th block), resolved from
// the config as the builder resolves it; none for a dense block or another family.
std::optional<MoeOptions> attention_block_moe(const pb::RunConfig& config, int index);

// M2-GPT and M2-BERT: the blocks' options from model.m2 (and model.m2_blocks).
M2BlockOptions m2_block_options(const pb::ModelConfig& model);

// sMLP's sparse block `index` (on the CPU; set spec.device): its shared settings, the sMoE over
// channel chunks and the BASE-routed tMoE, resolved from the config as the builder resolves them.
struct SmlpSparseOptions {
  BlockSpec spec;
  FeatureMoeOptions smoe;
  MoeOptions tmoe;
};
SmlpSparseOptions smlp_sparse_options(const pb::RunConfig& config, int index);

// sMLP with partial prediction: the routed prefix Tp = ⌈prefix_fraction · T⌉ (0 otherwise).
int64_t routed_prefix_len(const pb::ModelConfig& model);
// The positions of each sequence the loss does not count: the routed prefix, or with
// score_suffix_only the same ⌈prefix_fraction · T⌉ for any family.
int64_t unscored_prefix_len(const pb::ModelConfig& model);

}  // namespace sy
