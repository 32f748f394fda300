// CUPTI's activity records parsed by the same code the tracer uses, from buffers laid out as CUPTI lays them
// out; and CUPTI's answer on this machine.
#include <cupti.h>
#include <gtest/gtest.h>

#include <cstring>

#include "tracer/cuda_devices.h"
#include "tracer/cupti_memory_tracer.h"

namespace trainmem {
namespace {

// Records back to back in an 8-byte aligned buffer, as CUPTI fills its own.
class ActivityBuffer {
 public:
  template <class Record>
  void add(const Record& record) {
    ASSERT_LE(used_ + sizeof(Record), sizeof(bytes_));
    std::memcpy(bytes_ + used_, &record, sizeof(Record));
    used_ += sizeof(Record);
  }
  CuptiCapture parse() {
    CuptiCapture capture;
    parse_activity_buffer(bytes_, used_, capture);
    return capture;
  }

 private:
  alignas(8) uint8_t bytes_[4096] = {};
  size_t used_ = 0;
};

CUpti_ActivityMemory4 memory_record(CUpti_ActivityMemoryOperationType operation, CUpti_ActivityMemoryKind kind,
                                    uint64_t address, uint64_t bytes, uint64_t timestamp) {
  CUpti_ActivityMemory4 record{};
  record.kind = CUPTI_ACTIVITY_KIND_MEMORY2;
  record.memoryOperationType = operation;
  record.memoryKind = kind;
  record.address = address;
  record.bytes = bytes;
  record.timestamp = timestamp;
  record.deviceId = 2;
  return record;
}

TEST(CuptiParsing, MemoryAndPoolRecords) {
  ActivityBuffer buffer;
  buffer.add(memory_record(CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_ALLOCATION, CUPTI_ACTIVITY_MEMORY_KIND_DEVICE, 0x7000,
                           2 << 20, 111));
  buffer.add(memory_record(CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_ALLOCATION, CUPTI_ACTIVITY_MEMORY_KIND_PINNED, 0x9000,
                           4096, 112));
  CUpti_ActivityMemoryPool3 pool{};
  pool.kind = CUPTI_ACTIVITY_KIND_MEMORY_POOL;
  pool.memoryPoolOperationType = CUPTI_ACTIVITY_MEMORY_POOL_OPERATION_TYPE_CREATED;
  pool.address = 0xB000;
  pool.size = 1 << 20;
  pool.deviceId = 2;
  pool.timestamp = 113;
  buffer.add(pool);
  pool.memoryPoolOperationType = CUPTI_ACTIVITY_MEMORY_POOL_OPERATION_TYPE_TRIMMED;
  buffer.add(pool);
  buffer.add(memory_record(CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_RELEASE, CUPTI_ACTIVITY_MEMORY_KIND_DEVICE, 0x7000,
                           2 << 20, 114));

  const CuptiCapture capture = buffer.parse();
  ASSERT_EQ(capture.memory.size(), 3u);
  EXPECT_TRUE(capture.memory[0].allocation);
  EXPECT_TRUE(capture.memory[0].device_memory);
  EXPECT_EQ(capture.memory[0].device, 2);
  EXPECT_EQ(capture.memory[0].address, 0x7000u);
  EXPECT_EQ(capture.memory[0].bytes, 2u << 20);
  EXPECT_EQ(capture.memory[0].timestamp_ns, 111);
  EXPECT_FALSE(capture.memory[1].device_memory) << "pinned host memory";
  EXPECT_FALSE(capture.memory[2].allocation);
  EXPECT_EQ(capture.memory[2].timestamp_ns, 114);
  ASSERT_EQ(capture.pools.size(), 1u);
  EXPECT_TRUE(capture.pools[0].created);
  EXPECT_EQ(capture.pools[0].bytes, 1u << 20);
  EXPECT_EQ(capture.other_records, 1u) << "the trim";
}

TEST(CuptiParsing, AnEmptyBufferHasNoRecords) {
  ActivityBuffer buffer;
  const CuptiCapture capture = buffer.parse();
  EXPECT_TRUE(capture.memory.empty());
  EXPECT_TRUE(capture.pools.empty());
}

TEST(CuptiTracer, StartsWhereThereIsADeviceAndSaysWhyNotElsewhere) {
  EXPECT_TRUE(cupti_compiled());
  EXPECT_GE(cupti_version(), 13u) << "CUDA 13's CUPTI";
  const std::string error = CuptiMemoryTracer::start();
  const CuptiCapture capture = CuptiMemoryTracer::stop();
  if (probe_cuda().available) {
    EXPECT_EQ(error, "");
  } else {
    EXPECT_NE(error.find("CUPTI cannot trace device memory"), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos);
    EXPECT_TRUE(capture.memory.empty());
  }
}

}  // namespace
}  // namespace trainmem
