#include "models/language_model.h"

#include <cmath>

#include "comm/tensor_exchange.h"
#include "models/family_builders.h"
#include "runtime/core/config.h"
#include "runtime/core/random.h"
#include "runtime/layers/mixed_precision.h"
#include "runtime/ops/ops.h"

namespace sy {

LanguageModel::LanguageModel(const pb::RunConfig& config, const ProcessGroups& groups,
                             Device device)
    : model_(config.model()),
      groups_(groups),
      device_(device),
      vocab_(config.model().vocab_size()),
      dim_(config.model().d_model()),
      seq_len_(config.model().seq_len()),
      embedding_("embed", vocab_, dim_, config.seed(), device),
      seed_(config.seed()),
      blocks_(build_blocks(config, groups, device)),
      final_norm_(std::make_unique<LayerNorm>("final_norm", dim_, device)),
      recompute_blocks_(config.recompute() == pb::BLOCK) {
  if (!model_.tie_embeddings())
    head_ = std::make_unique<Linear>("head", dim_, vocab_, false, seed_, device);
  if (resolved_position(model_) == pb::ModelConfig::LEARNED)
    positions_ = std::make_unique<LearnedPositions>("positions", seq_len_, dim_, seed_, device);
  use_compute_type(params(), compute_dtype(config.precision()));
}

std::vector<Param*> LanguageModel::params() {
  std::vector<Param*> p = embedding_.params();
  if (positions_)
    for (Param* q : positions_->params()) p.push_back(q);
  for (auto& b : blocks_)
    for (Param* q : b->params()) p.push_back(q);
  for (Param* q : final_norm_->params()) p.push_back(q);
  if (head_)
    for (Param* q : head_->params()) p.push_back(q);
  return p;
}

int64_t LanguageModel::parameter_count() const {
  int64_t n = 0;
  for (Param* p : const_cast<LanguageModel*>(this)->params()) n += p->value.numel();
  return n;
}

void LanguageModel::zero_grad() {
  for (Param* p : params()) p->zero_grad();
}

double LanguageModel::forward_flops_per_token() const {
  double flops = 2.0 * static_cast<double>(dim_) * static_cast<double>(vocab_);  // output head
  for (const auto& b : blocks_) flops += b->forward_flops_per_token();
  return flops;
}

int64_t LanguageModel::prefix_len() const {
  return routed_prefix_len(model_);
}

std::vector<const MoeLayer*> LanguageModel::moe_layers() const {
  std::vector<const MoeLayer*> out;
  for (const auto& b : blocks_) {
    if (b->feature_moe()) out.push_back(b->feature_moe());
    if (b->moe()) out.push_back(b->moe());
  }
  return out;
}

void LanguageModel::reduce_gradients() {
  sy::reduce_gradients(params(), groups_);
}

void LanguageModel::mask_tokens(std::vector<int32_t>& ids, std::vector<int32_t>& targets) const {
  // Static masking: whether position t of a sequence is masked is a pure function of the seed, the
  // sequence's content and t — the same on every rank and at every world size.
  const int32_t mask_token = static_cast<int32_t>(vocab_ - 1);
  for (size_t b = 0; b * seq_len_ < ids.size(); ++b) {
    uint64_t h = 1469598103934665603ull;
    for (int64_t t = 0; t < seq_len_; ++t)
      h = (h ^ static_cast<uint64_t>(ids[b * seq_len_ + t])) * 1099511628211ull;
    for (int64_t t = 0; t < seq_len_; ++t) {
      size_t i = b * seq_len_ + t;
      bool masked = random_uniform(seed_, h, static_cast<uint64_t>(t)) < model_.mask_fraction();
      targets[i] = masked ? ids[i] : -1;
      if (masked) ids[i] = mask_token;
    }
  }
}

LossReport LanguageModel::forward(const std::vector<int32_t>& ids_in,
                                  const std::vector<int32_t>& targets_in, int64_t batch,
                                  bool training) {
  const int64_t n = batch * seq_len_;
  // M2-BERT trains a masked LM: predict the masked tokens of the input itself.
  std::vector<int32_t> ids = ids_in, targets = targets_in;
  if (is_masked_lm(model_.family())) mask_tokens(ids, targets);
  SY_CHECK(static_cast<int64_t>(ids.size()) == n && targets.size() == ids.size(),
           "model forward: expected " << n << " ids and targets (batch " << batch << " × T "
                                      << seq_len_ << "), got " << ids.size());
  ids_host_ = ids;
  shape_ = BatchShape{batch, seq_len_, ids_host_.data(), training};
  Tensor ids_t = Tensor::from_vector(ids, {n}, device_);
  acts_.assign(1, Tensor::empty({n, dim_}, DType::kF32, device_));
  embedding_.forward(acts_[0], ids_t);
  if (positions_) positions_->forward(acts_[0], batch);
  if (inject_nonfinite_) acts_[0].fill(std::nan(""));  // debug.nonfinite_steps (tests)
  inject_nonfinite_ = false;
  for (auto& b : blocks_) {
    Tensor y = Tensor::empty({n, dim_}, DType::kF32, device_);
    b->forward(y, acts_.back(), shape_);
    if (recompute_blocks_ && training) b->drop_activations();  // backward reruns it
    acts_.push_back(y);
  }
  normed_ = Tensor::empty({n, dim_}, DType::kF32, device_);
  final_norm_->forward(normed_, acts_.back());
  logits_ = Tensor::empty({n, vocab_}, DType::kF32, device_);
  if (head_)
    head_->forward(logits_, normed_);
  else
    embedding_.head_forward(logits_, normed_);
  // Partial prediction routes on the first Tp positions: the loss counts only the rest.
  std::vector<int32_t> counted = targets;
  const int64_t unscored = unscored_prefix_len(model_);
  if (unscored > 0)
    for (int64_t i = 0; i < n; ++i)
      if (i % seq_len_ < unscored) counted[i] = -1;
  targets_ = Tensor::from_vector(counted, {n}, device_);
  Tensor losses = Tensor::empty({n}, DType::kF32, device_);
  cross_entropy_forward(losses, logits_, targets_);
  // Global loss: Σ losses / Σ valid targets over the world (host sums in double).
  int64_t valid = 0;
  for (int32_t t : counted) valid += t >= 0;
  auto lv = losses.to_vector<float>();
  LossReport r;
  for (auto& b : blocks_) r.aux += b->aux_loss();
  // The third sum counts ranks whose auxiliary loss is not finite, so that every rank agrees on
  // whether the step is finite (the trainer's guard decides on it).
  double sums[3] = {0.0, static_cast<double>(valid), std::isfinite(r.aux) ? 0.0 : 1.0};
  for (float l : lv) sums[0] += l;
  groups_.world_host->all_reduce(sums, 3, DType::kF64, CommOp::kSum);
  r.targets = static_cast<int64_t>(sums[1]);
  r.loss = r.targets > 0 ? sums[0] / sums[1] : 0.0;
  if (sums[2] > 0) r.aux = std::nan("");
  dloss_ = Tensor::full({n}, DType::kF32, r.targets > 0 ? 1.0 / sums[1] : 0.0, device_);
  return r;
}

// recompute: BLOCK — block i's forward again from its kept input, for the state its backward
// reads (its MoE exchanges run again, in the same order on every rank).
void LanguageModel::recompute_block(size_t i) {
  Tensor y = Tensor::empty(acts_[i + 1].shape(), DType::kF32, device_);
  blocks_[i]->forward(y, acts_[i], shape_);
}

void LanguageModel::backward(const GradsDone& done) {
  auto report = [&done](std::vector<Param*> params) {
    if (done) done(params);
  };
  const int64_t n = logits_.rows();
  Tensor dlogits = Tensor::empty(logits_.shape(), DType::kF32, device_);
  cross_entropy_backward(dlogits, logits_, targets_, dloss_);
  Tensor dnormed = Tensor::empty({n, dim_}, DType::kF32, device_);
  if (head_) {
    head_->backward(dnormed, dlogits);
    report(head_->params());
  } else {
    embedding_.head_backward(dnormed, dlogits);  // the tied weight is done after the embedding
  }
  Tensor dx = Tensor::empty({n, dim_}, DType::kF32, device_);
  final_norm_->backward(dx, dnormed);
  report(final_norm_->params());
  for (size_t i = blocks_.size(); i-- > 0;) {
    if (recompute_blocks_ && shape_.training) recompute_block(i);
    Tensor dprev = Tensor::empty({n, dim_}, DType::kF32, device_);
    blocks_[i]->backward(dprev, dx);
    blocks_[i]->drop_activations();  // not needed again: free before the next block's backward
    report(blocks_[i]->params());
    dx = dprev;
  }
  if (positions_) {
    positions_->backward(dx, shape_.batch);
    report(positions_->params());
  }
  embedding_.backward(dx);
  report(embedding_.params());
}

}  // namespace sy
