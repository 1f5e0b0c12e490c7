#include "planner/hardware.h"

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/core/error.h"

namespace sy {

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> profile_dirs() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("SY_HARDWARE_DIR")) dirs.emplace_back(env);
  dirs.emplace_back(SY_SOURCE_HARDWARE_DIR);
  dirs.emplace_back(SY_INSTALLED_HARDWARE_DIR);
  return dirs;
}

pb::HardwareProfile parse_profile(const fs::path& path) {
  std::ifstream in(path);
  SY_CHECK(in, "cannot read the hardware profile " << path.string());
  std::stringstream text;
  text << in.rdbuf();
  pb::HardwareProfile hw;
  SY_CHECK(google::protobuf::TextFormat::ParseFromString(text.str(), &hw),
           "the hardware profile " << path.string()
                                   << " is not a valid HardwareProfile text proto "
                                      "(proto/switchyard/hardware.proto)");
  validate_hardware_profile(hw);
  return hw;
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "(none found)" : s;
}

}  // namespace

std::vector<std::string> hardware_profile_names() {
  std::vector<std::string> names;
  for (const fs::path& dir : profile_dirs()) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".pbtxt") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

pb::HardwareProfile load_hardware_profile(const std::string& name_or_path) {
  if (fs::is_regular_file(name_or_path)) return parse_profile(name_or_path);
  for (const fs::path& dir : profile_dirs()) {
    const fs::path p = dir / (name_or_path + ".pbtxt");
    if (fs::is_regular_file(p)) return parse_profile(p);
  }
  SY_THROW("no hardware profile '" << name_or_path << "'; give a .pbtxt file or one of: "
                                   << joined(hardware_profile_names())
                                   << " (set SY_HARDWARE_DIR to add a folder of profiles)");
}

void validate_hardware_profile(const pb::HardwareProfile& hw) {
  const std::pair<const char*, double> rates[] = {{"peak_bf16_tflops", hw.peak_bf16_tflops()},
                                                  {"peak_fp32_tflops", hw.peak_fp32_tflops()},
                                                  {"gemm_efficiency", hw.gemm_efficiency()},
                                                  {"memory_gb", hw.memory_gb()},
                                                  {"memory_gbs", hw.memory_gbs()},
                                                  {"intra_node_gbs", hw.intra_node_gbs()},
                                                  {"inter_node_gbs", hw.inter_node_gbs()}};
  for (const auto& [field, value] : rates)
    SY_CHECK(value > 0, "hardware profile '" << hw.name() << "': " << field
                                             << " must be set and positive (got " << value << ")");
  SY_CHECK(hw.gemm_efficiency() <= 1 && hw.gpus_per_node() >= 1 &&
               hw.grouped_gemm_efficiency() > 0 && hw.grouped_gemm_efficiency() <= 1.5 &&
               hw.usable_memory_fraction() > 0 && hw.usable_memory_fraction() <= 1,
           "hardware profile '" << hw.name()
                                << "': gemm_efficiency and usable_memory_fraction must be in "
                                   "(0, 1], grouped_gemm_efficiency in (0, 1.5] and "
                                   "gpus_per_node at least 1");
}

}  // namespace sy
