// test_saelens_written.cpp: unfold reads SAE folders written by SAELens itself (SAE.save_model in
// sae-lens 6.54.12, tools/reference/saelens_written_fixtures.py -> tests/fixtures/sae/saelens_written/)
// and computes SAELens' own outputs: for each architecture (standard, topk k=4, jumprelu, gated; with
// apply_b_dec_to_input both true and false) sae_load must accept the folder unchanged, read the config
// (architecture, d_in, d_sae, k, apply_b_dec_to_input as cfg.json says), and sae_encode / sae_decode on
// the stored x [20, 16] must reproduce SAELens' encode(x) [20, 48] and decode(codes) [20, 16] within 1e-5,
// with exactly the same active latents per row. The fixtures are checked to be non-trivial (some, not all,
// latents active in every row). topk_rescaled (rescale_acts_by_decoder_norm = true) must match too: sae_load
// folds the decoder norms into the weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <unistd.h>

#include "../test_util.h"
#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/io/npy.h"
#include "unfold/sae/sae.h"

using namespace unfold;
using unfold_test::error_of;

namespace {

const std::string DIR = std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/sae/saelens_written";
constexpr double TOL = 1e-5;

// What unfold computes for one fixture folder, next to SAELens' reference.
struct Comparison {
    int64_t B = 0, F = 0, d = 0;
    double max_code_diff = 0, max_recon_diff = 0, max_recon_from_ref_diff = 0;
    int64_t ref_active = 0;           // nonzero entries of codes.npy
    int rows_set_mismatch = 0;        // rows whose active latent set differs from SAELens'
    std::string first_set_mismatch;   // "row r: unfold {..} vs SAELens {..}"
    int min_row_active = 1 << 30, max_row_active = 0;
};

std::string set_str(const std::vector<int32_t>& v) {
    std::string s = "{";
    for (size_t i = 0; i < v.size(); i++) {
        if (i) s += ',';
        s += std::to_string(v[i]);
    }
    s += '}';
    return s;
}

// Loads x / codes / recon, encodes and decodes with unfold and measures the differences.
Comparison compare(const Sae& s, const std::string& dir) {
    Comparison c;
    Tensor x = npy_load(dir + "/x.npy"), ref = npy_load(dir + "/codes.npy"), rec = npy_load(dir + "/recon.npy");
    c.d = s.d();
    c.F = s.F();
    c.B = x.dim(0);
    EXPECT_EQ(x.shape, (Shape{c.B, c.d})) << dir << "/x.npy";
    EXPECT_EQ(ref.shape, (Shape{c.B, c.F})) << dir << "/codes.npy";
    EXPECT_EQ(rec.shape, (Shape{c.B, c.d})) << dir << "/recon.npy";
    if (x.shape != Shape{c.B, c.d} || ref.shape != Shape{c.B, c.F} || rec.shape != Shape{c.B, c.d}) return c;

    SparseCodes codes;
    sae_encode(s, x.ptr(), c.B, codes);
    EXPECT_EQ(codes.rows, c.B);
    EXPECT_EQ((int64_t)codes.off.size(), c.B + 1);
    std::vector<float> xh((size_t)(c.B * c.d));
    sae_decode(s, codes, xh.data());

    SparseCodes refc;  // SAELens' codes as CSR, to test decoding on its own
    refc.rows = c.B;
    refc.off.assign((size_t)c.B + 1, 0);
    for (int64_t b = 0; b < c.B; b++) {
        std::vector<float> dense((size_t)c.F, 0.0f);
        std::vector<int32_t> mine, theirs;
        for (int64_t p = codes.off[b]; p < codes.off[b + 1]; p++) {
            const int32_t i = codes.idx[p];
            EXPECT_TRUE(i >= 0 && i < c.F) << dir << " row " << b << ": latent index " << i;
            if (i < 0 || i >= c.F) continue;
            EXPECT_EQ(dense[i], 0.0f) << dir << " row " << b << ": latent " << i << " listed twice";
            dense[i] = codes.val[p];
            if (codes.val[p] != 0.0f) mine.push_back(i);
        }
        for (int64_t i = 0; i < c.F; i++) {
            const float want = ref[b * c.F + i];
            c.max_code_diff = std::max(c.max_code_diff, (double)std::fabs(dense[i] - want));
            if (want != 0.0f) {
                theirs.push_back((int32_t)i);
                refc.idx.push_back((int32_t)i);
                refc.val.push_back(want);
            }
        }
        refc.off[b + 1] = (int64_t)refc.idx.size();
        std::sort(mine.begin(), mine.end());
        c.ref_active += (int64_t)theirs.size();
        c.min_row_active = std::min(c.min_row_active, (int)theirs.size());
        c.max_row_active = std::max(c.max_row_active, (int)theirs.size());
        if (mine != theirs) {
            if (c.rows_set_mismatch == 0)
                c.first_set_mismatch = "row " + std::to_string(b) + ": unfold " + set_str(mine) + " vs SAELens " +
                                       set_str(theirs);
            c.rows_set_mismatch++;
        }
        for (int64_t j = 0; j < c.d; j++)
            c.max_recon_diff = std::max(c.max_recon_diff, (double)std::fabs(xh[b * c.d + j] - rec[b * c.d + j]));
    }
    std::vector<float> xr((size_t)(c.B * c.d));
    sae_decode(s, refc, xr.data());
    for (int64_t p = 0; p < c.B * c.d; p++)
        c.max_recon_from_ref_diff = std::max(c.max_recon_from_ref_diff, (double)std::fabs(xr[p] - rec[p]));
    return c;
}

std::string describe(const std::string& name, const Comparison& c) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s: active %.3f of latents (rows %d..%d of %lld); max |codes diff| %.3g; rows with another "
                  "active set %d/%lld; max |recon diff| %.3g (decoding SAELens' codes: %.3g)",
                  name.c_str(), (double)c.ref_active / (double)(c.B * c.F), c.min_row_active, c.max_row_active,
                  (long long)c.F, c.max_code_diff, c.rows_set_mismatch, (long long)c.B, c.max_recon_diff,
                  c.max_recon_from_ref_diff);
    return buf + (c.first_set_mismatch.empty() ? std::string() : "; first: " + c.first_set_mismatch);
}

// Loads fixture `name`, checks the config against cfg.json and the numbers against SAELens'.
void check_folder(const std::string& name, SaeArch want_arch, int want_k) {
    const std::string dir = DIR + "/" + name;
    std::string fmt;
    Sae s;
    try {
        s = sae_load(dir, &fmt);
    } catch (const Error& e) {
        FAIL() << "unfold cannot load the SAELens-written folder " << dir << ": " << e.what();
    }
    const Json cfg = json_load(dir + "/cfg.json");
    EXPECT_EQ(fmt, "saelens") << name;
    EXPECT_EQ(cfg.get_str("architecture", ""), sae_arch_name(want_arch)) << name << ": fixture cfg.json";
    EXPECT_EQ(s.cfg.arch, want_arch) << name << ": loaded " << sae_arch_name(s.cfg.arch);
    EXPECT_EQ(s.cfg.d_in, 16) << name;
    EXPECT_EQ(s.cfg.d_sae, 48) << name;
    EXPECT_EQ(s.cfg.d_in, cfg.get_int("d_in", -1)) << name;
    EXPECT_EQ(s.cfg.d_sae, cfg.get_int("d_sae", -1)) << name;
    ASSERT_TRUE(cfg.has("apply_b_dec_to_input")) << name;
    EXPECT_EQ(s.cfg.apply_b_dec_to_input, cfg.get_bool("apply_b_dec_to_input", !s.cfg.apply_b_dec_to_input))
        << name;
    if (want_arch == SaeArch::TOPK) {
        EXPECT_EQ(s.cfg.k, want_k) << name;
        EXPECT_EQ(cfg.get_int("k", -1), want_k) << name << ": fixture cfg.json";
    }

    const Comparison c = compare(s, dir);
    const std::string what = describe(name, c);
    std::printf("[ saelens  ] %s\n", what.c_str());
    // the fixture must exercise the activation: some but not all latents active in every row
    EXPECT_GT(c.min_row_active, 0) << what;
    EXPECT_LT(c.max_row_active, c.F) << what;
    if (want_arch == SaeArch::TOPK) {
        EXPECT_LE(c.max_row_active, want_k) << what;
    }
    EXPECT_LE(c.max_code_diff, TOL) << what;
    EXPECT_EQ(c.rows_set_mismatch, 0) << what;
    EXPECT_LE(c.max_recon_diff, TOL) << what;
    EXPECT_LE(c.max_recon_from_ref_diff, TOL) << what;
}

}  // namespace

TEST(SaeLensWritten, Standard) { check_folder("standard", SaeArch::STANDARD, 0); }
TEST(SaeLensWritten, TopK) { check_folder("topk", SaeArch::TOPK, 4); }
TEST(SaeLensWritten, JumpReLU) { check_folder("jumprelu", SaeArch::JUMPRELU, 0); }
TEST(SaeLensWritten, Gated) { check_folder("gated", SaeArch::GATED, 0); }

// Both settings of apply_b_dec_to_input are covered by the fixtures above (guards against a fixture
// regeneration that silently drops one of them).
TEST(SaeLensWritten, FixturesCoverBothBDecSettings) {
    int on = 0, off = 0;
    for (const char* n : {"standard", "topk", "jumprelu", "gated"}) {
        const Json cfg = json_load(DIR + "/" + n + "/cfg.json");
        (cfg.get_bool("apply_b_dec_to_input", true) ? on : off)++;
    }
    EXPECT_GT(on, 0);
    EXPECT_GT(off, 0);
}

// SAELens TopK with rescale_acts_by_decoder_norm = true selects and scales codes by decoder row norms (and
// divides by them when decoding); sae_load folds the norms into the weights, which must give SAELens' codes.
TEST(SaeLensWritten, TopKRescaledByDecoderNorm) {
    const std::string dir = DIR + "/topk_rescaled";
    ASSERT_TRUE(json_load(dir + "/cfg.json").get_bool("rescale_acts_by_decoder_norm", false)) << dir;
    Sae s = sae_load(dir);
    const Comparison c = compare(s, dir);
    const std::string what = describe("topk_rescaled", c);
    std::printf("[ saelens  ] %s\n", what.c_str());
    ASSERT_GT(c.ref_active, 0) << what;
    EXPECT_LE(c.max_code_diff, TOL) << what;
    EXPECT_EQ(c.rows_set_mismatch, 0) << what;
    EXPECT_LE(c.max_recon_diff, TOL) << what;
}

// The option exists only for TopK in SAELens; on another architecture the folder is refused by name.
TEST(SaeLensWritten, RescaleOnAnotherArchitectureIsRefused) {
    const std::string dir = "/tmp/unfold_test_saelens_written_" + std::to_string(::getpid());
    make_dirs(dir);
    Json cfg = json_load(DIR + "/standard/cfg.json");
    cfg["rescale_acts_by_decoder_norm"] = Json(true);
    json_save(dir + "/cfg.json", cfg);
    write_file_atomic(dir + "/sae_weights.safetensors", read_file(DIR + "/standard/sae_weights.safetensors"));
    const std::string e = error_of([&] { sae_load(dir); });
    EXPECT_NE(e.find("rescale_acts_by_decoder_norm is only defined for topk"), std::string::npos) << e;
    std::filesystem::remove_all(dir);
}
