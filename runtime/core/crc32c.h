// CRC-32C (Castagnoli), the checksum of checkpoints and of TensorBoard's TFRecord framing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sy {

uint32_t crc32c(const void* data, size_t bytes, uint32_t crc = 0);

}  // namespace sy
