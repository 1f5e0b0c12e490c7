#include "runtime/scheduler/exchange_pipeline.h"

#include "runtime/core/clock.h"
#include "runtime/core/error.h"

namespace sy {

ExchangePipeline::ExchangePipeline(Communicator& comm, Device device, bool overlap,
                                   bool sync_timing)
    : comm_(comm),
      device_(device),
      overlap_(overlap),
      sync_timing_(sync_timing && device.is_cuda()),
      on_gpu_(device.is_cuda()),
      stream_ordered_(device.is_cuda() && comm.stream_ordered()) {
  if (on_gpu_) {
    cuda_device_ = cuda_current_device();
    comm_stream_ = backend(device_).create_stream();
  }
  if (overlap_ && !stream_ordered_) {
    int dev = cuda_device_;
    thread_ = std::make_unique<CommThread>([dev] {
      if (dev >= 0) cuda_set_device(dev);
    });
  }
}

ExchangePipeline::~ExchangePipeline() {
  thread_.reset();  // runs (or skips) what is queued, then joins
  if (!on_gpu_) return;
  Backend& b = backend(device_);
  // Buffers freed later may have been recorded on the stream (Tensor::record_stream): its work
  // must be over before it goes. A failure here was reported by the call that caused it.
  try {
    b.synchronize(comm_stream_);
  } catch (...) {
  }
  for (Event e : marks_) b.destroy_event(e);
  for (Event e : done_) b.destroy_event(e);
  b.destroy_stream(comm_stream_);
}

Event ExchangePipeline::event(std::vector<Event>& pool, size_t i) {
  while (pool.size() <= i) pool.push_back(backend(device_).create_event());
  return pool[i];
}

ExchangePipeline::Mark ExchangePipeline::mark() {
  if (!on_gpu_) return Mark{};
  Event e = event(marks_, static_cast<size_t>(n_marks_));
  backend(device_).record(e, Stream{});
  return Mark{n_marks_++};
}

ExchangePipeline::Handle ExchangePipeline::post(Job job, Mark after, double* exposed) {
  const Handle h{static_cast<int>(tickets_.size())};
  Event ready = on_gpu_ && after.index >= 0 ? marks_.at(static_cast<size_t>(after.index)) : Event{};
  Event done = on_gpu_ ? event(done_, static_cast<size_t>(h.index)) : Event{};
  auto run = [this, job = std::move(job), ready, done] {
    const double t0 = now_s();
    if (ready.handle) backend(device_).wait(comm_stream_, ready);
    job(comm_stream_);
    if (done.handle) backend(device_).record(done, comm_stream_);
    if (!stream_ordered_) busy_ns_ += static_cast<int64_t>((now_s() - t0) * 1e9);
  };
  exposed_.push_back(exposed);
  if (thread_) {
    tickets_.push_back(thread_->post(std::move(run)));
    return h;
  }
  tickets_.push_back(0);
  run_inline(
      [&] {
        run();
        if (stream_ordered_ && !overlap_)
          comm_.wait_stream(comm_stream_, "all_to_all_v (MoE exchange)");
        // Serial: the compute stream may as well wait now (a synchronised timer then covers the
        // job's copies back too).
        if (on_gpu_ && !overlap_) backend(device_).wait(Stream{}, done);
      },
      overlap_ ? nullptr : exposed);
  if (stream_ordered_ && overlap_) pending_confirm_ = true;
  return h;
}

// Runs a job on the calling thread, its host time counted in *exposed (with the device
// synchronised around it under sync_timing).
void ExchangePipeline::run_inline(const std::function<void()>& run, double* exposed) {
  ScopedTimer t(exposed, sync_timing_);
  run();
}

void ExchangePipeline::wait(Handle h) {
  SY_CHECK(h.index >= 0 && static_cast<size_t>(h.index) < tickets_.size(),
           "ExchangePipeline::wait: no job " << h.index << " in this round");
  ScopedTimer t(overlap_ ? exposed_[h.index] : nullptr);
  if (thread_) thread_->wait(tickets_[h.index]);
  if (on_gpu_) backend(device_).wait(Stream{}, done_[h.index]);
}

void ExchangePipeline::join() {
  // The communication stream runs its jobs in order: the last job's event covers them all.
  if (!tickets_.empty()) wait(Handle{static_cast<int>(tickets_.size() - 1)});
  tickets_.clear();
  exposed_.clear();
  n_marks_ = 0;
}

void ExchangePipeline::confirm() {
  if (thread_) thread_->drain();
  if (pending_confirm_) {
    pending_confirm_ = false;
    comm_.wait_stream(comm_stream_, "all_to_all_v (MoE exchange pipeline)");
  }
}

}  // namespace sy
