# The header-only libraries and googletest's sources as scripts/gpu-bundle.sh lays them out in
# TRAINMEM_CARRIED_DEPS, under the target names the Debian packages' CMake files give them.
set(_deps "${TRAINMEM_CARRIED_DEPS}")
foreach(_dir cli11/CLI json/nlohmann fmt/fmt googletest/CMakeLists.txt)
  if(NOT EXISTS "${_deps}/${_dir}")
    message(FATAL_ERROR "trainmem: ${_deps}/${_dir} is missing; run scripts/gpu-bundle.sh where the packages are")
  endif()
endforeach()

add_library(CLI11::CLI11 INTERFACE IMPORTED)
target_include_directories(CLI11::CLI11 SYSTEM INTERFACE "${_deps}/cli11")
add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
target_include_directories(nlohmann_json::nlohmann_json SYSTEM INTERFACE "${_deps}/json")
add_library(fmt::fmt INTERFACE IMPORTED)
target_include_directories(fmt::fmt SYSTEM INTERFACE "${_deps}/fmt")
target_compile_definitions(fmt::fmt INTERFACE FMT_HEADER_ONLY=1)

set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
add_subdirectory("${_deps}/googletest" "${CMAKE_BINARY_DIR}/carried-googletest" EXCLUDE_FROM_ALL)
