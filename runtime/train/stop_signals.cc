#include "runtime/train/stop_signals.h"

namespace sy {

namespace {

constexpr int kSignals[3] = {SIGTERM, SIGINT, SIGUSR1};
volatile std::sig_atomic_t g_received = 0;

// Async-signal-safe: the first signal is recorded; a second one restores the default action and
// raises itself, so an impatient user's second Ctrl-C ends the job at once.
void on_signal(int sig) {
  if (g_received == 0) {
    g_received = sig;
    return;
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

StopSignals::StopSignals() {
  g_received = 0;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &sa, &old_[i]);
}

StopSignals::~StopSignals() {
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &old_[i], nullptr);
}

int StopSignals::received() {
  return g_received;
}

}  // namespace sy
