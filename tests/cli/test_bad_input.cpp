// test_bad_input.cpp: the `unfold` binary on flags that cannot work: each is refused with exit code 1 and one
// line naming the flag, before any output file or folder exists (the defects of issue 12's fault hunt).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "../test_util.h"
#include "unfold/core/memory.h"
#include "unfold/sae/sae_train.h"

using namespace unfold;
namespace fs = std::filesystem;

namespace {

const std::string kBin = UNFOLD_BINARY;
const std::string kSrc = UNFOLD_SOURCE_DIR;

struct CliRun {
    int rc = 0;
    std::string err;  // stdout + stderr
};

CliRun run(const std::string& args) {
    CliRun r;
    r.rc = unfold_test::run_shell(kBin + " " + args + " --threads 1", &r.err, /*merge_err=*/true);
    while (!r.err.empty() && r.err.back() == '\n') r.err.pop_back();
    return r;
}

std::string out_dir(const std::string& name) {
    const std::string d = (fs::temp_directory_path() / ("unfold_bad_input_" + std::to_string(getpid()) + "_" + name)).string();
    fs::remove_all(d);
    return d;
}

void expect_one_line_error(const CliRun& r, const std::vector<std::string>& parts) {
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_EQ(r.err.find('\n'), std::string::npos) << "more than one line: " << r.err;
    EXPECT_EQ(r.err.rfind("unfold: error: ", 0), 0u) << r.err;
    for (const auto& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << "lacks '" << p << "': " << r.err;
}

}  // namespace

// sae train with a dictionary that cannot fit: refused before the source is read or --out exists, naming the
// flag, the bytes it needs and the memory there is (it used to print "training ..." and then "out of memory",
// leaving an empty --out folder).
TEST(BadInput, SaeTrainRefusesSizesThatCannotFit) {
    for (const char* latents : {"1000000000000", "16000000"}) {
        SCOPED_TRACE(latents);
        const std::string out = out_dir(std::string("latents") + latents);
        CliRun r = run(std::string("sae train --input planted:d=64,features=32,p=0.1 --steps 2 --batch 65536 --latents ") +
                    latents + " --out " + out);
        expect_one_line_error(r, {std::string("--latents ") + latents, "--batch 65536", "bytes", "available"});
        EXPECT_FALSE(fs::exists(out)) << out;
    }
    // the figure in the message is sae_train_memory_bytes: 4 floats per parameter (value, gradient, two Adam
    // moments), the transposed encoder gradient, 6 rows buffers and one [batch, d_sae] workspace for TopK
    SaeTrainConfig c;
    c.sae.arch = SaeArch::TOPK;
    c.sae.d_sae = 1000;
    c.batch = 10;
    const uint64_t d = 4, F = 1000, B = 10;
    EXPECT_EQ(sae_train_memory_bytes(c, 4), 4 * (4 * (2 * d * F + F + d) + F * d + 6 * B * d + B * F));
    c.sae.arch = SaeArch::GATED;  // + r_mag, b_mag; five [batch, d_sae] workspaces
    EXPECT_EQ(sae_train_memory_bytes(c, 4), 4 * (4 * (2 * d * F + 3 * F + d) + F * d + 6 * B * d + 5 * B * F));
    c.sae.d_sae = (int64_t)1 << 62;  // saturates instead of wrapping to a small number
    EXPECT_EQ(sae_train_memory_bytes(c, 1 << 20), UINT64_MAX);
    const std::string m = unfold_test::error_of([] { check_memory_fits(UINT64_MAX - 1, "--x 9"); });
    EXPECT_NE(m.find("--x 9 needs at least 18446744073709551614 bytes (16.0 EiB)"), std::string::npos) << m;
    EXPECT_EQ(format_bytes(1536), "1.50 KiB");
    EXPECT_EQ(format_bytes(512), "512 B");
    EXPECT_LT(available_memory().bytes, UINT64_MAX);  // Linux: /proc/meminfo is there
}

// Negative sampling flags used to be taken silently as greedy and as "all tokens".
TEST(BadInput, LmGenerateRefusesNegativeTemperatureAndTopK) {
    const std::string model = " --model " + kSrc + "/models/stories260K/stories260K.bin --tokenizer " + kSrc +
                              "/models/stories260K/tok512.bin --steps 3";
    expect_one_line_error(run("lm generate" + model + " --temperature -1"), {"--temperature", "-1", "out of range"});
    expect_one_line_error(run("lm generate" + model + " --top-k -5"), {"--top-k", "-5", "out of range"});
    expect_one_line_error(run("lm generate" + model + " --temperature 0.8 --top-k -1"), {"--top-k"});
    CliRun ok = run("lm generate" + model + " --temperature 0.8 --top-k 5 --ids");
    EXPECT_EQ(ok.rc, 0) << ok.err;
}

// Integers that do not fit the flag: out of range, never "not an integer" and never narrowed to another number
// (--k 4294967312 was taken as k = 16).
TEST(BadInput, IntegerFlagsOutOfRangeAreNamed) {
    const std::string out = out_dir("k");
    for (const char* k : {"99999999999999999999", "4294967312", "-99999999999999999999"}) {
        SCOPED_TRACE(k);
        CliRun r = run(std::string("sae train --input planted:d=16,features=32,p=0.1 --steps 2 --k ") + k + " --out " + out);
        expect_one_line_error(r, {"--k", "out of range"});
        EXPECT_EQ(r.err.find("not an integer"), std::string::npos) << r.err;
        EXPECT_FALSE(fs::exists(out));
    }
    expect_one_line_error(run("dict train planted:d=8,features=16,p=0.1 --solver omp --k 99999999999 --out " + out), {"--k", "out of range [1, "});
    expect_one_line_error(run("sae train --input planted:d=16,features=32,p=0.1 --k 0 --out " + out), {"--k", "0"});
    expect_one_line_error(run("toy train --features 99999999999 --out " + out), {"--features", "out of range"});
}
