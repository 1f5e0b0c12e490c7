#include "experts/token_moe.h"

#include "comm/tensor_exchange.h"
#include "experts/mh_moe_layer.h"

namespace sy {

void TokenMoe::zero_grad() {
  for (Param* p : params()) p->zero_grad();
}

void TokenMoe::reduce_gradients() {
  sy::reduce_gradients(params(), core().groups());
}

std::unique_ptr<TokenMoe> make_token_moe(const MoeOptions& o, const ProcessGroups& groups,
                                         Device device) {
  if (o.num_heads > 1 || o.mh_projections) return std::make_unique<MhMoeLayer>(o, groups, device);
  return std::make_unique<MoeLayer>(o, groups, device);
}

}  // namespace sy
