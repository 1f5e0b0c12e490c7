// The language models of the zoo: token embedding (optionally tied to the output head; plus learned
// absolute positions with model.position: LEARNED), the blocks
// of the config's family (models/family_builders.h), a final LayerNorm and the head. M2-BERT trains
// as a masked LM: mask_fraction of the positions (static per sequence) become the mask token
// (vocab − 1) and only they are predicted — the token itself, not the next one (no 80/10/10
// replacement: our choice, plain masking).
//
// The loss is the mean next-token cross-entropy over all valid targets of the global batch, plus
// the MoE layers' auxiliary losses: every rank's backward seeds dloss = 1/N_valid_global, so the
// gradients summed over ranks (reduce_gradients) are exactly the gradient of the global loss.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "comm/process_groups.h"
#include "models/blocks.h"
#include "models/layers/embedding.h"
#include "models/layers/positions.h"
#include "switchyard/config.pb.h"

namespace sy {

struct LossReport {
  double loss = 0;      // mean cross-entropy over the global batch's valid targets
  double aux = 0;       // Σ of the MoE layers' auxiliary losses (NaN on every rank when any
                        // rank's is not finite)
  int64_t targets = 0;  // valid targets in the global batch
};

class LanguageModel {
 public:
  LanguageModel(const pb::RunConfig& config, const ProcessGroups& groups, Device device);
  // The model settings it was built from.
  const pb::ModelConfig& config() const { return model_; }
  // Fault injection (debug.nonfinite_steps): the next forward runs on NaN activations, as a
  // diverging model's would.
  void inject_nonfinite_once() { inject_nonfinite_ = true; }

  // ids and targets: (batch · T) on the host; targets < 0 are ignored. Collective (MoE exchanges,
  // the global target count and loss).
  LossReport forward(const std::vector<int32_t>& ids, const std::vector<int32_t>& targets,
                     int64_t batch, bool training);
  // Called during backward with parameters whose gradients are final (queued on the compute
  // stream): the head's, the final norm's, each block's from the last to the first, the
  // embedding's last. The gradient reducer starts summing a bucket from here.
  using GradsDone = std::function<void(const std::vector<Param*>&)>;
  // Backward of the last forward; parameter gradients accumulate.
  void backward(const GradsDone& done = {});
  // Sums gradients across ranks: expert parameters over the edp group, the rest over the world.
  void reduce_gradients();
  // The logits (batch · T, V) of the last forward, for sampling.
  const Tensor& logits() const { return logits_; }

  std::vector<Param*> params();
  void zero_grad();
  std::vector<const MoeLayer*> moe_layers() const;
  int64_t vocab() const { return vocab_; }
  int64_t seq_len() const { return seq_len_; }
  int64_t parameter_count() const;  // this rank's parameters
  // Forward FLOPs (2 × multiply-adds) per token: the output head and every block's own count
  // (each token's routed experts only, full T×T sequence mixing: the napkin math for comparing
  // families at equal compute).
  double forward_flops_per_token() const;
  // sMLP with partial prediction: the routed prefix Tp = ⌈prefix_fraction · T⌉ (0 otherwise);
  // targets at positions < Tp do not count in the loss.
  int64_t prefix_len() const;
  // M2-BERT: replaces the masked positions' ids by the mask token and sets the targets.
  void mask_tokens(std::vector<int32_t>& ids, std::vector<int32_t>& targets) const;

 private:
  void recompute_block(size_t i);

  pb::ModelConfig model_;
  ProcessGroups groups_;
  bool inject_nonfinite_ = false;
  Device device_;
  int64_t vocab_, dim_, seq_len_;
  Embedding embedding_;
  std::unique_ptr<LearnedPositions> positions_;  // model.position: LEARNED
  uint64_t seed_;
  std::vector<std::unique_ptr<Block>> blocks_;
  std::unique_ptr<LayerNorm> final_norm_;
  std::unique_ptr<Linear> head_;   // when the embedding is not tied
  bool recompute_blocks_ = false;  // recompute: BLOCK
  // Saved by forward.
  std::vector<Tensor> acts_;  // block inputs and the last output
  Tensor normed_, logits_, targets_, dloss_;
  std::vector<int32_t> ids_host_;
  BatchShape shape_;
};

}  // namespace sy
