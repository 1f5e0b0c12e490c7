// Hardware profiles for the planner (proto/switchyard/hardware.proto): published figures for
// H100 SXM, H200, A100 SXM and H800 under launch/hardware/, each with its source, or one that
// `switchyard plan --calibrate` measured.
#pragma once

#include <string>
#include <vector>

#include "switchyard/hardware.pb.h"

namespace sy {

// `name_or_path`: a .pbtxt file, or a profile's name looked up as NAME.pbtxt in $SY_HARDWARE_DIR,
// then in the source tree's launch/hardware/, then in the installed share/switchyard/hardware/.
// Throws naming the profiles found when there is no such profile, or when a rate is missing or
// not positive.
pb::HardwareProfile load_hardware_profile(const std::string& name_or_path);
// The names of the profiles the lookup above finds.
std::vector<std::string> hardware_profile_names();
// Throws unless every rate the planner divides by is positive.
void validate_hardware_profile(const pb::HardwareProfile& hw);

}  // namespace sy
