// The exchange pipeline of the overlap scheduler (DESIGN.md contract 5): runs a layer's exchanges
// concurrently with its compute, with the dependencies between them made explicit, on every
// combination of device and communicator. The layer queues compute on the default (compute)
// stream and calls, per exchange:
//
//   Mark m = p.mark();                // the compute queued so far (the exchange's inputs)
//   Handle h = p.post(job, m, &t);    // the exchange may start once that compute is done
//   ...                               // more compute, independent of h
//   p.wait(h);                        // compute queued from here on sees h's data
//   p.join();                         // compute from here on sees every exchange's data
//
// The pipeline is also where exchange time is accounted, once: the host time the caller spends on
// a job — the whole job when it runs inline (overlap off), waiting for it in wait() or join() with
// overlap — is added to the counter given when it was posted (&t above: the exposed part), and
// busy_seconds() says how long the jobs ran, hidden or not.
//
// How each form runs (one job = one all-to-all-v; the job gets the communication stream):
//
//   CPU, host MPI        overlap: jobs run on the communication thread; wait() blocks the main
//                        thread until the job is done. Off: jobs run inline.
//   GPU, NCCL            jobs are enqueued by the main thread on the communication stream after
//                        the mark's event, each followed by an event the compute stream waits for:
//                        no host synchronisation in the pipeline. Overlap off: each job is also
//                        waited for on the host (serial, deadline-bounded). After join(), confirm()
//                        waits on the host, within the communicator's deadline, for the
//                        communication stream (on expiry the NCCL communicator is aborted): the
//                        one host wait, at the end of the layer's pass, after its remaining compute
//                        is queued.
//   GPU, host MPI        the job copies device→pinned host on the communication stream after the
//                        mark's event, waits for that copy (host MPI needs the bytes), exchanges,
//                        and copies host→device on the communication stream. Overlap: on the
//                        communication thread; wait() blocks the main thread until the job has run
//                        (the bytes must cross the host), then the compute stream waits for the
//                        job's event — the compute queued before it keeps the GPU busy meanwhile.
//
// Jobs run in posting order on every rank, so the collectives inside them match across ranks.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "comm/communicator.h"
#include "runtime/core/backend.h"
#include "runtime/scheduler/comm_thread.h"

namespace sy {

class ExchangePipeline {
 public:
  using Job = std::function<void(Stream comm_stream)>;
  // A point of the compute stream: an event on a GPU, none (−1) on the CPU.
  struct Mark {
    int index = -1;
  };
  // A posted job.
  struct Handle {
    int index = -1;
  };

  // sync_timing: on a GPU, an inline job's exposed time includes the device work around it (the
  // device is synchronised before and after): a serial baseline's exchange time, for benchmarks.
  ExchangePipeline(Communicator& comm, Device device, bool overlap, bool sync_timing = false);
  ~ExchangePipeline();
  ExchangePipeline(const ExchangePipeline&) = delete;
  ExchangePipeline& operator=(const ExchangePipeline&) = delete;

  bool overlap() const { return overlap_; }

  // Marks the compute queued so far.
  Mark mark();
  // Posts job to start once the marked compute is done (with overlap off it runs before post
  // returns, and on a GPU the compute stream waits for it at once). The caller's host time on the
  // job is added to *exposed (when not null).
  Handle post(Job job, Mark after, double* exposed = nullptr);
  // Compute queued after this call sees the data of h (and of every job posted before it).
  void wait(Handle h);
  // wait() for every job posted so far (the time counts for the last job); starts a new round of
  // marks and handles.
  void join();
  // Host seconds the jobs of this pipeline have run (on the communication thread or inline), and
  // reset: with overlap, compared with the time wait() and join() spent, the share of the
  // communication that compute hid. GPU + NCCL: 0 (the jobs only enqueue).
  double busy_seconds() const { return busy_ns_.load() * 1e-9; }
  void reset_busy() { busy_ns_ = 0; }
  // Deadline-bounded host wait for the communication queued by the last round (GPU + NCCL with
  // overlap; a no-op where join() already waited on the host). Rethrows a job's failure.
  void confirm();

 private:
  Event event(std::vector<Event>& pool, size_t i);
  void run_inline(const std::function<void()>& run, double* exposed);

  Communicator& comm_;
  Device device_;
  bool overlap_;
  bool sync_timing_;
  bool on_gpu_;
  bool stream_ordered_;  // GPU and a stream-ordered communicator: no communication thread
  int cuda_device_ = -1;
  Stream comm_stream_;
  std::unique_ptr<CommThread> thread_;
  std::vector<Event> marks_, done_;  // per round: compute marks; one event per job, after it
  std::vector<CommThread::Ticket> tickets_;
  std::vector<double*> exposed_;  // per job of the round: where its waits are counted
  int n_marks_ = 0;
  std::atomic<int64_t> busy_ns_{0};
  bool pending_confirm_ = false;
};

}  // namespace sy
