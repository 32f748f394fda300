// The CUDA part of a run's files and report: run.json keeps the allocator's statistics and CUPTI's outcome,
// summary.json reconciles them with the trace, and the terminal report says whether they agree.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "analysis/analysis.h"
#include "reports/cuda_report.h"
#include "reports/errors.h"
#include "reports/run_files.h"
#include "reports/summary_json.h"
#include "tests/temp_dir_test.h"

namespace trainmem {
namespace {

namespace fs = std::filesystem;

RunInfo cuda_run() {
  RunInfo run;
  run.model = "resnet18";
  run.batch = 2;
  run.device = "cuda";
  CudaRunInfo cuda;
  cuda.device = 0;
  cuda.device_name = "NVIDIA H200";
  cuda.device_total_bytes = 150'000'000'000;
  cuda.device_used_bytes = 3'000'000'000;
  cuda.allocator_requested_peak = 5000;
  cuda.allocator_allocated_peak = 5120;
  cuda.allocator_reserved_peak = 2 << 20;
  cuda.cupti_traced = true;
  cuda.cupti_memory_records = 4;
  run.cuda = cuda;
  return run;
}

Analysis cuda_analysis(int64_t peak) {
  Analysis analysis;
  analysis.peak.bytes = peak;
  analysis.device_memory.reserved.peak_bytes = 2 << 20;
  analysis.device_memory.reserved.at_tensor_peak = 2 << 20;
  analysis.device_memory.driver.peak_bytes = 3 << 20;
  return analysis;
}

using CudaReports = testing::TempDirTest;

TEST_F(CudaReports, RunJsonKeepsTheCudaInformation) {
  const RunInfo run = cuda_run();
  write_run_json(dir_ / "run.json", run);
  const RunInfo read = read_run_json(dir_ / "run.json");
  ASSERT_TRUE(read.cuda.has_value());
  EXPECT_EQ(read, run);
  EXPECT_EQ(trace_device(read), 0);

  RunInfo cpu = run;
  cpu.cuda.reset();
  write_run_json(dir_ / "cpu.json", cpu);
  EXPECT_FALSE(read_run_json(dir_ / "cpu.json").cuda.has_value());
  EXPECT_EQ(trace_device(cpu), kCpuDevice);
}

TEST_F(CudaReports, AMalformedCudaObjectIsAClearError) {
  write_run_json(dir_ / "run.json", cuda_run());
  std::ifstream in(dir_ / "run.json");
  std::stringstream text;
  text << in.rdbuf();
  std::string json = text.str();
  json.replace(json.find("\"allocator_reserved_peak\": 2097152"), 34, "\"allocator_reserved_peak\": \"lots\"");
  std::ofstream(dir_ / "bad.json") << json;
  try {
    read_run_json(dir_ / "bad.json");
    FAIL() << "read a malformed cuda object";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("\"cuda\" is malformed"), std::string::npos) << e.what();
  }
}

TEST_F(CudaReports, SummaryReconcilesTraceAndAllocator) {
  const auto summary = summary_json(cuda_run(), cuda_analysis(5000));
  const auto& cuda = summary["cuda"];
  EXPECT_EQ(cuda["trace"]["peak_bytes"], 5000);
  EXPECT_EQ(cuda["allocator"]["requested_peak_bytes"], 5000);
  EXPECT_EQ(cuda["allocator"]["allocated_peak_bytes"], 5120);
  EXPECT_TRUE(cuda["reconciled"]["peak"].get<bool>());
  EXPECT_TRUE(cuda["reconciled"]["reserved_peak"].get<bool>());
  EXPECT_EQ(cuda["trace"]["driver_peak_bytes"], 3 << 20);
  EXPECT_FALSE(summary_json(cuda_run(), cuda_analysis(4999))["cuda"]["reconciled"]["peak"].get<bool>());

  RunInfo cpu = cuda_run();
  cpu.cuda.reset();
  EXPECT_TRUE(summary_json(cpu, cuda_analysis(5000))["cuda"].is_null());
}

TEST_F(CudaReports, TerminalReportSaysWhetherTheyAgree) {
  std::ostringstream agree;
  print_cuda_report(agree, cuda_run(), cuda_analysis(5000));
  EXPECT_NE(agree.str().find("CUDA device 0 (NVIDIA H200"), std::string::npos) << agree.str();
  EXPECT_NE(agree.str().find("equal"), std::string::npos) << agree.str();
  EXPECT_EQ(agree.str().find("DIFFERS"), std::string::npos) << agree.str();
  EXPECT_NE(agree.str().find("CUPTI: driver allocations peaked at 3.00 MiB"), std::string::npos) << agree.str();

  std::ostringstream differ;
  RunInfo without_cupti = cuda_run();
  without_cupti.cuda->cupti_traced = false;
  without_cupti.cuda->cupti_error = "CUPTI cannot trace device memory (CUPTI_ERROR_UNKNOWN)";
  print_cuda_report(differ, without_cupti, cuda_analysis(4999));
  EXPECT_NE(differ.str().find("DIFFERS"), std::string::npos) << differ.str();
  EXPECT_NE(differ.str().find("CUPTI: not traced: CUPTI cannot trace"), std::string::npos) << differ.str();

  std::ostringstream cpu;
  RunInfo cpu_run = cuda_run();
  cpu_run.cuda.reset();
  print_cuda_report(cpu, cpu_run, cuda_analysis(5000));
  EXPECT_EQ(cpu.str(), "");
}

}  // namespace
}  // namespace trainmem
