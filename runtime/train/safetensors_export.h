// A checkpoint as one safetensors file (the format Hugging Face and PyTorch users load with
// `safetensors.torch.load_file`): every parameter as F32 under its model name; an expert
// parameter, stored per global expert, becomes one tensor per expert, "<name>.<e>", without the
// expert dimension. Optimizer moments stay behind. __metadata__ carries the step, the Switchyard
// version and the run config (text format).
#pragma once

#include <string>

#include "runtime/train/checkpoint.h"

namespace sy {

struct ExportStats {
  int tensors = 0;
  uint64_t bytes = 0;
};
// Writes `out` (through a temporary file and a rename). Local: no collective.
ExportStats export_safetensors(const CheckpointOnDisk& checkpoint, const std::string& out);

}  // namespace sy
