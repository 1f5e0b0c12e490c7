// CRC-32C (Castagnoli), the checksum of checkpoints and of TensorBoard's TFRecord framing. On x86
// CPUs with SSE4.2 it runs on the crc32 instruction (8 bytes per instruction, ~20 GB/s class),
// elsewhere on a byte table (~0.1 GB/s); both give the same values.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sy {

uint32_t crc32c(const void* data, size_t bytes, uint32_t crc = 0);

// The two implementations behind crc32c (tests compare them).
uint32_t crc32c_table(const void* data, size_t bytes, uint32_t crc = 0);
// Whether this CPU has the instruction; crc32c_hardware may be called only when it does.
bool crc32c_hardware_available();
uint32_t crc32c_hardware(const void* data, size_t bytes, uint32_t crc = 0);

}  // namespace sy
