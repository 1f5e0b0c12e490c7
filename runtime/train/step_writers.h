// Where a training step's record goes (DESIGN.md contract 10), one writer per destination, each
// serialising the same pb::StepRecord (proto/switchyard/metrics.proto):
//
//   ConsoleWriter      the rank-0 step line, every logging.log_every steps, the last step and
//                      every evaluation:
//     step   12/200 | loss 2.3456 | aux 0.0123 | lr 3.00e-03 | norm 0.812 | 41.2 ms | 99.1k tok/s
//       | 0.41 TFLOP/s (MFU 0.3%) | moe drop 1.2% act 1.00 a2a 3.1 ms (of 8.2 ms run) | val …
//       | 14:03:27 UTC eta 1h02m
//     (a skipped, non-finite step is always printed, marked SKIPPED)
//     (moe: the mean drop rate and activation ratio over the MoE layers and their summed exposed
//     exchange time; "of … run": how long the exchanges ran, hidden or not, when they overlapped)
//   JsonLinesWriter    log.jsonl: the whole record as one line of protobuf's JSON (field names as
//                      in the .proto; NaN and infinities as the strings JSON allows); a resumed
//                      job keeps the lines up to its checkpoint's step and appends
//   TensorBoardWriter  train/… and val/… scalars, every number of each MoE layer's record as
//                      moe/<layer>/<field>, and its expert load as a histogram (bucket e = expert
//                      e)
#pragma once

#include <fstream>
#include <memory>
#include <string>

#include "runtime/train/event_writer.h"
#include "switchyard/metrics.pb.h"

namespace sy {

class StepWriter {
 public:
  virtual ~StepWriter() = default;
  virtual void write(const pb::StepRecord& r) = 0;
};

class ConsoleWriter final : public StepWriter {
 public:
  ConsoleWriter(int64_t total_steps, int log_every) : total_(total_steps), every_(log_every) {}
  void write(const pb::StepRecord& r) override;
  // The line itself (whether or not it is due).
  static std::string line(const pb::StepRecord& r, int64_t total_steps);

 private:
  int64_t total_;
  int every_;
};

class JsonLinesWriter final : public StepWriter {
 public:
  // A job resumed at step resumed_at > 0 keeps the log's lines up to that step (the steps after it
  // are redone, so their old lines go) and appends; otherwise the log starts empty.
  explicit JsonLinesWriter(const std::string& path, int64_t resumed_at = 0);
  void write(const pb::StepRecord& r) override;

 private:
  std::ofstream out_;
};

class TensorBoardWriter final : public StepWriter {
 public:
  explicit TensorBoardWriter(const std::string& dir) : events_(dir) {}
  void write(const pb::StepRecord& r) override;

 private:
  EventWriter events_;
};

}  // namespace sy
