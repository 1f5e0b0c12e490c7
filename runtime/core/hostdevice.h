// SY_HD marks functions compiled for both host and device. Per DESIGN.md contract 12, each CUDA
// kernel's per-element or per-row logic lives in such a function so the CPU path runs the very
// same code and CPU tests cover it.
#pragma once

#if defined(__CUDACC__)
#define SY_HD __host__ __device__ __forceinline__
#else
#define SY_HD inline
#endif
