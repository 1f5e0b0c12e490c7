#include "runtime/train/trainer.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "comm/mpi_communicator.h"
#include "runtime/core/clock.h"
#include "runtime/core/config.h"
#include "runtime/core/logging.h"
#include "runtime/core/random.h"
#include "runtime/train/checkpoint.h"

namespace sy {

Trainer::Trainer(const pb::RunConfig& config, std::shared_ptr<Communicator> world)
    : config_(config), world_(std::move(world)) {
  const int w = world_->size();
  validate_config(config_, w);
  device_ = config_.parallel().device() == pb::CUDA ? Device::cuda() : Device::cpu();
  if (device_.is_cuda()) cuda_set_device(mpi_local_rank());
  groups_ = make_run_groups(world_, config_.parallel().ep(),
                            config_.parallel().comm_backend() == pb::NCCL);
  model_ = std::make_unique<LanguageModel>(config_, groups_, device_);
  optimizer_ = std::make_unique<AdamW>(model_->params(), config_.optimizer());
  const auto& d = config_.data();
  SY_CHECK(!d.train_path().empty(),
           "data.train_path is not set: point it at a token shard "
           "(make one with `switchyard prepare`)");
  int seq = config_.model().seq_len();
  train_ = std::make_unique<BatchSampler>(read_shard(d.train_path(), d.format()), seq,
                                          d.global_batch(), config_.seed());
  if (!d.val_path().empty())
    val_ = std::make_unique<BatchSampler>(read_shard(d.val_path(), d.format()), seq,
                                          d.global_batch(), config_.seed() + 1);
  run_dir_ = config_.logging().dir() + "/" + config_.name();
  if (world_->rank() == 0) {
    std::filesystem::create_directories(run_dir_);
    std::ofstream(run_dir_ + "/config.pbtxt") << config_to_text(config_);
    if (config_.logging().jsonl())
      jsonl_ = std::make_unique<std::ofstream>(run_dir_ + "/log.jsonl");
    if (config_.logging().tensorboard()) events_ = std::make_unique<EventWriter>(run_dir_);
  }
}

StepReport Trainer::train_step() {
  const int64_t t0_step = step_;
  double t0 = now_s();
  std::vector<int32_t> ids, targets;
  train_->batch(ids, targets, t0_step, world_->rank(), world_->size());
  const int64_t local = config_.data().global_batch() / world_->size();
  model_->zero_grad();
  LossReport r = model_->forward(ids, targets, local, true);
  model_->backward();
  model_->reduce_gradients();
  float lr = learning_rate(config_.optimizer(), config_.schedule(), t0_step);
  double norm = optimizer_->step(lr, groups_);
  if (device_.is_cuda()) backend(device_).synchronize(Stream{});
  double seconds = now_s() - t0;
  world_->all_reduce(&seconds, 1, DType::kF64, CommOp::kMax);
  ++step_;
  StepReport s;
  s.step = step_;
  s.loss = r.loss;
  s.aux = r.aux;
  s.lr = lr;
  s.grad_norm = norm;
  s.ms = seconds * 1e3;
  s.tokens_per_s =
      static_cast<double>(config_.data().global_batch()) * config_.model().seq_len() / seconds;
  s.tflops = 3.0 * model_->forward_flops_per_token() * s.tokens_per_s / 1e12;
  if (config_.logging().peak_tflops() > 0)
    s.mfu = s.tflops / (config_.logging().peak_tflops() * world_->size());
  for (const MoeLayer* l : model_->moe_layers()) {
    const MoeStats& st = l->stats();
    MoeLayerReport m;
    m.name = l->options().name;
    m.drop_rate = st.routed_world ? static_cast<double>(st.dropped_world) / st.routed_world : 0.0;
    m.activation_ratio = st.activation_ratio;
    m.a2a_ms = 1e3 * st.exposed_exchange();
    m.experts_ms = 1e3 * (st.forward.experts + st.backward.experts);
    m.exchange_ms = 1e3 * st.exchange_busy;
    m.overlapped = l->options().overlap && st.chunks > 1;
    m.chunks = st.chunks;
    m.load = st.load_world;
    s.moe.push_back(std::move(m));
  }
  return s;
}

double Trainer::evaluate() {
  if (!val_) return 0.0;
  const int64_t local = config_.data().global_batch() / world_->size();
  double total = 0;
  int batches = std::max(1, config_.schedule().eval_batches());
  for (int b = 0; b < batches; ++b) {
    std::vector<int32_t> ids, targets;
    val_->batch(ids, targets, b, world_->rank(), world_->size());
    total += model_->forward(ids, targets, local, false).loss;
  }
  return total / batches;
}

std::string Trainer::sample(const std::string& prompt, int tokens, float temperature,
                            uint64_t seed) {
  const int64_t t = model_->seq_len(), v = model_->vocab();
  // One sequence per data-parallel rank (the batch must be the same size on every rank); every
  // rank samples the same text.
  const int64_t local = config_.data().global_batch() / world_->size();
  std::vector<int32_t> context;
  for (unsigned char c : prompt) context.push_back(c);
  if (context.empty()) context.push_back(kEndOfDocument);
  std::string out;
  for (int i = 0; i < tokens; ++i) {
    std::vector<int32_t> window(context.end() - std::min<int64_t>(t, context.size()),
                                context.end());
    const int64_t pos = static_cast<int64_t>(window.size()) - 1;
    window.resize(t, 0);
    std::vector<int32_t> ids, targets(static_cast<size_t>(local * t), -1);
    for (int64_t b = 0; b < local; ++b) ids.insert(ids.end(), window.begin(), window.end());
    model_->forward(ids, targets, local, false);
    Tensor row = model_->logits().slice_rows(pos, pos + 1).to(Device::cpu());
    const float* l = row.data<float>();
    int32_t next = 0;
    if (temperature <= 0) {
      for (int64_t j = 1; j < v; ++j)
        if (l[j] > l[next]) next = static_cast<int32_t>(j);
    } else {
      double m = l[0], z = 0;
      for (int64_t j = 1; j < v; ++j) m = std::max<double>(m, l[j]);
      std::vector<double> p(v);
      for (int64_t j = 0; j < v; ++j) z += p[j] = std::exp((l[j] - m) / temperature);
      double u = random_uniform(seed, 0x5a3e1e, static_cast<uint64_t>(i)) * z, acc = 0;
      next = static_cast<int32_t>(v - 1);
      for (int64_t j = 0; j < v; ++j) {
        acc += p[j];
        if (u < acc) {
          next = static_cast<int32_t>(j);
          break;
        }
      }
    }
    context.push_back(next);
    out.push_back(next == kEndOfDocument ? '\n' : static_cast<char>(next));
  }
  return out;
}

void Trainer::log(const StepReport& r, double val_loss) {
  if (world_->rank() != 0) return;
  const int64_t total = config_.schedule().steps();
  double drop = 0, act = 0, a2a = 0, run = 0;
  bool overlapped = false;
  for (const MoeLayerReport& m : r.moe) {
    drop += m.drop_rate / r.moe.size();
    act += m.activation_ratio / r.moe.size();
    a2a += m.a2a_ms;
    run += m.exchange_ms;
    overlapped = overlapped || m.overlapped;
  }
  if (r.step % config_.logging().log_every() == 0 || r.step == total || val_loss > 0) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "step %4lld/%lld | loss %.4f | aux %.4f | lr %.2e | norm %.3f | %.1f ms | "
                  "%.1fk tok/s | %.3g TFLOP/s",
                  static_cast<long long>(r.step), static_cast<long long>(total), r.loss, r.aux,
                  r.lr, r.grad_norm, r.ms, r.tokens_per_s / 1e3, r.tflops);
    std::string s = line;
    if (r.mfu > 0) {
      std::snprintf(line, sizeof line, " (MFU %.1f%%)", 100 * r.mfu);
      s += line;
    }
    if (!r.moe.empty()) {
      std::snprintf(line, sizeof line, " | moe drop %.1f%% act %.2f a2a %.1f ms", 100 * drop, act,
                    a2a);
      s += line;
      if (overlapped && run > 0) {
        std::snprintf(line, sizeof line, " (of %.1f ms run)", run);
        s += line;
      }
    }
    if (val_loss > 0) {
      std::snprintf(line, sizeof line, " | val %.4f (ppl %.2f)", val_loss, std::exp(val_loss));
      s += line;
    }
    SY_LOG0(s);
  }
  if (jsonl_) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "{\"step\":%lld,\"loss\":%.6f,\"aux\":%.6f,\"lr\":%.6e,\"grad_norm\":%.6f,"
                  "\"ms\":%.3f,\"tokens_per_s\":%.1f,\"tflops\":%.6g",
                  static_cast<long long>(r.step), r.loss, r.aux, r.lr, r.grad_norm, r.ms,
                  r.tokens_per_s, r.tflops);
    std::string s = buf;
    if (r.mfu > 0) s += ",\"mfu\":" + std::to_string(r.mfu);
    if (val_loss > 0) s += ",\"val_loss\":" + std::to_string(val_loss);
    if (!r.moe.empty()) {
      s += ",\"moe\":[";
      for (size_t i = 0; i < r.moe.size(); ++i) {
        const MoeLayerReport& m = r.moe[i];
        std::snprintf(buf, sizeof buf,
                      "%s{\"layer\":\"%s\",\"drop_rate\":%.6f,\"activation_ratio\":%.6f,"
                      "\"a2a_ms\":%.4f,\"experts_ms\":%.4f,\"exchange_ms\":%.4f,\"chunks\":%d,",
                      i ? "," : "", m.name.c_str(), m.drop_rate, m.activation_ratio, m.a2a_ms,
                      m.experts_ms, m.exchange_ms, m.chunks);
        s += buf;
        s += m.overlapped ? "\"overlapped\":true," : "\"overlapped\":false,";
        s += "\"load\":[";
        for (size_t e = 0; e < m.load.size(); ++e) s += (e ? "," : "") + std::to_string(m.load[e]);
        s += "]}";
      }
      s += "]";
    }
    *jsonl_ << s << "}\n";
    jsonl_->flush();
  }
  if (events_) {
    EventWriter& ev = *events_;
    ev.scalar("train/loss", r.loss, r.step);
    ev.scalar("train/aux_loss", r.aux, r.step);
    ev.scalar("train/lr", r.lr, r.step);
    ev.scalar("train/grad_norm", r.grad_norm, r.step);
    ev.scalar("train/step_ms", r.ms, r.step);
    ev.scalar("train/tokens_per_s", r.tokens_per_s, r.step);
    ev.scalar("train/tflops", r.tflops, r.step);
    if (r.mfu > 0) ev.scalar("train/mfu", r.mfu, r.step);
    if (val_loss > 0) {
      ev.scalar("val/loss", val_loss, r.step);
      ev.scalar("val/ppl", std::exp(val_loss), r.step);
    }
    for (const MoeLayerReport& m : r.moe) {
      const std::string t = "moe/" + m.name + "/";
      ev.scalar(t + "drop_rate", m.drop_rate, r.step);
      ev.scalar(t + "activation_ratio", m.activation_ratio, r.step);
      ev.scalar(t + "a2a_ms", m.a2a_ms, r.step);
      ev.scalar(t + "experts_ms", m.experts_ms, r.step);
      ev.scalar(t + "chunks", m.chunks, r.step);
      ev.scalar(t + "exchange_ms", m.exchange_ms, r.step);
      ev.expert_load(t + "load", m.load, r.step);
    }
    ev.flush();
  }
}

std::string Trainer::save() {
  std::string folder = save_checkpoint(run_dir_ + "/checkpoints", step_, config_, *model_,
                                       optimizer_.get(), groups_);
  SY_LOG0("# checkpoint: " << folder);
  return folder;
}

void Trainer::resume(const std::string& folder) {
  pb::CheckpointManifest m = load_checkpoint(folder, *model_, optimizer_.get(), groups_);
  step_ = m.step();
  SY_LOG0("# resumed from " << folder << " at step " << step_ << " (written by " << m.world_size()
                            << " ranks, ep " << m.ep() << ")");
}

void Trainer::load_weights(const std::string& folder) {
  load_checkpoint(folder, *model_, nullptr, groups_);
}

void Trainer::run() {
  const auto& s = config_.schedule();
  SY_LOG0("# " << config_.name() << ": " << pb::ModelFamily_Name(config_.model().family()) << ", "
               << model_->parameter_count() << " parameters on rank 0, "
               << model_->forward_flops_per_token() / 1e6 << " MFLOP per token forward, "
               << world_->size() << " ranks, ep " << config_.parallel().ep() << ", "
               << train_->tokens() << " training tokens; logs in " << run_dir_);
  if (val_) {
    double v = evaluate();
    char line[128];
    std::snprintf(line, sizeof line, "step %4lld/%d | val %.4f (ppl %.2f)",
                  static_cast<long long>(step_), s.steps(), v, std::exp(v));
    SY_LOG0(line);
  }
  while (step_ < s.steps()) {
    StepReport r = train_step();
    double val = 0;
    if (val_ && ((s.eval_every() > 0 && r.step % s.eval_every() == 0) || r.step == s.steps()))
      val = evaluate();
    log(r, val);
    if (s.ckpt_every() > 0 && r.step % s.ckpt_every() == 0 && r.step < s.steps()) save();
  }
  save();
  // The caching allocator's high-water mark on the compute device, the largest over the ranks.
  double peak = static_cast<double>(backend(device_).peak_bytes());
  world_->all_reduce(&peak, 1, DType::kF64, CommOp::kMax);
  SY_LOG0("# peak memory per rank: " << peak / (1 << 20) << " MiB (" << device_name(device_)
                                     << ", max over ranks)");
  std::string text = sample("", 200, 0.8f, config_.seed());
  SY_LOG0("# sample (temperature 0.8):\n" << text);
}

}  // namespace sy
