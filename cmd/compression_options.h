#pragma once
// --compress and --compress-mode, shared by the commands that train.
#include <CLI/CLI.hpp>

#include "compression/policy.h"

namespace trainmem::cli {

// --compress-mode alone (commands that take their settings in another form).
void add_compress_mode_option(CLI::App& command, compression::CompressMode& mode);
// --compress and --compress-mode into one policy.
void add_compression_options(CLI::App& command, compression::CompressionPolicy& policy);

}  // namespace trainmem::cli
