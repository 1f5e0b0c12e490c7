#include "runtime/core/version.h"

namespace sy {

const char* version() {
  return SY_VERSION;
}

}  // namespace sy
