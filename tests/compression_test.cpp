// The compression operators against stock LibTorch: exact where the paper says they are, approximate only in
// the way it describes, and keeping alive only what they claim to keep.
#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/randn_like.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "analysis/compression_estimate.h"
#include "compression/mask_relu.h"
#include "compression/pooled_conv2d.h"

namespace trainmem::compression {
namespace {

testing::AssertionResult identical(const at::Tensor& actual, const at::Tensor& expected) {
  if (actual.sizes() == expected.sizes() && at::equal(actual, expected)) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "sizes " << actual.sizes() << " vs " << expected.sizes()
                                     << (actual.sizes() == expected.sizes()
                                             ? ", max |difference| " +
                                                   std::to_string((actual - expected).abs().max().item<double>())
                                             : "");
}

testing::AssertionResult close(const at::Tensor& actual, const at::Tensor& expected) {
  if (actual.sizes() == expected.sizes() && at::allclose(actual, expected, /*rtol=*/1e-5, /*atol=*/1e-5))
    return testing::AssertionSuccess();
  return identical(actual, expected);  // for its message
}

// The pooled-then-inflated input, built block by block from its definition rather than from pool() and inflate().
at::Tensor block_means(const at::Tensor& x, int64_t k, PoolMode mode) {
  at::Tensor result = at::zeros_like(x);
  const int64_t height = x.size(2), width = x.size(3);
  for (int64_t row = 0; row < height; row += k) {
    for (int64_t col = 0; col < width; col += k) {
      const bool partial = row + k > height || col + k > width;
      if (partial && mode == PoolMode::kFloor) continue;  // dropped by pooling: zero
      const int64_t row_end = std::min(row + k, height), col_end = std::min(col + k, width);
      result.slice(2, row, row_end)
          .slice(3, col, col_end)
          .copy_(x.slice(2, row, row_end).slice(3, col, col_end).mean({2, 3}, /*keepdim=*/true));
    }
  }
  return result;
}

struct ConvGeometry {
  std::vector<int64_t> stride{1, 1};
  std::vector<int64_t> padding{0, 0};
  std::vector<int64_t> dilation{1, 1};
  int64_t groups = 1;
};

struct ConvResult {
  at::Tensor output, grad_input, grad_weight, grad_bias;
};

using Conv = std::function<at::Tensor(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias)>;

// Runs `conv` on fresh leaves copied from the arguments and back-propagates `grad_output` through it.
ConvResult forward_backward(const Conv& conv, const at::Tensor& input, const at::Tensor& weight,
                            const at::Tensor& bias, const at::Tensor& grad_output) {
  const at::Tensor input_leaf = input.detach().clone().requires_grad_();
  const at::Tensor weight_leaf = weight.detach().clone().requires_grad_();
  const at::Tensor bias_leaf = bias.defined() ? bias.detach().clone().requires_grad_() : at::Tensor();
  ConvResult result;
  result.output = conv(input_leaf, weight_leaf, bias_leaf);
  result.output.backward(grad_output);
  result.grad_input = input_leaf.grad();
  result.grad_weight = weight_leaf.grad();
  if (bias.defined()) result.grad_bias = bias_leaf.grad();
  return result;
}

Conv stock_conv(const ConvGeometry& g) {
  return [g](const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias) {
    return at::conv2d(input, weight, bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt, g.stride,
                      g.padding, g.dilation, g.groups);
  };
}

Conv compressed_conv(const ConvGeometry& g, int64_t k, PoolMode mode) {
  return [g, k, mode](const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias) {
    return pooled_conv2d(input, weight, bias, g.stride, g.padding, g.dilation, g.groups, k, mode);
  };
}

struct ConvCase {
  std::string name;
  std::vector<int64_t> input_sizes;   // N, C, H, W
  std::vector<int64_t> weight_sizes;  // C_out, C_in / groups, kH, kW
  ConvGeometry geometry;
  bool has_bias = true;
  int64_t k = 2;
  PoolMode mode = PoolMode::kFloor;
};

// ctest lists parameterized tests with their parameter: a name reads better than its bytes.
void PrintTo(const ConvCase& c, std::ostream* out) { *out << c.name; }

class PooledConv2dTest : public testing::TestWithParam<ConvCase> {};

TEST_P(PooledConv2dTest, ExactOutputInputAndBiasGradientsWeightGradientFromTheInflatedInput) {
  const ConvCase& c = GetParam();
  at::manual_seed(0);
  const at::Tensor input = at::randn(c.input_sizes);
  const at::Tensor weight = at::randn(c.weight_sizes);
  const at::Tensor bias = c.has_bias ? at::randn({c.weight_sizes[0]}) : at::Tensor();
  const at::Tensor grad_output = at::randn_like(at::conv2d(input, weight, {}, c.geometry.stride,
                                                           c.geometry.padding, c.geometry.dilation, c.geometry.groups));

  const ConvResult compressed =
      forward_backward(compressed_conv(c.geometry, c.k, c.mode), input, weight, bias, grad_output);
  const ConvResult stock = forward_backward(stock_conv(c.geometry), input, weight, bias, grad_output);
  const ConvResult stock_on_inflated =
      forward_backward(stock_conv(c.geometry), block_means(input, c.k, c.mode), weight, bias, grad_output);

  EXPECT_TRUE(identical(compressed.output, stock.output));
  EXPECT_TRUE(identical(compressed.grad_input, stock.grad_input));
  if (c.has_bias) {
    EXPECT_TRUE(identical(compressed.grad_bias, stock.grad_bias));
  }
  EXPECT_TRUE(close(compressed.grad_weight, stock_on_inflated.grad_weight));
  if (c.k == 1) {
    EXPECT_TRUE(identical(compressed.grad_weight, stock.grad_weight));
  } else {
    EXPECT_FALSE(close(compressed.grad_weight, stock.grad_weight)) << "the weight gradient is approximate";
  }
}

ConvCase with_mode(ConvCase c, PoolMode mode) {
  c.mode = mode;
  c.name += mode == PoolMode::kFloor ? "_floor" : "_ceil";
  return c;
}

std::vector<ConvCase> conv_cases() {
  const std::vector<ConvCase> geometries = {
      {"k1_stride2_padded", {2, 3, 9, 9}, {4, 3, 3, 3}, {{2, 2}, {1, 1}}, true, 1},
      {"k2_14x14", {2, 3, 14, 14}, {4, 3, 3, 3}, {{1, 1}, {1, 1}}, true, 2},
      {"k4_14x14", {2, 3, 14, 14}, {4, 3, 3, 3}, {{1, 1}, {1, 1}}, true, 4},
      {"k2_7x7_stride2", {2, 4, 7, 7}, {6, 4, 3, 3}, {{2, 2}, {1, 1}}, true, 2},
      {"k4_7x7", {2, 4, 7, 7}, {6, 4, 3, 3}, {{1, 1}, {1, 1}}, true, 4},
      {"k2_depthwise", {2, 6, 10, 10}, {6, 1, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 6}, true, 2},
      {"k2_grouped_stride2", {2, 6, 11, 11}, {4, 3, 3, 3}, {{2, 2}, {1, 1}, {1, 1}, 2}, true, 2},
      {"k4_dilated", {2, 3, 14, 14}, {4, 3, 3, 3}, {{1, 1}, {2, 2}, {2, 2}}, true, 4},
      {"k2_downsample_1x1_no_bias", {2, 4, 14, 14}, {8, 4, 1, 1}, {{2, 2}, {0, 0}}, false, 2},
      {"k3_7x5", {1, 2, 7, 5}, {3, 2, 3, 3}, {{1, 1}, {1, 1}}, true, 3},
  };
  std::vector<ConvCase> cases;
  for (const ConvCase& geometry : geometries) {
    cases.push_back(with_mode(geometry, PoolMode::kFloor));
    cases.push_back(with_mode(geometry, PoolMode::kCeil));
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Geometries, PooledConv2dTest, testing::ValuesIn(conv_cases()),
                         [](const testing::TestParamInfo<ConvCase>& info) { return info.param.name; });

// A 5x5 map holding 5 * row + col, pooled by k = 2.
at::Tensor five_by_five() { return at::arange(25, at::kFloat).view({1, 1, 5, 5}); }

TEST(Inflate, FloorKeepsPixelsOverTheirSourceAndZeroesTheDroppedRemainder) {
  const at::Tensor inflated = inflate(pool(five_by_five(), 2, PoolMode::kFloor), 2, 5, 5, PoolMode::kFloor)[0][0];
  EXPECT_EQ(inflated[0][0].item<float>(), 3.0f);  // mean of 0, 1, 5, 6
  EXPECT_EQ(inflated[1][1].item<float>(), 3.0f);
  EXPECT_EQ(inflated[2][3].item<float>(), 15.0f);  // mean of 12, 13, 17, 18
  EXPECT_EQ(inflated[3][0].item<float>(), 13.0f);  // mean of 10, 11, 15, 16
  EXPECT_TRUE(identical(inflated[4], at::zeros({5})));
  EXPECT_TRUE(identical(inflated.select(1, 4), at::zeros({5})));
  EXPECT_TRUE(identical(inflated, block_means(five_by_five(), 2, PoolMode::kFloor)[0][0]));
}

TEST(Inflate, CeilAveragesThePartialWindowsOverTheirValidPixels) {
  const at::Tensor inflated = inflate(pool(five_by_five(), 2, PoolMode::kCeil), 2, 5, 5, PoolMode::kCeil)[0][0];
  EXPECT_EQ(inflated[0][0].item<float>(), 3.0f);
  EXPECT_EQ(inflated[4][0].item<float>(), 20.5f);  // mean of 20, 21
  EXPECT_EQ(inflated[1][4].item<float>(), 6.5f);   // mean of 4, 9
  EXPECT_EQ(inflated[4][4].item<float>(), 24.0f);
  EXPECT_TRUE(close(inflated, block_means(five_by_five(), 2, PoolMode::kCeil)[0][0]));
}

TEST(Inflate, RejectsAPooledMapOfTheWrongSize) {
  EXPECT_THROW(inflate(at::zeros({1, 1, 3, 3}), 2, 5, 5, PoolMode::kFloor), c10::Error);
}

// The analytic size the reports print (analysis/compression_estimate.h, checked against the paper's Table 1
// there) is what pooling really keeps.
TEST(PooledCopy, HasTheAnalyticSizeTheReportsPrint) {
  const at::Tensor x = at::randn({2, 3, 7, 9});
  for (const int64_t k : {1, 2, 4}) {
    EXPECT_EQ(pooled_input_bytes(x.sizes().vec(), static_cast<int64_t>(x.nbytes()), k),
              static_cast<int64_t>(pool(x, k, PoolMode::kFloor).nbytes()))
        << "k=" << k;
  }
  EXPECT_EQ(pool(x, 2, PoolMode::kCeil).sizes(), (std::vector<int64_t>{2, 3, 4, 5}));  // partial windows kept
  EXPECT_THROW(pool(x, 8, PoolMode::kFloor), c10::Error);                           // would keep nothing
}

// Whether the storage of an input that only the autograd graph still references survives the forward pass.
bool graph_keeps_input_alive(int64_t k) {
  const at::Tensor weight = at::randn({4, 3, 3, 3}).requires_grad_();
  at::Tensor input = at::randn({2, 3, 8, 8});  // like a network's image batch: no gradient of its own
  const c10::weak_intrusive_ptr<c10::StorageImpl> input_storage = input.storage().getWeakStorageImpl();
  const at::Tensor output = pooled_conv2d(input, weight, {}, {1, 1}, {1, 1}, {1, 1}, 1, k);
  input.reset();
  const bool alive = !input_storage.expired();
  output.sum().backward();  // the graph still works without it
  EXPECT_TRUE(weight.grad().defined());
  return alive;
}

TEST(PooledConv2dMemory, KeepsOnlyThePooledCopyOfTheInput) {
  EXPECT_TRUE(graph_keeps_input_alive(1)) << "k = 1 saves the input itself, as stock convolution does";
  EXPECT_FALSE(graph_keeps_input_alive(2));
}

// A ReLU's input as in a network: computed from a leaf, so that the in-place ReLU is allowed.
at::Tensor relu_input(const at::Tensor& leaf) { return leaf * 1.0; }

// Contiguous float input takes mask_relu_'s fused CPU loop, a transposed one its tensor-op path.
void expect_equal_to_stock_relu(bool contiguous) {
  at::manual_seed(0);
  at::Tensor data = at::randn({2, 3, 5, 7});
  data.view({-1}).slice(0, 0, 40).zero_();  // exact zeros, where stock relu's gradient is 0
  data.view({-1}).narrow(0, 50, 1).fill_(-0.0);
  const at::Tensor grad_output = at::randn_like(data);
  const auto layout = [contiguous](const at::Tensor& t) { return contiguous ? t : t.transpose(2, 3); };

  const at::Tensor stock_leaf = data.clone().requires_grad_();
  at::Tensor stock = layout(relu_input(stock_leaf));
  stock.relu_();
  stock.backward(layout(grad_output));

  const at::Tensor masked_leaf = data.clone().requires_grad_();
  at::Tensor masked = layout(relu_input(masked_leaf));
  ASSERT_EQ(masked.is_contiguous(), contiguous);
  const at::Tensor returned = mask_relu_(masked);
  EXPECT_TRUE(returned.is_same(masked)) << "in place";
  masked.backward(layout(grad_output));

  EXPECT_TRUE(identical(masked, stock));
  EXPECT_TRUE(identical(masked_leaf.grad(), stock_leaf.grad()));
}

TEST(MaskRelu, ValuesAndGradientsEqualStockReluIncludingAtZero) { expect_equal_to_stock_relu(true); }
TEST(MaskRelu, NonContiguousInputTakesTheGeneralPathWithTheSameResult) { expect_equal_to_stock_relu(false); }

// Whether the storage of a ReLU's result, once its only other consumer (a sum) is done, survives the forward pass.
bool graph_keeps_relu_output_alive(const std::function<void(at::Tensor&)>& relu) {
  const at::Tensor leaf = at::randn({2, 3, 8, 8}).requires_grad_();
  at::Tensor activation = relu_input(leaf);
  relu(activation);
  const c10::weak_intrusive_ptr<c10::StorageImpl> storage = activation.storage().getWeakStorageImpl();
  const at::Tensor loss = activation.sum();
  activation.reset();
  const bool alive = !storage.expired();
  loss.backward();
  EXPECT_TRUE(leaf.grad().defined());
  return alive;
}

TEST(MaskRelu, TheGraphDoesNotKeepTheFullSizeResult) {
  EXPECT_TRUE(graph_keeps_relu_output_alive([](at::Tensor& x) { x.relu_(); })) << "stock relu_ saves its result";
  EXPECT_FALSE(graph_keeps_relu_output_alive([](at::Tensor& x) { mask_relu_(x); }));
}

TEST(PackBits, RoundTripsSizesNotDivisibleByEight) {
  at::manual_seed(0);
  for (const int64_t numel : {1, 7, 8, 9, 15, 1001}) {
    const at::Tensor mask = at::randn({numel}).gt(0);
    const at::Tensor packed = pack_bits(mask);
    EXPECT_EQ(packed.scalar_type(), at::kByte);
    EXPECT_EQ(packed.numel(), (numel + 7) / 8);
    EXPECT_TRUE(identical(unpack_bits(packed, numel), mask)) << numel << " elements";
  }
}

TEST(PackBits, PutsElementIInBitIModulo8LeastSignificantFirst) {
  const at::Tensor mask = at::zeros({10}, at::kBool);
  mask[0] = true;
  mask[3] = true;
  mask[9] = true;
  const at::Tensor packed = pack_bits(mask);
  EXPECT_EQ(packed[0].item<uint8_t>(), 0b1001);
  EXPECT_EQ(packed[1].item<uint8_t>(), 0b10);
}

TEST(PackBits, TheMaskOfAFloatActivationIsOneThirtySecondOfItsBytes) {
  const at::Tensor activation = at::randn({4, 16, 14, 14});
  const at::Tensor packed = pack_bits(activation.gt(0));
  EXPECT_EQ(packed.nbytes() * 32, activation.nbytes());
}

}  // namespace
}  // namespace trainmem::compression
