#include "runtime/train/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "comm/agree.h"
#include "comm/mpi_communicator.h"
#include "models/model_cost.h"
#include "runtime/core/blas_info.h"
#include "runtime/core/clock.h"
#include "runtime/core/config.h"
#include "runtime/core/config_defaults.h"
#include "runtime/core/logging.h"
#include "runtime/core/random.h"
#include "runtime/core/version.h"
#include "runtime/ops/ops.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/stop_signals.h"

namespace sy {

Trainer::Trainer(const pb::RunConfig& config, std::shared_ptr<Communicator> world,
                 const GroupsHook& arrange_groups)
    : config_(config), world_(std::move(world)) {
  const int w = world_->size();
  validate_config(config_, w);
  device_ = config_.parallel().device() == pb::CUDA ? Device::cuda() : Device::cpu();
  if (device_.is_cuda()) cuda_set_device(mpi_local_rank());
  Topology topology = topology_of(config_.parallel());
  if (topology.a2a == pb::AUTO) topology.auto_probe_bytes = moe_exchange_bytes_per_rank(config_, w);
  groups_ = make_run_groups(world_, config_.parallel().ep(),
                            config_.parallel().comm_backend() == pb::NCCL, topology);
  if (arrange_groups) arrange_groups(groups_);
  const auto& par = config_.parallel();
  try {
    model_ = std::make_unique<LanguageModel>(config_, groups_, device_);
    flat_ = std::make_unique<FlatParams>(model_->params(),
                                         static_cast<int64_t>(par.grad_bucket_mb() * (1 << 20)));
  } catch (const std::bad_alloc&) {
    SY_THROW("rank " << world_->rank()
                     << " ran out of memory building the model: the config needs "
                        "more than this machine has; lower model.d_model, n_layers, d_ff or "
                        "vocab_size, or hold fewer experts per rank (raise parallel.ep)");
  }
  guard_ = StepGuard(config_.schedule().max_skipped_steps());
  grad_comms_ = split_grad_comms(groups_);
  set_grad_reduction(GradReduceOptions{par.grad_bucket_mb() > 0, par.grad_overlap()});
  optimizer_ = std::make_unique<AdamW>(*flat_, config_.optimizer());
  const auto& d = config_.data();
  SY_CHECK(!d.train_path().empty(),
           "data.train_path is not set: point it at a token shard "
           "(make one with `switchyard prepare`)");
  train_ = open_data(d.train_path(), config_.seed());
  if (!d.val_path().empty()) val_ = open_data(d.val_path(), config_.seed() + 1);
  run_dir_ = config_.logging().dir() + "/" + config_.name();
}

// The shards a data path spec names, memory-mapped and checked against the model's vocabulary (the
// ranks share the pass: each checks every world-size-th shard), as batches. Collective.
std::unique_ptr<BatchSampler> Trainer::open_data(const std::string& path, uint64_t seed) const {
  const auto& d = config_.data();
  auto tokens = std::make_shared<const TokenStream>(path, d.format());
  agree(*groups_.world_host, "checking the data against the vocabulary",
        [&] { tokens->check_range(config_.model().vocab_size(), world_->rank(), world_->size()); });
  return std::make_unique<BatchSampler>(std::move(tokens), config_.model().seq_len(),
                                        d.global_batch(), seed);
}

void Trainer::set_grad_reduction(GradReduceOptions options) {
  reducer_.reset();  // its pipelines finish first
  reducer_ = std::make_unique<GradReducer>(*flat_, grad_comms_, options);
}

void Trainer::set_grad_comms(GradComms comms) {
  grad_comms_ = std::move(comms);
  set_grad_reduction(reducer_->options());
}

void Trainer::make_writers() {
  const std::string path = run_dir_ + "/config.pbtxt";
  std::ofstream out(path);
  out << "# switchyard " << version() << "\n" << config_to_text(with_defaults(config_));
  SY_CHECK(out.flush().good(), "cannot write " << path << ": is the disk full or read-only?");
  const auto& l = config_.logging();
  writers_.clear();
  writers_.push_back(std::make_unique<ConsoleWriter>(config_.schedule().steps(), l.log_every()));
  if (l.jsonl())
    writers_.push_back(std::make_unique<JsonLinesWriter>(run_dir_ + "/log.jsonl", step_));
  if (l.tensorboard()) writers_.push_back(std::make_unique<TensorBoardWriter>(run_dir_));
}

// Rank 0 takes the run folder (lock, writability, room for a checkpoint) and opens the writers;
// every rank learns whether that worked.
std::unique_ptr<RunFolder> Trainer::start_job() {
  std::unique_ptr<RunFolder> folder;
  agree(*groups_.world_host, "taking the run folder", [&] {
    if (world_->rank() != 0) return;
    folder = std::make_unique<RunFolder>(run_dir_, checkpoint_bytes());
    make_writers();
  });
  return folder;
}

// One checkpoint's size: every parameter with its two moments, experts counted over the ep group.
uint64_t Trainer::checkpoint_bytes() const {
  uint64_t elements = 0;
  for (const FlatGroup& g : flat_->groups())
    elements += static_cast<uint64_t>(g.numel()) * (g.expert ? groups_.ep : 1);
  return elements * 3 * sizeof(float);
}

pb::StepRecord Trainer::train_step() {
  std::vector<int32_t> ids, targets;
  train_->batch(ids, targets, step_, world_->rank(), world_->size());
  const int64_t local = config_.data().global_batch() / world_->size();
  const float lr = learning_rate(config_.optimizer(), config_.schedule(), step_);
  const auto& inject = config_.debug().nonfinite_steps();
  if (std::find(inject.begin(), inject.end(), step_ + 1) != inject.end())
    model_->inject_nonfinite_once();
  backend(device_).reset_peak_memory();
  const double t0 = now_s();
  PhaseTimes t;
  LossReport r;
  double norm = 0;
  {
    ScopedTimer phase(&t.forward);
    flat_->zero_grad();
    r = model_->forward(ids, targets, local, true);
  }
  {
    ScopedTimer phase(&t.backward);
    reducer_->begin_step();
    model_->backward([this](const std::vector<Param*>& done) { reducer_->ready(done); });
  }
  {
    ScopedTimer phase(&t.grad_comm);
    reducer_->finish();
  }
  StepHealth health{r.loss, r.aux};
  {
    ScopedTimer phase(&t.optimizer);
    norm = update(lr, health);
  }
  if (device_.is_cuda()) backend(device_).synchronize(Stream{});
  ++step_;
  const bool skipped = guard_.record(step_, health);  // the same on every rank
  pb::StepRecord record = step_record(r, lr, norm, now_s() - t0, t);
  if (skipped) record.set_skipped(true);
  if (guard_.skipped_total() > 0)
    record.set_skipped_steps(static_cast<int32_t>(guard_.skipped_total()));
  return record;
}

// The optimizer's update, unless the (global) loss is already not finite; fills in the gradient
// norms. A non-finite gradient norm makes adamw_step change nothing, on the device.
double Trainer::update(float lr, StepHealth& health) {
  if (!health.loss_finite()) return std::nan("");
  const double norm = optimizer_->step(lr, groups_);
  health.dense_sq = optimizer_->last_grad_squares()[0];
  health.expert_sq = optimizer_->last_grad_squares()[1];
  return norm;
}

// The step's record: rates from the slowest rank's time, memory peaks and phase times as the
// maxima over the ranks, the MoE layers' statistics.
pb::StepRecord Trainer::step_record(const LossReport& r, float lr, double norm, double seconds,
                                    const PhaseTimes& t) {
  const MemoryStats mem = backend(device_).memory_stats();
  // The last entry agrees on a stop signal: any rank's stops all of them after this step.
  double m[8] = {seconds,
                 t.forward,
                 t.backward,
                 t.grad_comm,
                 t.optimizer,
                 static_cast<double>(mem.peak_in_use),
                 static_cast<double>(mem.peak_reserved),
                 static_cast<double>(StopSignals::received())};
  world_->all_reduce(m, 8, DType::kF64, CommOp::kMax);
  stop_signal_ = static_cast<int>(m[7]);
  pb::StepRecord s;
  s.set_step(static_cast<int32_t>(step_));
  s.set_loss(r.loss);
  s.set_aux(r.aux);
  s.set_lr(lr);
  s.set_grad_norm(norm);
  s.set_ms(m[0] * 1e3);
  s.set_tokens_per_s(static_cast<double>(config_.data().global_batch()) *
                     config_.model().seq_len() / m[0]);
  s.set_tflops(3.0 * model_->forward_flops_per_token() * s.tokens_per_s() / 1e12);
  if (config_.logging().peak_tflops() > 0)
    s.set_mfu(s.tflops() / (config_.logging().peak_tflops() * world_->size()));
  for (const MoeLayer* l : model_->moe_layers()) *s.add_moe() = l->stats();
  s.set_forward_ms(m[1] * 1e3);
  s.set_backward_ms(m[2] * 1e3);
  s.set_grad_comm_exposed_ms(m[3] * 1e3);
  s.set_optimizer_ms(m[4] * 1e3);
  s.set_peak_in_use_mib(m[5] / (1 << 20));
  s.set_peak_reserved_mib(m[6] / (1 << 20));
  return s;
}

double Trainer::evaluate() {
  if (!val_) return 0.0;
  const int64_t local = config_.data().global_batch() / world_->size();
  double total = 0;
  int batches = std::max(1, config_.schedule().eval_batches());
  ExpertUsage usage(config_.logging().activation_threshold());
  for (int b = 0; b < batches; ++b) {
    std::vector<int32_t> ids, targets;
    val_->batch(ids, targets, b, world_->rank(), world_->size());
    total += model_->forward(ids, targets, local, false).loss;
    for (const MoeLayer* l : model_->moe_layers()) usage.add(l->stats());
  }
  val_usage_ = usage.records();
  return total / batches;
}

namespace {

// The next token from one row of v logits: the largest at temperature 0, else drawn from
// softmax(l / temperature) with the seeded counter RNG (draw i).
int32_t pick_token(const float* l, int64_t v, float temperature, uint64_t seed, int i) {
  int32_t next = 0;
  if (temperature <= 0) {
    for (int64_t j = 1; j < v; ++j)
      if (l[j] > l[next]) next = static_cast<int32_t>(j);
    return next;
  }
  double m = l[0], z = 0;
  for (int64_t j = 1; j < v; ++j) m = std::max<double>(m, l[j]);
  std::vector<double> p(v);
  for (int64_t j = 0; j < v; ++j) z += p[j] = std::exp((l[j] - m) / temperature);
  const double u = random_uniform(seed, 0x5a3e1e, static_cast<uint64_t>(i)) * z;
  double acc = 0;
  for (int64_t j = 0; j < v; ++j) {
    acc += p[j];
    if (u < acc) return static_cast<int32_t>(j);
  }
  return static_cast<int32_t>(v - 1);
}

}  // namespace

std::string Trainer::sample(const std::string& prompt, int tokens, float temperature, uint64_t seed,
                            const std::function<void(char)>& on_char) {
  const int64_t t = model_->seq_len(), v = model_->vocab();
  // One sequence per rank, each rank's own continuation (all of them hold experts, so all take
  // part); the window is the last T tokens of the context.
  std::vector<int32_t> context;
  for (unsigned char c : prompt) context.push_back(c);
  if (context.empty()) context.push_back(kEndOfDocument);
  std::string out;
  const std::vector<int32_t> targets(static_cast<size_t>(t), -1);
  for (int i = 0; i < tokens; ++i) {
    std::vector<int32_t> window(context.end() - std::min<int64_t>(t, context.size()),
                                context.end());
    const int64_t pos = static_cast<int64_t>(window.size()) - 1;
    window.resize(t, 0);
    model_->forward(window, targets, 1, false);
    Tensor row = model_->logits().slice_rows(pos, pos + 1).to(Device::cpu());
    const int32_t next = pick_token(row.data<float>(), v, temperature,
                                    seed + static_cast<uint64_t>(world_->rank()), i);
    context.push_back(next);
    out.push_back(next == kEndOfDocument ? '\n' : static_cast<char>(next));
    if (on_char) on_char(out.back());
  }
  return out;
}

std::vector<std::string> Trainer::gather_samples(const std::string& mine) {
  const int n = world_->size();
  std::string all(mine.size() * static_cast<size_t>(n), '\0');
  world_->all_gather(mine.data(), all.data(), mine.size());
  std::vector<std::string> out;
  for (int r = 0; r < n; ++r) out.push_back(all.substr(r * mine.size(), mine.size()));
  return out;
}

namespace {

// " (12.3 MiB in 0.05 s, 0.25 GB/s)": a checkpoint's files over the time since t0.
std::string transfer_rate(const pb::CheckpointManifest& m, double t0) {
  const uint64_t bytes = checkpoint_file_bytes(m);
  const double seconds = now_s() - t0;
  char text[96];
  std::snprintf(text, sizeof text, " (%.1f MiB in %.2f s, %.2f GB/s)", bytes / 1048576.0, seconds,
                bytes / 1e9 / std::max(seconds, 1e-9));
  return text;
}

}  // namespace

// Whether every parameter on every rank is finite (a pass over the values). Collective.
bool Trainer::parameters_finite() {
  const int64_t n = static_cast<int64_t>(flat_->groups().size());
  Tensor sq = Tensor::zeros({std::max<int64_t>(n, 1)}, DType::kF64, device_);
  for (int64_t i = 0; i < n; ++i) sum_squares(sq.slice_rows(i, i + 1), flat_->groups()[i].values);
  double bad = 0;
  for (double v : sq.to_vector<double>()) bad += std::isfinite(v) ? 0 : 1;
  world_->all_reduce(&bad, 1, DType::kF64, CommOp::kMax);
  return bad == 0;
}

std::string Trainer::save() {
  SY_CHECK(parameters_finite(), "refusing to save step "
                                    << step_
                                    << ": a parameter is not finite (NaN or inf), and "
                                       "a checkpoint that cannot train must not become `latest`; "
                                       "resume from the last checkpoint with a lower optimizer.lr");
  const double t0 = now_s();
  const CheckpointOnDisk c = save_checkpoint(run_dir_ + "/checkpoints", step_, config_, *model_,
                                             optimizer_.get(), groups_);
  SY_LOG0("# checkpoint: " << c.folder << transfer_rate(c.manifest, t0));
  return c.folder;
}

void Trainer::resume(const std::string& folder) {
  const double t0 = now_s();
  pb::CheckpointManifest m = load_checkpoint(folder, *model_, optimizer_.get(), groups_);
  step_ = m.step();
  SY_LOG0("# resumed from " << folder << " at step " << step_ << " (written by " << m.world_size()
                            << " ranks, ep " << m.ep() << ")" << transfer_rate(m, t0));
}

void Trainer::load_weights(const std::string& folder) {
  load_checkpoint(folder, *model_, nullptr, groups_);
}

// Whether step_ is a multiple of `every` (> 0).
bool Trainer::due(int every) const {
  return every > 0 && step_ % every == 0;
}

Trainer::RunEnd Trainer::run() {
  StopSignals signals;
  std::unique_ptr<RunFolder> folder = start_job();
  const auto& s = config_.schedule();
  SY_LOG0("# " << config_.name() << ": " << pb::ModelFamily_Name(config_.model().family()) << ", "
               << model_->parameter_count() << " parameters on rank 0, "
               << model_->forward_flops_per_token() / 1e6 << " MFLOP per token forward, "
               << world_->size() << " ranks, ep " << config_.parallel().ep() << ", "
               << train_->tokens() << " training tokens; logs in " << run_dir_);
  report_blas();
  if (val_) {
    double v = evaluate();
    char line[128];
    std::snprintf(line, sizeof line, "step %4lld/%d | val %.4f (ppl %.2f)",
                  static_cast<long long>(step_), s.steps(), v, std::exp(v));
    SY_LOG0(line);
  }
  const double job_start = now_s();
  const int64_t first_step = step_;
  while (step_ < s.steps()) {
    pb::StepRecord r = train_step();
    if (val_ && (due(s.eval_every()) || step_ == s.steps())) {
      r.set_val_loss(evaluate());
      for (const pb::ExpertUsage& u : val_usage_) *r.add_val_usage() = u;
    }
    add_progress(r, job_start, first_step);
    for (auto& w : writers_) w->write(r);
    if (stop_signal_ != 0) return stop_with_checkpoint();
    if (due(s.ckpt_every()) && step_ < s.steps()) save();
  }
  save();
  finish_run();
  return RunEnd::kFinished;
}

// The record's wall-clock time and the rest of the schedule at this job's mean step time.
void Trainer::add_progress(pb::StepRecord& r, double job_start, int64_t first_step) const {
  r.set_unix_time(wall_clock_s());
  const double per_step = (now_s() - job_start) / static_cast<double>(step_ - first_step);
  r.set_eta_s(per_step * static_cast<double>(config_.schedule().steps() - step_));
}

Trainer::RunEnd Trainer::stop_with_checkpoint() {
  const std::string folder = save();
  SY_LOG0("# stopped after step " << step_ << " by signal " << stop_signal_ << " ("
                                  << strsignal(stop_signal_) << "); checkpoint " << folder
                                  << "; continue with --resume " << run_dir_ << "/checkpoints");
  return RunEnd::kStopped;
}

// The end of a finished run: the memory high-water marks and a sample of text.
void Trainer::finish_run() {
  // The caching allocator's high-water marks on the compute device (since the last step began,
  // which includes the final checkpoint), the largest over the ranks.
  const MemoryStats mem = backend(device_).memory_stats();
  double peaks[2] = {static_cast<double>(mem.peak_in_use), static_cast<double>(mem.peak_reserved)};
  world_->all_reduce(peaks, 2, DType::kF64, CommOp::kMax);
  SY_LOG0("# peak memory per rank: " << peaks[0] / (1 << 20) << " MiB in use, "
                                     << peaks[1] / (1 << 20) << " MiB reserved ("
                                     << device_name(device_) << ", max over ranks)");
  const int tokens = config_.logging().sample_tokens();
  if (tokens <= 0) return;
  std::string text = sample("", tokens, 0.8f, config_.seed());
  SY_LOG0("# sample (temperature 0.8):\n" << text);
}

}  // namespace sy
