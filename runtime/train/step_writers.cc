#include "runtime/train/step_writers.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "runtime/core/error.h"
#include "runtime/core/logging.h"
#include "runtime/core/proto_json.h"

namespace sy {

namespace {

template <typename... A>
std::string format(const char* f, A... a) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a...);
  return buf;
}

// The MoE part of the step line: mean drop rate and activation ratio, summed exchange times.
std::string moe_summary(const pb::StepRecord& r) {
  double drop = 0, act = 0, a2a = 0, run = 0;
  bool overlapped = false;
  const double n = r.moe_size();
  for (const pb::MoeLayerStats& m : r.moe()) {
    drop += m.drop_rate() / n;
    act += m.activation_ratio() / n;
    a2a += m.a2a_ms();
    run += m.exchange_ms();
    overlapped = overlapped || m.overlapped();
  }
  std::string s = format(" | moe drop %.1f%% act %.2f a2a %.1f ms", 100 * drop, act, a2a);
  if (overlapped && run > 0) s += format(" (of %.1f ms run)", run);
  return s;
}

// Every number of a message (bools as 0/1), nested messages' under "<prefix><field>/", to f(tag,
// value); repeated fields are left to the caller.
template <typename F>
void for_each_number(const google::protobuf::Message& m, const std::string& prefix, F&& f) {
  using FD = google::protobuf::FieldDescriptor;
  const auto* refl = m.GetReflection();
  std::vector<const FD*> fields;
  refl->ListFields(m, &fields);
  for (const FD* fd : fields) {
    if (fd->is_repeated()) continue;
    const std::string tag = prefix + fd->name();
    switch (fd->cpp_type()) {
      case FD::CPPTYPE_DOUBLE: f(tag, refl->GetDouble(m, fd)); break;
      case FD::CPPTYPE_INT32: f(tag, refl->GetInt32(m, fd)); break;
      case FD::CPPTYPE_BOOL: f(tag, refl->GetBool(m, fd) ? 1.0 : 0.0); break;
      case FD::CPPTYPE_MESSAGE: for_each_number(refl->GetMessage(m, fd), tag + "/", f); break;
      default: break;
    }
  }
}

}  // namespace

namespace {

// " | 14:03:27 UTC eta 1h02m" from the record's time and remaining-time estimate.
std::string clock_and_eta(const pb::StepRecord& r) {
  std::string s;
  if (r.has_unix_time()) {
    const std::time_t t = static_cast<std::time_t>(r.unix_time());
    char when[32];
    std::strftime(when, sizeof when, "%H:%M:%S UTC", std::gmtime(&t));
    s += std::string(" | ") + when;
  }
  if (r.has_eta_s()) {
    const long long m = std::llround(r.eta_s() / 60);
    s += m >= 60 ? format(" eta %lldh%02lldm", m / 60, m % 60) : format(" eta %lldm", m);
  }
  return s;
}

}  // namespace

std::string ConsoleWriter::line(const pb::StepRecord& r, int64_t total) {
  std::string s = format(
      "step %4lld/%lld | loss %.4f | aux %.4f | lr %.2e | norm %.3f | %.1f ms | %.1fk tok/s | "
      "%.3g TFLOP/s",
      static_cast<long long>(r.step()), static_cast<long long>(total), r.loss(), r.aux(), r.lr(),
      r.grad_norm(), r.ms(), r.tokens_per_s() / 1e3, r.tflops());
  if (r.has_mfu()) s += format(" (MFU %.1f%%)", 100 * r.mfu());
  if (r.has_peak_reserved_mib())
    s += format(" | mem %.0f/%.0f MiB", r.peak_in_use_mib(), r.peak_reserved_mib());
  if (r.moe_size() > 0) s += moe_summary(r);
  if (r.has_val_loss()) s += format(" | val %.4f (ppl %.2f)", r.val_loss(), std::exp(r.val_loss()));
  if (r.val_usage_size() > 0) {
    double mean = 0;
    for (const pb::ExpertUsage& u : r.val_usage()) mean += u.activation_ratio();
    s += format(" | experts activated %.2f", mean / r.val_usage_size());
  }
  if (r.skipped())
    s += format(" | SKIPPED: not finite, update not applied (%d so far)", r.skipped_steps());
  return s + clock_and_eta(r);
}

void ConsoleWriter::write(const pb::StepRecord& r) {
  if (r.step() % every_ == 0 || r.step() == total_ || r.has_val_loss() || r.skipped())
    SY_LOG0(line(r, total_));
}

namespace {

// The lines of an existing log whose step is at most `last` (a torn last line, from a job killed
// mid-write, does not parse and goes too).
std::string lines_through(const std::string& path, int64_t last) {
  std::ifstream in(path);
  std::string kept, line;
  while (std::getline(in, line)) {
    pb::StepRecord r;
    if (parse_json_line(line, &r) && r.step() <= last) kept += line + "\n";
  }
  return kept;
}

}  // namespace

JsonLinesWriter::JsonLinesWriter(const std::string& path, int64_t resumed_at) {
  const std::string kept = resumed_at > 0 ? lines_through(path, resumed_at) : "";
  out_.open(path, std::ios::trunc);
  out_ << kept;
  out_.flush();
  SY_CHECK(out_.good(), "cannot write the JSON-lines log " << path << ": check the run folder");
}

void JsonLinesWriter::write(const pb::StepRecord& r) {
  out_ << json_line(r) << "\n";
  out_.flush();
  SY_CHECK(out_.good(), "writing the JSON-lines log failed at step "
                            << r.step()
                            << " (is the disk full?): free space and resume from the "
                               "last checkpoint");
}

void TensorBoardWriter::write(const pb::StepRecord& r) {
  EventWriter& ev = events_;
  const int64_t step = r.step();
  ev.scalar("train/loss", r.loss(), step);
  ev.scalar("train/aux_loss", r.aux(), step);
  ev.scalar("train/lr", r.lr(), step);
  ev.scalar("train/grad_norm", r.grad_norm(), step);
  ev.scalar("train/step_ms", r.ms(), step);
  ev.scalar("train/tokens_per_s", r.tokens_per_s(), step);
  ev.scalar("train/tflops", r.tflops(), step);
  if (r.has_mfu()) ev.scalar("train/mfu", r.mfu(), step);
  if (r.has_forward_ms()) {
    ev.scalar("time/forward_ms", r.forward_ms(), step);
    ev.scalar("time/backward_ms", r.backward_ms(), step);
    ev.scalar("time/grad_comm_exposed_ms", r.grad_comm_exposed_ms(), step);
    ev.scalar("time/optimizer_ms", r.optimizer_ms(), step);
  }
  if (r.has_peak_reserved_mib()) {
    ev.scalar("memory/peak_in_use_mib", r.peak_in_use_mib(), step);
    ev.scalar("memory/peak_reserved_mib", r.peak_reserved_mib(), step);
  }
  if (r.has_val_loss()) {
    ev.scalar("val/loss", r.val_loss(), step);
    ev.scalar("val/ppl", std::exp(r.val_loss()), step);
  }
  for (const pb::ExpertUsage& u : r.val_usage())
    ev.scalar("val/" + u.layer() + "/activation_ratio", u.activation_ratio(), step);
  for (const pb::MoeLayerStats& m : r.moe()) {
    const std::string t = "moe/" + m.layer() + "/";
    for_each_number(m, t, [&](const std::string& tag, double v) { ev.scalar(tag, v, step); });
    ev.expert_load(t + "load", std::vector<int64_t>(m.load().begin(), m.load().end()), step);
  }
  ev.flush();
}

}  // namespace sy
