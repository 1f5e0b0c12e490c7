// Experts that normalise their rows first: y = f(LN(x)), LN without affine (mean 0, variance 1 per
// row; the experts' first weight absorbs a gain). BASE in fairseq's form (PAPERS.md): the layer
// routes on the un-normalised x, and each expert's sub-layer normalises what it receives — the
// same rows whichever rank hosts the expert, so the result does not depend on ep.
#pragma once

#include <memory>
#include <vector>

#include "experts/experts.h"

namespace sy {

class NormalizedExperts final : public Experts {
 public:
  // Over rows of `width` on `device`.
  NormalizedExperts(std::unique_ptr<Experts> inner, int64_t width, Device device);
  void forward(const Tensor& y, std::unique_ptr<ExpertState>& saved, const Tensor& x,
               const ExpertSegments& segments) override;
  void backward_data(const Tensor& dx, ExpertState& saved, const Tensor& dy,
                     const ExpertSegments& segments) override;
  void backward_weights(const ExpertState& saved, const Tensor& dy,
                        const ExpertSegments& segments) override;
  std::vector<Param*> params() override { return inner_->params(); }
  double forward_flops(int64_t m) const override { return inner_->forward_flops(m); }

 private:
  std::unique_ptr<Experts> inner_;
  Tensor ones_, zeros_;  // the identity affine (width)
};

}  // namespace sy
