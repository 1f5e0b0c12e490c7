// Preemption (issue 14). While a StopSignals object lives, SIGTERM, SIGINT and SIGUSR1 (what Slurm
// sends ahead of a preemption with `--signal`, and what mpirun forwards to every rank) only set a
// flag: the trainer finishes the current step, the ranks agree (any rank's signal stops all of
// them), write a checkpoint and return RunEnd::kStopped, which `switchyard train` turns into exit
// code kExitStopped. A second signal ends the process at once with the signal's default action.
#pragma once

#include <csignal>

namespace sy {

// Exit code of `switchyard train` stopped by a signal after writing its checkpoint: 75 (EX_TEMPFAIL
// in sysexits.h: "try again later" — resume with --resume <run>/checkpoints).
constexpr int kExitStopped = 75;

class StopSignals {
 public:
  StopSignals();   // installs the handlers (and clears the flag)
  ~StopSignals();  // restores the previous ones
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  // The first signal received since construction, or 0.
  static int received();

 private:
  struct sigaction old_[3];
};

}  // namespace sy
