// test_saelens_batchtopk.cpp: SAELens' training-format BatchTopK folders (BatchTopKTrainingSAE.save_model in
// sae-lens 6.54.12, written by SAELens itself: tools/reference/saelens_batchtopk_fixture.py ->
// tests/fixtures/sae/saelens_batchtopk/) load as SAELens' TrainingSAE.load_from_disk loads them:
//   - architecture BATCHTOPK, k from cfg.json, the scalar float64 topk_threshold as the inference threshold;
//   - the batch top-k of unfold's training forward keeps exactly the latents SAELens' loaded TrainingSAE keeps
//     (k * rows over the whole batch) with its values (1e-5);
//   - unfold's inference encode/decode equals SAELens' inference form (save_inference_model -> JumpReLU with
//     threshold = topk_threshold) within 1e-5, same active latents per row; with rescale_acts_by_decoder_norm
//     too (decoder norms folded, threshold kept);
//   - broken folders fail with one line naming the file and field.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "../test_util.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/io/npy.h"
#include "unfold/io/safetensors.h"
#include "unfold/sae/sae.h"

using namespace unfold;
using unfold_test::error_of;
namespace fs = std::filesystem;

namespace {

const std::string DIR = std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/sae/saelens_batchtopk";

// max |codes - dense ref| and the number of rows whose active set differs
void compare_codes(const SparseCodes& c, const Tensor& ref, double& max_diff, int& set_mismatch, int64_t& active) {
    const int64_t B = ref.dim(0), F = ref.dim(1);
    max_diff = 0;
    set_mismatch = 0;
    active = 0;
    ASSERT_EQ(c.rows, B);
    for (int64_t b = 0; b < B; b++) {
        std::vector<float> dense((size_t)F, 0.0f);
        for (int64_t j = c.off[b]; j < c.off[b + 1]; j++) dense[(size_t)c.idx[j]] = c.val[j];
        bool same = true;
        for (int64_t i = 0; i < F; i++) {
            const float r = ref[b * F + i];
            active += r != 0.0f;
            same &= (r != 0.0f) == (dense[(size_t)i] != 0.0f);
            max_diff = std::max(max_diff, (double)std::fabs(r - dense[(size_t)i]));
        }
        set_mismatch += !same;
    }
}

void check_folder(const std::string& name) {
    const std::string dir = DIR + "/" + name;
    std::string fmt;
    Sae s = sae_load(dir, &fmt);
    EXPECT_EQ(s.cfg.arch, SaeArch::BATCHTOPK) << name;
    EXPECT_EQ(s.cfg.k, 4);
    EXPECT_EQ(s.d(), 16);
    EXPECT_EQ(s.F(), 48);
    EXPECT_TRUE(s.cfg.apply_b_dec_to_input);
    SafeTensorsReader w(dir + "/sae_weights.safetensors");
    EXPECT_EQ(s.threshold, w.read_f32("topk_threshold")[0]) << name;
    EXPECT_GT(s.threshold, 0.5f);  // a real threshold, not the default 0

    Tensor x = npy_load(dir + "/x.npy"), ref = npy_load(dir + "/codes.npy"), ref_batch = npy_load(dir + "/codes_batch.npy"),
           rec = npy_load(dir + "/recon.npy");
    const int64_t B = x.dim(0);
    double d_inf = 0, d_batch = 0;
    int mis_inf = 0, mis_batch = 0;
    int64_t act_inf = 0, act_batch = 0;
    // inference: SAELens' JumpReLU form
    SparseCodes codes;
    sae_encode(s, x.ptr(), B, codes);
    compare_codes(codes, ref, d_inf, mis_inf, act_inf);
    std::vector<float> xh((size_t)(B * s.d()));
    sae_decode(s, codes, xh.data());
    double d_rec = 0;
    for (int64_t i = 0; i < rec.numel(); i++) d_rec = std::max(d_rec, (double)std::fabs(xh[(size_t)i] - rec[i]));
    // training: the batch top-k of SAELens' TrainingSAE.encode
    SaeWork work;
    sae_forward_backward(s, x.ptr(), B, work, false, 1.0f, nullptr, nullptr);
    compare_codes(work.codes, ref_batch, d_batch, mis_batch, act_batch);

    EXPECT_EQ(act_batch, 4 * B) << name << ": the fixture keeps k * rows latents";
    EXPECT_GT(act_inf, B) << name;
    EXPECT_LT(act_inf, B * s.F() / 4) << name;
    EXPECT_EQ(mis_inf, 0) << name << ": rows whose active latents differ from SAELens' inference SAE";
    EXPECT_EQ(mis_batch, 0) << name << ": rows whose active latents differ from SAELens' batch top-k";
    EXPECT_LT(d_inf, 1e-5) << name;
    EXPECT_LT(d_batch, 1e-5) << name;
    EXPECT_LT(d_rec, 1e-5) << name;
    std::printf("%s (%s): threshold %.6f; inference codes max|d| %.3g (%lld active), batch top-k max|d| %.3g, "
                "recon max|d| %.3g\n",
                name.c_str(), fmt.c_str(), (double)s.threshold, d_inf, (long long)act_inf, d_batch, d_rec);
}

// a copy of the batchtopk fixture folder with cfg.json edited by `edit`
std::string edited_copy(const std::string& tag, void (*edit)(Json&)) {
    const std::string out = (fs::temp_directory_path() / ("unfold_btk_" + tag + "_" + std::to_string(getpid()))).string();
    fs::remove_all(out);
    fs::create_directories(out);
    fs::copy_file(DIR + "/batchtopk/sae_weights.safetensors", out + "/sae_weights.safetensors");
    Json cfg = json_load(DIR + "/batchtopk/cfg.json");
    edit(cfg);
    write_file_atomic(out + "/cfg.json", cfg.dump());
    return out;
}

}  // namespace

TEST(SaeLensBatchTopK, TrainingFolder) { check_folder("batchtopk"); }

TEST(SaeLensBatchTopK, TrainingFolderRescaledByDecoderNorm) { check_folder("batchtopk_rescaled"); }

TEST(SaeLensBatchTopK, FractionalKLoadsAndIsRecorded) {
    const std::string d = edited_copy("frac", [](Json& c) { c["k"] = 3.6; });
    Sae s = sae_load(d);
    EXPECT_EQ(s.cfg.k, 4);
    ASSERT_NE(s.metadata.find("saelens_k"), nullptr);
    EXPECT_DOUBLE_EQ(s.metadata.find("saelens_k")->num, 3.6);
    fs::remove_all(d);
}

TEST(SaeLensBatchTopK, BrokenFoldersFailWithOneLine) {
    const std::string d1 = edited_copy("negk", [](Json& c) { c["k"] = -2; });
    std::string e = error_of([&] { sae_load(d1); });
    EXPECT_NE(e.find("cfg.json: k: expected a positive number"), std::string::npos) << e;
    fs::remove_all(d1);
    const std::string d2 = edited_copy("nok", [](Json& c) {
        for (size_t i = 0; i < c.obj.size(); i++)
            if (c.obj[i].first == "k") c.obj.erase(c.obj.begin() + (long)i);
    });
    e = error_of([&] { sae_load(d2); });
    EXPECT_NE(e.find("cfg.json"), std::string::npos) << e;
    EXPECT_NE(e.find("k"), std::string::npos) << e;
    fs::remove_all(d2);
    // a weights file without topk_threshold: the tensor is named
    const std::string d3 = edited_copy("noth", [](Json&) {});
    {
        SafeTensorsReader r(DIR + "/batchtopk/sae_weights.safetensors");
        std::vector<StWriteTensor> keep;
        std::vector<Tensor> store;
        for (const char* n : {"W_enc", "b_enc", "W_dec", "b_dec"}) store.push_back(r.read_f32(n));
        const char* names[] = {"W_enc", "b_enc", "W_dec", "b_dec"};
        for (size_t i = 0; i < store.size(); i++) keep.push_back({names[i], store[i].shape, store[i].ptr()});
        safetensors_write(d3 + "/sae_weights.safetensors", keep);
    }
    e = error_of([&] { sae_load(d3); });
    EXPECT_NE(e.find("topk_threshold"), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    fs::remove_all(d3);
}
