// report.html in a real browser: headless Chromium loads the report of a real run; its DOM must hold the
// report's parts (with the sorting script run), and a screenshot must show the chart drawn where the
// layout puts it. A machine without a working Chromium fails here, loudly: scripts/setup.sh installs it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "reports/html_report.h"

namespace trainmem {
namespace {

namespace fs = std::filesystem;

constexpr int kWindowWidth = 1200;
constexpr int kWindowHeight = 900;

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs `command` with its stdout into `out` and its stderr into `err` (default: `out` too); returns the exit status.
int run(const std::string& command, const fs::path& out, const fs::path& err = {}) {
  const std::string errors = err.empty() ? " 2>&1" : " 2>" + err.string();
  const int status = std::system((command + " >" + out.string() + errors).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // 3 bytes per pixel, rows top to bottom
  uint32_t pixel(int x, int y) const {
    const uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
    return (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
  }
};

uint32_t big_endian(const std::string& data, size_t at) {
  return (uint32_t{static_cast<uint8_t>(data.at(at))} << 24) | (uint32_t{static_cast<uint8_t>(data.at(at + 1))} << 16) |
         (uint32_t{static_cast<uint8_t>(data.at(at + 2))} << 8) | static_cast<uint8_t>(data.at(at + 3));
}

// The PNGs Chromium writes: 8-bit RGB or RGBA, not interlaced.
Image decode_png(const std::string& data) {
  if (data.size() < 8 || data.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) throw std::runtime_error("not a PNG");
  Image image;
  int channels = 0;
  std::string compressed;
  for (size_t at = 8; at + 8 <= data.size();) {
    const uint32_t length = big_endian(data, at);
    const std::string type = data.substr(at + 4, 4);
    const size_t body = at + 8;
    if (type == "IHDR") {
      image.width = static_cast<int>(big_endian(data, body));
      image.height = static_cast<int>(big_endian(data, body + 4));
      const int depth = data.at(body + 8), colour_type = data.at(body + 9), interlace = data.at(body + 12);
      if (depth != 8 || (colour_type != 2 && colour_type != 6) || interlace != 0) {
        throw std::runtime_error("unsupported PNG layout");
      }
      channels = colour_type == 6 ? 4 : 3;
    } else if (type == "IDAT") {
      compressed += data.substr(body, length);
    } else if (type == "IEND") {
      break;
    }
    at = body + length + 4;  // past the CRC
  }
  const size_t stride = static_cast<size_t>(image.width) * channels;
  std::vector<uint8_t> raw((stride + 1) * image.height);
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(compressed.data()), compressed.size()) != Z_OK ||
      raw_size != raw.size()) {
    throw std::runtime_error("corrupt PNG data");
  }
  // Undo each row's filter (PNG spec, section 9), in place.
  std::vector<uint8_t> previous(stride, 0);
  image.rgb.reserve(static_cast<size_t>(image.width) * image.height * 3);
  for (int y = 0; y < image.height; ++y) {
    uint8_t* row = &raw[y * (stride + 1) + 1];
    const uint8_t filter = row[-1];
    for (size_t i = 0; i < stride; ++i) {
      const int left = i >= static_cast<size_t>(channels) ? row[i - channels] : 0;
      const int up = previous[i];
      const int up_left = i >= static_cast<size_t>(channels) ? previous[i - channels] : 0;
      int predicted = 0;
      switch (filter) {
        case 0: break;
        case 1: predicted = left; break;
        case 2: predicted = up; break;
        case 3: predicted = (left + up) / 2; break;
        case 4: {
          const int p = left + up - up_left, pa = std::abs(p - left), pb = std::abs(p - up), pc = std::abs(p - up_left);
          predicted = pa <= pb && pa <= pc ? left : pb <= pc ? up : up_left;
          break;
        }
        default: throw std::runtime_error("bad PNG filter");
      }
      row[i] = static_cast<uint8_t>(row[i] + predicted);
    }
    previous.assign(row, row + stride);
    for (int x = 0; x < image.width; ++x) image.rgb.insert(image.rgb.end(), row + x * channels, row + x * channels + 3);
  }
  return image;
}

// The run whose report is loaded: ctest's fixture browser_report_run profiles it once for all these tests.
const fs::path kRun = TRAINMEM_BROWSER_RUN;

class Browser : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("trainmem-browser-" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    fs::create_directories(*dir_);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  void SetUp() override {
    ASSERT_TRUE(fs::is_regular_file(report()))
        << "no " << report() << ": run these tests through ctest, whose fixture browser_report_run profiles the run";
  }

  static fs::path report() { return kRun / "report.html"; }

  // Runs headless Chromium on `page` with `mode` (--dump-dom, --screenshot=FILE); returns its stdout.
  static std::string chromium(const std::string& mode, const fs::path& page = report()) {
    const char* binary = std::getenv("TRAINMEM_CHROMIUM");
    const std::string command = std::string("timeout 120 ") + (binary ? binary : "chromium") +
                                " --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1"
                                " --window-size=" + std::to_string(kWindowWidth) + "," + std::to_string(kWindowHeight) +
                                " --user-data-dir=" + (*dir_ / "chromium-profile").string() + " " + mode + " file://" +
                                page.string();
    const int status = run(command, *dir_ / "chromium.out", *dir_ / "chromium.log");
    if (status != 0) {
      ADD_FAILURE() << "headless Chromium could not run (exit " << status << "; install the Debian package chromium, "
                    << "as scripts/setup.sh does, or point TRAINMEM_CHROMIUM at a Chromium binary): "
                    << read_file(*dir_ / "chromium.log");
    }
    return read_file(*dir_ / "chromium.out");
  }

  static inline fs::path* dir_ = nullptr;  // this process's scratch files
};

TEST_F(Browser, DomHasTheReportsPartsAfterItsScriptRan) {
  const std::string dom = chromium("--dump-dom");
  ASSERT_FALSE(dom.empty());
  for (std::string_view id : kReportElementIds) {
    EXPECT_NE(dom.find("id=\"" + std::string(id) + "\""), std::string::npos) << id;
  }
  EXPECT_NE(dom.find("data-sortable=\"ready\""), std::string::npos) << "the sorting script did not run";
  const std::string table = dom.substr(dom.find("id=\"layer-table\""));
  size_t rows = 0;
  for (size_t at = table.find("<tr>"); at != std::string::npos && at < table.find("</table>"); at = table.find("<tr>", at + 1)) {
    ++rows;
  }
  const std::string layers = read_file(kRun / "layers.csv");
  EXPECT_EQ(rows, static_cast<size_t>(std::count(layers.begin(), layers.end(), '\n')));  // a row per line, header too
}

TEST_F(Browser, ClickingAColumnHeaderSortsTheLayers) {
  // A copy of the report with one more script: it clicks the "activations" heading once and notes the first row.
  std::string html = read_file(report());
  html.insert(html.rfind("</body>"),
              "<script>var table = document.getElementById('layer-table');"
              "Array.prototype.find.call(table.tHead.rows[0].cells, function (c) { return c.textContent === 'activations'; })"
              ".click(); document.body.dataset.firstRow = table.tBodies[0].rows[0].cells[0].textContent;</script>");
  const fs::path page = *dir_ / "sorted.html";
  std::ofstream(page) << html;
  const std::string dom = chromium("--dump-dom", page);

  // Numbers sort largest first: the first module of layers.csv with the most activation bytes leads.
  std::istringstream layers(read_file(kRun / "layers.csv"));
  std::string line;
  std::getline(layers, line);
  const size_t column = std::count(line.begin(), line.begin() + line.find("activation_bytes"), ',');
  std::string first;
  int64_t most = -1;
  while (std::getline(layers, line)) {
    std::vector<std::string> fields;
    std::istringstream row(line);
    for (std::string field; std::getline(row, field, ',');) fields.push_back(field);
    if (std::stoll(fields.at(column)) > most) {
      most = std::stoll(fields.at(column));
      first = fields.at(0);
    }
  }
  EXPECT_NE(dom.find("data-first-row=\"" + first + "\""), std::string::npos) << "expected " << first << " first";
}

TEST_F(Browser, ScreenshotShowsTheChartWhereTheLayoutPutsIt) {
  const fs::path png = *dir_ / "report.png";
  chromium("--screenshot=" + png.string());
  ASSERT_TRUE(fs::is_regular_file(png)) << "no screenshot: " << read_file(*dir_ / "chromium.log");
  const Image image = decode_png(read_file(png));
  ASSERT_EQ(image.width, kWindowWidth);
  ASSERT_EQ(image.height, kWindowHeight);

  using L = ChartLayout;
  const int left = L::kLeft + L::kPlotLeft + 1, right = L::kLeft + L::kPlotRight - 1;
  const int top = L::kTop + L::kPlotTop + 1, bottom = L::kTop + L::kPlotBottom - 1;
  std::vector<int64_t> pixels(kCategoryCount, 0);
  for (int y = top; y < bottom; ++y) {
    for (int x = left; x < right; ++x) {
      const uint32_t pixel = image.pixel(x, y);
      for (int i = 0; i < kCategoryCount; ++i) pixels[i] += pixel == kCategoryColours[i];
    }
  }
  int64_t area = 0;
  int categories_seen = 0;
  for (int64_t count : pixels) {
    area += count;
    categories_seen += count > 200;
  }
  const int64_t plot = static_cast<int64_t>(right - left) * (bottom - top);
  // resnet18 keeps parameters, gradients, optimizer state and temporaries in view for most of the run.
  EXPECT_GT(area, plot / 10) << "the plot area is mostly blank: " << area << " of " << plot << " pixels drawn";
  EXPECT_GE(categories_seen, 3);
}

}  // namespace
}  // namespace trainmem
