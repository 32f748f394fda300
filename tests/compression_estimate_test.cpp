// The analytic pooled sizes reproduce the paper's Table 1 (resnet18, batch 32, float32, MiB, floor mode).
#include <gtest/gtest.h>

#include <cmath>

#include "analysis/compression_estimate.h"

namespace trainmem {
namespace {

// Two decimals, ties to even, as the paper prints (6.125 MiB shows as 6.12).
double mib(int64_t bytes) { return std::nearbyint(static_cast<double>(bytes) / (1 << 20) * 100) / 100; }

struct TableRow {
  const char* layer;
  std::vector<int64_t> input_shape;
  double input_mib, k2_mib, k4_mib;
};

TEST(CompressionEstimate, ReproducesThePapersTable1) {
  const std::vector<TableRow> table = {
      {"conv1", {32, 3, 224, 224}, 18.38, 4.59, 1.15},
      {"layer1.0.conv1", {32, 64, 56, 56}, 24.50, 6.12, 1.53},
      {"layer2.0.conv2", {32, 128, 28, 28}, 12.25, 3.06, 0.77},
      {"layer3.0.conv2", {32, 256, 14, 14}, 6.12, 1.53, 0.28},  // 14x14 keeps 3x3 at k=4
      {"layer4.0.conv2", {32, 512, 7, 7}, 3.06, 0.56, 0.06},    // 7x7 keeps 3x3 at k=2, 1x1 at k=4
  };
  for (const auto& row : table) {
    int64_t bytes = 4;
    for (int64_t d : row.input_shape) bytes *= d;
    EXPECT_EQ(mib(bytes), row.input_mib) << row.layer;
    EXPECT_EQ(mib(pooled_input_bytes(row.input_shape, bytes, 2)), row.k2_mib) << row.layer;
    EXPECT_EQ(mib(pooled_input_bytes(row.input_shape, bytes, 4)), row.k4_mib) << row.layer;
    EXPECT_EQ(pooled_input_bytes(row.input_shape, bytes, 1), bytes) << row.layer;
  }
}

TEST(CompressionEstimate, AnalyticReductionIsSavedConvInputOverBaselineActivations) {
  RunInfo run;
  ModuleInfo stem{.name = "conv1", .type = "Conv2d", .input_shape = {1, 1, 4, 4}, .input_bytes = 64};
  ModuleInfo conv{.name = "conv2", .type = "Conv2d", .input_shape = {1, 1, 4, 4}, .input_bytes = 64, .compress_k = 2};
  run.modules = {stem, conv};
  EXPECT_FALSE(analytic_reduction(run).has_value());  // no baseline measured
  run.baseline_activation_bytes = 480;
  EXPECT_DOUBLE_EQ(*analytic_reduction(run), (64.0 - 16.0) / 480.0);
}

}  // namespace
}  // namespace trainmem
