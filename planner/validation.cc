#include "planner/validation.h"

#include <cstdio>
#include <sstream>

#include "planner/hardware.h"
#include "planner/step_projection.h"
#include "runtime/core/config.h"

namespace sy {

namespace {

constexpr double kGB = 1e9;

// A flat all-to-all of `bytes` per rank on `ep` ranks of the profile's nodes.
CollectiveCost flat_a2a(const pb::HardwareProfile& hw, int ep, double bytes) {
  return all_to_all_cost(hw, ep_group_span(ep, hw.gpus_per_node()), bytes, pb::FLAT);
}

// The bandwidth of the hop a published figure measures (NVLink inside a node, the NIC across
// nodes), as bytes over time.
double a2a_gbs(const pb::HardwareProfile& hw, int ep, double bytes, bool nic) {
  const CollectiveCost c = flat_a2a(hw, ep, bytes);
  return (nic ? c.inter_bytes : c.intra_bytes) / c.seconds() / kGB;
}

// nccl-tests' bus bandwidth of an all-to-all: algbw · (n − 1) / n.
double a2a_busbw(const pb::HardwareProfile& hw, int ep, double bytes) {
  return bytes * (ep - 1) / ep / flat_a2a(hw, ep, bytes).seconds() / kGB;
}

const char* kNccl = "nccl-tests alltoall_perf; issue 16's figures";
const char* kDeepEp = "DeepEP README (V1, docs/legacy.md), normal kernels";
const char* kDeepEpSetting =
    "h800 profile; DeepSeek-V3 setting: 4096 tokens x top-8 x 7168 hidden per GPU, fp8 dispatch "
    "(1 B), bf16 combine (2 B); flat all-to-all";
const char* kDeepEpOff =
    "DeepEP counts logical bytes: with node-limited routing a token bound for several GPUs of "
    "one node crosses the network once and fans out over NVLink, so its RDMA figure can pass "
    "the NIC's ~50 GB/s (58 here). Switchyard's all-to-alls (flat and hierarchical) send every "
    "copy: the planner projects those, capped by the NIC";

std::vector<ValidationRow> communication_rows() {
  const pb::HardwareProfile h100 = load_hardware_profile("h100_sxm");
  const pb::HardwareProfile h800 = load_hardware_profile("h800");
  const double gib = 1024.0 * 1024 * 1024, tokens = 4096.0 * 8 * 7168;
  std::vector<ValidationRow> rows = {
      {"NCCL all-to-all bus bandwidth, 8x H100 (1 node)", kNccl, "GB/s", 370,
       a2a_busbw(h100, 8, gib), "h100_sxm profile; 1 GiB per rank", "intra_node_gbs", ""},
      {"NCCL all-to-all per NIC, 2 nodes x 8 H100", kNccl, "GB/s", 48, a2a_gbs(h100, 16, gib, true),
       "h100_sxm profile; 1 GiB per rank", "inter_node_gbs", ""},
      {"DeepEP dispatch, EP8 (1 node, NVLink)", kDeepEp, "GB/s", 153,
       a2a_gbs(h800, 8, tokens * 1, false), kDeepEpSetting, "", ""},
      {"DeepEP combine, EP8 (1 node, NVLink)", kDeepEp, "GB/s", 158,
       a2a_gbs(h800, 8, tokens * 2, false), kDeepEpSetting, "", ""}};
  const int eps[] = {16, 32, 64};
  const double dispatch[] = {43, 58, 51}, combine[] = {43, 57, 50};
  for (int i = 0; i < 3; ++i) {
    const std::string ep =
        "EP" + std::to_string(eps[i]) + " (" + std::to_string(eps[i] / 8) + " nodes, RDMA)";
    rows.push_back({"DeepEP dispatch, " + ep, kDeepEp, "GB/s", dispatch[i],
                    a2a_gbs(h800, eps[i], tokens * 1, true), kDeepEpSetting, "", kDeepEpOff});
    rows.push_back({"DeepEP combine, " + ep, kDeepEp, "GB/s", combine[i],
                    a2a_gbs(h800, eps[i], tokens * 2, true), kDeepEpSetting, "", kDeepEpOff});
  }
  return rows;
}

ValidationRow mixtral_row() {
  const pb::RunConfig c =
      load_config_file(std::string(SY_SOURCE_DIR) + "/launch/configs/scale/mixtral_8x7b.pbtxt");
  const StepProjection p = project_step(model_cost(c), c, Cluster{8, 8},
                                        load_hardware_profile("h100_sxm"), {8, pb::FLAT, false});
  return {"Megatron-Core Mixtral 8x7B, 64 H100, bf16",
          "Megatron-LM megatron/core/transformer/moe/README.md (MCore v0.9)",
          "TFLOP/s per GPU",
          468,
          p.model_tflops_per_gpu,
          "launch/configs/scale/mixtral_8x7b.pbtxt (seq 4096, 256 sequences per step), ep 8, "
          "h100_sxm profile (GEMMs at the assumed 0.75 of peak)",
          "",
          "the planner runs every GEMM FLOP at the assumed large-GEMM rate (0.75 of peak) and "
          "charges nothing for kernel launches, the attention kernel's lower rate, load "
          "imbalance or a pipeline bubble (the README does not give the run's parallel layout): "
          "468 TFLOP/s is 0.47 of peak for the whole step against the planner's 0.58. The "
          "config also counts full rather than grouped-query attention (~5% more FLOPs per "
          "token)"};
}

std::string format_row(const ValidationRow& r) {
  char nums[128];
  std::snprintf(nums, sizeof nums, "| %.4g | %.4g | %+.1f%% |", r.published, r.projected,
                100 * r.error());
  std::string verdict = r.within() ? "within" : "outside";
  if (!r.by_input.empty()) verdict += " (input: " + r.by_input + ")";
  std::string note = r.within() ? "" : r.why_off;
  return "| " + r.what + " | " + r.unit + " " + nums + " " + verdict + " | " + r.assumed + " | " +
         r.source + " | " + note + " |\n";
}

}  // namespace

std::vector<ValidationRow> validation_rows() {
  std::vector<ValidationRow> rows = communication_rows();
  rows.push_back(mixtral_row());
  return rows;
}

std::string validation_table(const std::vector<ValidationRow>& rows) {
  std::ostringstream t;
  t << "| figure | unit | published | projected | error | verdict | assumed | source | "
       "why outside ±15% |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const ValidationRow& r : rows) t << format_row(r);
  return t.str();
}

}  // namespace sy
