// `trainmem devices` and `profile --device cuda` end to end: a clear answer without a GPU, a reconciled profile
// with one.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/cli_runner.h"
#include "tracer/cuda_devices.h"

namespace trainmem {
namespace {

using CudaCli = testing::CliTest;

TEST_F(CudaCli, DevicesReportsTheBuildAndTheDevices) {
  const testing::Outcome outcome = run("devices --json");
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  const auto json = nlohmann::json::parse(outcome.out);
  EXPECT_TRUE(json["cupti"]["compiled"].get<bool>());
  EXPECT_GE(json["cupti"]["version"].get<int>(), 13);
  EXPECT_TRUE(json["libtorch"]["cuda"].get<bool>());
  EXPECT_GT(json["cpu"]["threads"].get<int>(), 0);
  const CudaStatus status = probe_cuda();
  EXPECT_EQ(json["cuda"]["available"].get<bool>(), status.available);
  EXPECT_EQ(json["cuda"]["reason"], status.reason);
  EXPECT_EQ(json["cuda"]["devices"].size(), status.devices.size());

  const testing::Outcome text = run("devices");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("CUPTI: compiled"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(status.available ? "cuda:0: " : "CUDA devices: none: " + status.reason),
            std::string::npos)
      << text.out;
}

TEST_F(CudaCli, ProfileOnCudaReconcilesWithTheAllocatorOrFailsClearly) {
  const std::string out = (dir_ / "run").string();
  const testing::Outcome outcome =
      run("profile --device cuda --model resnet18 --batch 2 --resolution 32 --steps 2 --out " + out);
  const CudaStatus status = probe_cuda();
  if (!status.available) {
    EXPECT_EQ(outcome.exit_code, 4) << outcome.err;
    EXPECT_EQ(outcome.err, "trainmem: --device cuda: " + status.reason + "\n");
    EXPECT_FALSE(std::filesystem::exists(out)) << "nothing is written for a run that could not start";
    return;
  }
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  std::ifstream file(dir_ / "run" / "summary.json");
  const auto summary = nlohmann::json::parse(file);
  const auto& cuda = summary["cuda"];
  EXPECT_EQ(summary["device"], "cuda");
  EXPECT_EQ(summary["peak_bytes"], cuda["allocator"]["requested_peak_bytes"]);
  EXPECT_TRUE(cuda["reconciled"]["peak"].get<bool>());
  EXPECT_TRUE(cuda["reconciled"]["reserved_peak"].get<bool>());
  EXPECT_EQ(summary["measured_parameter_bytes"], 4 * 11'689'512);
  EXPECT_NE(outcome.out.find("CUDA device 0"), std::string::npos) << outcome.out;

  const testing::Outcome analyzed = run("analyze " + out);
  ASSERT_EQ(analyzed.exit_code, 0) << analyzed.err;
  EXPECT_NE(analyzed.out.find("CUDA device 0"), std::string::npos) << analyzed.out;
}

TEST_F(CudaCli, AutoFallsBackToTheCpuWithAReason) {
  const CudaStatus status = probe_cuda();
  if (status.available) GTEST_SKIP() << "auto picks the CUDA device here";
  const testing::Outcome outcome =
      run("profile --device auto --model resnet18 --batch 2 --resolution 32 --steps 1 --out " + (dir_ / "run").string());
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(outcome.err, "trainmem: " + status.reason + "; profiling on the CPU\n");
}

}  // namespace
}  // namespace trainmem
