// Helpers for the MoE layer tests: deterministic global data, a layer's scalar loss
// L = Σ dout ⊙ y + aux (accumulated in double), and parameter lookup by name.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "experts/mh_moe_layer.h"
#include "runtime/core/random.h"

namespace sy {
namespace testing {

// Rows [row_begin, row_end) of a deterministic (rows, cols) matrix of N(0, scale²) values.
inline Tensor global_rows(uint64_t stream, int64_t row_begin, int64_t row_end, int64_t cols,
                          float scale = 1.0f) {
  Tensor t = Tensor::empty({row_end - row_begin, cols}, DType::kF32);
  fill_normal(t, 99, stream, scale, static_cast<uint64_t>(row_begin * cols));
  return t;
}

inline std::vector<int32_t> global_token_ids(int64_t begin, int64_t end, int vocab = 1000) {
  std::vector<int32_t> ids;
  for (int64_t t = begin; t < end; ++t)
    ids.push_back(static_cast<int32_t>((t * 7919 + 13) % vocab));
  return ids;
}

// One forward (training) and backward of `layer` on rows [t0, t1) of the global test batch — x
// from stream 1, dy from stream 2, the global token ids — after zeroing its gradients.
struct PassResult {
  Tensor y, dx;
};
inline PassResult forward_backward(TokenMoe& layer, int64_t t0, int64_t t1) {
  const int64_t d = layer.core().options().d_model;
  Tensor x = global_rows(1, t0, t1, d), dy = global_rows(2, t0, t1, d);
  const std::vector<int32_t> ids = global_token_ids(t0, t1);
  PassResult r{Tensor::empty(x.shape(), DType::kF32), Tensor::empty(x.shape(), DType::kF32)};
  layer.zero_grad();
  layer.forward(r.y, x, ids.data(), true);
  layer.backward(r.dx, dy);
  return r;
}

// A named MoE layer configuration for the parameterised tests.
struct MoeCase {
  const char* name;
  MoeOptions o;
};

// The small sizes most catalogue tests use: width 16, 8 experts of hidden width 12.
inline MoeOptions small_moe_options(uint64_t seed) {
  MoeOptions o;
  o.d_model = 16;
  o.num_experts = 8;
  o.d_expert = 12;
  o.seed = seed;
  return o;
}

// The MoE layer configurations every MoE test runs through, one catalogue: each router, each
// expert kind, MH-MoE with and without projections' chunking, capacity (dropping) and dropless
// modes, raw and renormalised top-k weights, chunked layers. A test applies them to its own
// sizes (base: width, experts, expert width, seed, loss coefficients). Cases whose name contains
// "capacity" drop items at the tests' sizes.
inline std::vector<MoeCase> moe_cases(const MoeOptions& base) {
  std::vector<MoeCase> cs;
  auto add = [&](const char* name, auto tweak) {
    MoeOptions o = base;
    tweak(o);
    cs.push_back({name, o});
  };
  add("switch_capacity", [](MoeOptions& o) { o.capacity_factor = 0.8f; });
  add("gshard_top2_renorm_dropless_swiglu", [](MoeOptions& o) {
    o.top_k = 2;
    o.renormalize = true;
    o.dropless = true;
    o.expert = pb::SWIGLU;
  });
  add("top2_capacity_chunks3", [](MoeOptions& o) {
    o.top_k = 2;
    o.capacity_factor = 0.7f;
    o.chunks = 3;
  });
  add("xmoe_top2_dropless", [](MoeOptions& o) {
    o.router = pb::XMOE_COSINE;
    o.top_k = 2;
    o.dropless = true;
    o.xmoe_dim = 4;
    o.xmoe_temperature = 0.5f;
  });
  add("xmoe_learned_temperature", [](MoeOptions& o) {
    o.router = pb::XMOE_COSINE;
    o.top_k = 2;
    o.dropless = true;
    o.xmoe_dim = 4;
    o.xmoe_temperature = 0.3f;
    o.xmoe_learn_temperature = true;
  });
  add("ffn_bias", [](MoeOptions& o) {
    o.top_k = 2;
    o.dropless = true;
    o.expert_bias = true;
  });
  add("swiglu_bias_chunks2", [](MoeOptions& o) {
    o.expert = pb::SWIGLU;
    o.capacity_factor = 0.8f;
    o.chunks = 2;
    o.expert_bias = true;
  });
  add("hash_swiglu", [](MoeOptions& o) {
    o.router = pb::HASH;
    o.expert = pb::SWIGLU;
    o.dropless = true;
  });
  add("base", [](MoeOptions& o) { o.router = pb::BASE; });
  add("base_fairseq", [](MoeOptions& o) {  // its output weight random here, so gradients flow
    o.router = pb::BASE;
    o.base_fairseq = true;
  });
  add("blockdiag_experts_top2", [](MoeOptions& o) {
    o.expert = pb::BLOCKDIAG;
    o.monarch_blocks = 2;
    o.top_k = 2;
    o.dropless = true;
  });
  add("monarch_experts_capacity", [](MoeOptions& o) {
    o.expert = pb::MONARCH;
    o.capacity_factor = 0.8f;
  });
  add("mh_moe_h2_top2_capacity", [](MoeOptions& o) {
    o.num_heads = 2;
    o.mh_projections = true;
    o.top_k = 2;
    o.capacity_factor = 0.9f;
  });
  add("mh_moe_h4_swiglu_chunks2", [](MoeOptions& o) {
    o.num_heads = 4;
    o.mh_projections = true;
    o.expert = pb::SWIGLU;
    o.dropless = true;
    o.chunks = 2;
  });
  return cs;
}
inline void PrintTo(const MoeCase& c, std::ostream* os) {
  *os << c.name;
}
inline std::string case_name(const ::testing::TestParamInfo<MoeCase>& i) {
  return i.param.name;
}
inline double dot(const Tensor& a, const Tensor& b) {
  auto av = a.to_vector<float>(), bv = b.to_vector<float>();
  double s = 0;
  for (size_t i = 0; i < av.size(); ++i) s += double(av[i]) * bv[i];
  return s;
}

inline Param* find_param(TokenMoe& layer, const std::string& suffix) {
  for (Param* p : layer.params())
    if (p->name.size() >= suffix.size() &&
        p->name.compare(p->name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return p;
  return nullptr;
}

}  // namespace testing
}  // namespace sy
