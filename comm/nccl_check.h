// SY_NCCL_CHECK: throws sy::Error with NCCL's error string and last error message. ncclInProgress
// is not an error: communicators are non-blocking and callers poll for completion with a deadline.
#pragma once

#include <nccl.h>

#include "runtime/core/error.h"

#define SY_NCCL_CHECK(call)                                                 \
  do {                                                                      \
    ncclResult_t sy_nccl_rc_ = (call);                                      \
    if (sy_nccl_rc_ != ncclSuccess && sy_nccl_rc_ != ncclInProgress)        \
      SY_THROW(#call " failed: " << ncclGetErrorString(sy_nccl_rc_) << " (" \
                                 << ncclGetLastError(nullptr) << ")");      \
  } while (0)
