// Switchyard's version (CMake's project version), for `switchyard --version`, the logs and the
// checkpoint manifest.
#pragma once

namespace sy {

const char* version();

}  // namespace sy
