#include "comm/agree.h"

#include <string>
#include <vector>

#include "runtime/core/error.h"

namespace sy {

void agree(Communicator& world, const char* what, const std::function<void()>& fn) {
  std::string local;
  try {
    fn();
  } catch (const std::exception& e) {
    local = e.what();
  }
  int failed = local.empty() ? 0 : 1;
  std::vector<int> all(world.size());
  world.all_gather(&failed, all.data(), sizeof(int));
  std::string ranks;
  int first = -1;
  for (size_t r = 0; r < all.size(); ++r)
    if (all[r]) {
      ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
      if (first < 0) first = static_cast<int>(r);
    }
  if (ranks.empty()) return;
  // Everybody reports the first failing rank's message.
  int64_t len = world.rank() == first ? static_cast<int64_t>(local.size()) : 0;
  world.broadcast(&len, sizeof(len), first);
  std::string message(static_cast<size_t>(len), '\0');
  if (world.rank() == first) message = local;
  if (len > 0) world.broadcast(message.data(), message.size(), first);
  SY_THROW(what << " failed on rank(s) " << ranks << "; rank " << first << ": " << message);
}

}  // namespace sy
