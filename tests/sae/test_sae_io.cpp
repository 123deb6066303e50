// test_sae_io.cpp: SAELens layout round trip, imports (SAELens v6 / pre-6 configs, sparsify, Gemma Scope
// npz stored + deflated) against reference codes computed by tools/reference/sae_fixtures.py, corrupt
// inputs rejected with clear messages, and the `unfold sae` CLI end to end (skipped without the binary).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <unistd.h>

#include "../test_util.h"
#include "unfold/core/error.h"
#include "unfold/core/rng.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/io/npy.h"
#include "unfold/io/safetensors.h"
#include "unfold/io/shards.h"
#include "unfold/io/zip.h"
#include "unfold/sae/sae.h"

using namespace unfold;
using unfold_test::error_of;

namespace {

const std::string FIX = std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/sae";

std::string tmpdir(const std::string& name) {
    std::string d = std::string(::testing::TempDir()) + "unfold_saeio_" + name + "_" + std::to_string(::getpid());
    make_dirs(d);
    return d;
}

// Encodes the fixture's inputs and compares codes and reconstructions with the Python reference.
void check_against_reference(const std::string& name, const std::string& path, const char* want_format,
                             SaeArch want_arch) {
    Json ex = json_load(FIX + "/expected.json").at(name, "expected.json");
    std::string fmt;
    Sae s = sae_load(path, &fmt);
    EXPECT_EQ(fmt, want_format);
    EXPECT_EQ(s.cfg.arch, want_arch);
    const int64_t d = s.d(), F = s.F();
    const Json& X = ex.at("x", name);
    const int64_t B = (int64_t)X.size();
    std::vector<float> x((size_t)(B * d)), xh((size_t)(B * d));
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < d; j++) x[b * d + j] = (float)X.arr[b].arr[j].num;
    SparseCodes c;
    sae_encode(s, x.data(), B, c);
    sae_decode(s, c, xh.data());
    int nonzero = 0;
    for (int64_t b = 0; b < B; b++) {
        std::vector<float> f((size_t)F, 0.0f);
        for (int64_t p = c.off[b]; p < c.off[b + 1]; p++) f[c.idx[p]] = c.val[p];
        for (int64_t i = 0; i < F; i++) {
            double want = ex["f"].arr[b].arr[i].num;
            nonzero += want != 0;
            EXPECT_NEAR(f[i], want, 1e-4) << name << " row " << b << " latent " << i;
        }
        for (int64_t j = 0; j < d; j++) EXPECT_NEAR(xh[b * d + j], ex["xhat"].arr[b].arr[j].num, 1e-4) << name;
    }
    EXPECT_GT(nonzero, 0) << name;
}

}  // namespace

TEST(SaeImport, SaeLensTopK) {
    check_against_reference("saelens_topk", FIX + "/saelens_topk", "saelens", SaeArch::TOPK);
}
TEST(SaeImport, SaeLensJumpReluNoBdecSubtraction) {
    check_against_reference("saelens_jumprelu", FIX + "/saelens_jumprelu", "saelens", SaeArch::JUMPRELU);
}
TEST(SaeImport, SaeLensPre6FlatConfig) {
    check_against_reference("saelens_standard", FIX + "/saelens_standard", "saelens", SaeArch::STANDARD);
}
TEST(SaeImport, Sparsify) { check_against_reference("sparsify", FIX + "/sparsify", "sparsify", SaeArch::TOPK); }
TEST(SaeImport, GemmaScopeStoredNpz) {
    check_against_reference("gemmascope", FIX + "/gemmascope/params.npz", "gemmascope", SaeArch::JUMPRELU);
    check_against_reference("gemmascope", FIX + "/gemmascope", "gemmascope", SaeArch::JUMPRELU);  // folder form
}
TEST(SaeImport, GemmaScopeDeflatedNpz) {
    NpzArchive z(FIX + "/gemmascope_deflate/params.npz");
    bool any_deflate = false;
    for (const auto& m : z.members()) any_deflate |= m.method == 8;
    EXPECT_TRUE(any_deflate);  // the fixture really exercises the inflater
    check_against_reference("gemmascope_deflate", FIX + "/gemmascope_deflate/params.npz", "gemmascope",
                            SaeArch::JUMPRELU);
}

TEST(SaeIo, SaeLensRoundTripEveryArchitecture) {
    for (SaeArch a : {SaeArch::STANDARD, SaeArch::TOPK, SaeArch::BATCHTOPK, SaeArch::JUMPRELU}) {
        SaeConfig c;
        c.arch = a;
        c.d_in = 6;
        c.d_sae = 9;
        c.k = 3;
        c.apply_b_dec_to_input = a != SaeArch::JUMPRELU;
        Sae s = sae_init(c, 5, 1.0f);
        rng_fill_normal(s.b_enc(), 9, 1, 1, 0, 0.0f, 0.3f);
        rng_fill_normal(s.b_dec(), 6, 1, 2, 0, 0.0f, 0.3f);
        s.threshold = 0.25f;
        std::vector<float> sp(9, -2.5f);
        std::string d = tmpdir(std::string("rt_") + sae_arch_name(a));
        Json md = Json::object();
        md["hook_name"] = "blocks.3.hook_resid_post";
        sae_save(d, s, sp.data(), md);
        Json cfg = json_load(path_join(d, "cfg.json"));
        const char* want = a == SaeArch::TOPK ? "topk" : a == SaeArch::STANDARD ? "standard" : "jumprelu";
        EXPECT_EQ(cfg["architecture"].str, want);
        EXPECT_EQ(cfg["dtype"].str, "float32");
        EXPECT_EQ(cfg["device"].str, "cpu");
        EXPECT_EQ(cfg["d_in"].num, 6);
        EXPECT_EQ(cfg["d_sae"].num, 9);
        EXPECT_EQ(cfg["apply_b_dec_to_input"].b, c.apply_b_dec_to_input);
        EXPECT_EQ(cfg["normalize_activations"].str, "none");
        EXPECT_EQ(cfg["metadata"]["hook_name"].str, "blocks.3.hook_resid_post");
        if (a == SaeArch::TOPK) {
            EXPECT_EQ(cfg["k"].num, 3);
        }
        SafeTensorsReader w(path_join(d, "sae_weights.safetensors"));
        EXPECT_EQ(w.entry("W_enc").shape, (Shape{6, 9}));
        EXPECT_EQ(w.entry("W_dec").shape, (Shape{9, 6}));
        EXPECT_EQ(w.has("threshold"), a == SaeArch::BATCHTOPK || a == SaeArch::JUMPRELU);
        SafeTensorsReader spr(path_join(d, "sparsity.safetensors"));
        EXPECT_EQ(spr.read_f32("sparsity", {9})[4], -2.5f);
        Sae r = sae_load(d);
        EXPECT_EQ(0, std::memcmp(r.W_enc(), s.W_enc(), 6 * 9 * 4));
        EXPECT_EQ(0, std::memcmp(r.W_dec(), s.W_dec(), 6 * 9 * 4));
        EXPECT_EQ(0, std::memcmp(r.b_dec(), s.b_dec(), 6 * 4));
        // same codes on random inputs (BatchTopK comes back as JumpReLU with its threshold)
        std::vector<float> x(4 * 6);
        rng_fill_normal(x.data(), x.size(), 2, 2, 0, 0.0f, 1.0f);
        SparseCodes c1, c2;
        sae_encode(s, x.data(), 4, c1);
        sae_encode(r, x.data(), 4, c2);
        EXPECT_EQ(c1.idx, c2.idx) << sae_arch_name(a);
        ASSERT_EQ(c1.val.size(), c2.val.size());
        for (size_t i = 0; i < c1.val.size(); i++) EXPECT_FLOAT_EQ(c1.val[i], c2.val[i]);
    }
}

TEST(SaeIo, CorruptAndMismatchedFilesAreRejected) {
    // shape mismatch: cfg says d_sae 8, tensors are something else
    std::string d = tmpdir("badcfg");
    std::string src = FIX + "/saelens_topk";
    write_file_atomic(path_join(d, "sae_weights.safetensors"), read_file(path_join(src, "sae_weights.safetensors")));
    Json cfg = json_load(path_join(src, "cfg.json"));
    cfg["d_sae"] = 7;
    json_save(path_join(d, "cfg.json"), cfg);
    std::string e = error_of([&] { sae_load(d); });
    EXPECT_NE(e.find("W_enc"), std::string::npos) << e;
    EXPECT_NE(e.find("[5,7]"), std::string::npos) << e;
    // unsupported normalisation
    cfg["d_sae"] = 8;
    cfg["normalize_activations"] = "expected_average_only_in";
    json_save(path_join(d, "cfg.json"), cfg);
    e = error_of([&] { sae_load(d); });
    EXPECT_NE(e.find("normalize_activations"), std::string::npos) << e;
    // k out of range
    cfg["normalize_activations"] = "none";
    cfg["k"] = 99;
    json_save(path_join(d, "cfg.json"), cfg);
    e = error_of([&] { sae_load(d); });
    EXPECT_NE(e.find("k 99"), std::string::npos) << e;
    // a k beyond int is refused, not narrowed (2^32 + 3 was k = 3)
    cfg["k"] = ((int64_t)1 << 32) + 3;
    json_save(path_join(d, "cfg.json"), cfg);
    e = error_of([&] { sae_load(d); });
    EXPECT_NE(e.find("cfg.json: k is 4294967299, expected 1..16777216"), std::string::npos) << e;
    // truncated safetensors
    cfg["k"] = 3;
    json_save(path_join(d, "cfg.json"), cfg);
    std::string w = read_file(path_join(src, "sae_weights.safetensors"));
    write_file_atomic(path_join(d, "sae_weights.safetensors"), w.substr(0, w.size() - 10));
    e = error_of([&] { sae_load(d); });
    EXPECT_NE(e.find("sae_weights.safetensors"), std::string::npos) << e;
    // empty folder
    std::string empty = tmpdir("empty");
    e = error_of([&] { sae_load(empty); });
    EXPECT_NE(e.find("no SAE found"), std::string::npos) << e;

    // npz: flipped data byte -> CRC error; truncated -> clear error; not a zip
    std::string z = read_file(FIX + "/gemmascope/params.npz");
    std::string bad = z;
    bad[200] ^= 0x5A;
    write_file_atomic(path_join(d, "flip.npz"), bad);
    e = error_of([&] { sae_load(path_join(d, "flip.npz")); });
    EXPECT_FALSE(e.empty());
    EXPECT_NE(e.find("flip.npz"), std::string::npos) << e;
    write_file_atomic(path_join(d, "trunc.npz"), z.substr(0, z.size() / 2));
    e = error_of([&] { sae_load(path_join(d, "trunc.npz")); });
    EXPECT_NE(e.find("trunc.npz"), std::string::npos) << e;
    write_file_atomic(path_join(d, "text.npz"), std::string(100, 'x'));
    e = error_of([&] { sae_load(path_join(d, "text.npz")); });
    EXPECT_NE(e.find("not a zip file"), std::string::npos) << e;
    // deflate stream damage in the compressed fixture
    std::string zc = read_file(FIX + "/gemmascope_deflate/params.npz");
    int rejected = 0;
    for (size_t pos : {60u, 120u, 400u, 700u}) {
        std::string b2 = zc;
        b2[pos] ^= 0xFF;
        write_file_atomic(path_join(d, "defl.npz"), b2);
        rejected += !error_of([&] { sae_load(path_join(d, "defl.npz")); }).empty();
    }
    EXPECT_EQ(rejected, 4);
}

TEST(SaeZip, InflateAndCrcKnownVectors) {
    EXPECT_EQ(crc32_bytes((const uint8_t*)"123456789", 9), 0xCBF43926u);
    // fixed-Huffman block of "aaaaaaaaaa" as produced by zlib (raw deflate, level 9)
    const uint8_t defl[] = {0x4b, 0x4c, 0x84, 0x01, 0x00};
    std::string out = inflate_raw(defl, sizeof(defl), 10, "test");
    EXPECT_EQ(out, "aaaaaaaaaa");
    EXPECT_THROW(inflate_raw(defl, sizeof(defl), 9, "test"), Error);  // size mismatch is an error
    EXPECT_THROW(inflate_raw(defl, 2, 10, "test"), Error);            // truncated
}

TEST(SaeCli, TrainOnACacheFolderRecordsTheHook) {
    // an `unfold lm cache` folder says which model and hook its rows come from; the SAE trained on it
    // records that in cfg.json with SAELens' keys, so later commands take the hook from the SAE
    std::string bin = UNFOLD_BINARY;
    ASSERT_TRUE(file_exists(bin)) << "the unfold binary is missing: " << bin;
    std::string d = tmpdir("cachemeta");
    const int64_t dim = 8, n = 512;
    ShardWriterOptions so;
    so.d = dim;
    so.rows_per_shard = 256;
    so.meta = Json::object();
    so.meta["hook"] = "blocks.3.hook_resid_post";
    so.meta["context"] = 64;
    so.meta["prepend_bos"] = true;
    so.meta["model_path"] = "models/stories260K/stories260K.bin";
    {
        ShardWriter w(path_join(d, "acts"), so);
        Rng rng(4, 0);
        std::vector<float> x((size_t)(n * dim));
        for (auto& v : x) v = (float)rng.normal();
        w.append(x.data(), n);
        w.finish();
    }
    std::string run = path_join(d, "run");
    std::string cmd = bin + " sae train --input " + path_join(d, "acts") + " --arch topk --k 2 --latents 16 --steps 20 " +
                      "--batch 64 --eval-tokens 128 --threads 1 --quiet --out " + run + " > " + d + "/t.txt 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(d + "/t.txt");
    Sae s = sae_load(run);
    SaeHookInfo h = sae_hook_info(s);
    EXPECT_EQ(h.hook_name, "blocks.3.hook_resid_post");
    EXPECT_EQ(h.hook_layer, 3);
    EXPECT_EQ(h.context_size, 64);
    EXPECT_TRUE(h.prepend_bos);
    EXPECT_EQ(h.model_name, "models/stories260K/stories260K.bin");
    Json cfg = json_load(path_join(run, "cfg.json"));
    EXPECT_EQ(cfg["metadata"]["hook_name"].str, "blocks.3.hook_resid_post");
    // an SAE without the keys (planted data) knows no hook
    EXPECT_EQ(sae_hook_info(Sae()).hook_name, "");
}

TEST(SaeCli, TrainEvalEncodeDecodeReport) {
    std::string bin = UNFOLD_BINARY;
    ASSERT_TRUE(file_exists(bin)) << "the unfold binary is missing: " << bin;
    std::string d = tmpdir("cli");
    std::string run = path_join(d, "run");
    std::string cmd = bin + " sae train --input planted:d=16,features=32,p=0.08,seed=1 --arch topk --k 3 --latents 64 "
                            "--steps 150 --batch 256 --lr 3e-3 --eval-tokens 2048 --threads 1 --quiet --out " + run +
                      " > " + d + "/train.txt 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(d + "/train.txt");
    for (const char* f : {"cfg.json", "sae_weights.safetensors", "sparsity.safetensors", "metrics.json",
                          "checkpoint/state.bin"})
        EXPECT_TRUE(file_exists(path_join(run, f))) << f;
    Json m = json_load(path_join(run, "metrics.json"));
    EXPECT_GT(m["log"].size(), 1u);
    EXPECT_LT(m["eval"]["fvu"].num, 0.8);
    EXPECT_TRUE(m["eval"].has("ground_truth"));
    cmd = bin + " sae eval " + run + " --input planted:d=16,features=32,p=0.08,seed=1 --tokens 2048 --threads 1 --out " +
          d + "/eval.json > /dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    Json ev = json_load(d + "/eval.json");
    EXPECT_EQ(ev["format"].str, "saelens");
    EXPECT_NEAR(ev["l0"].num, 3.0, 0.01);
    // encode/decode a small .npy
    std::vector<float> x(20 * 16);
    rng_fill_uniform(x.data(), x.size(), 3, 3, 0, 0.0f, 1.0f);
    npy_save(d + "/acts.npy", {20, 16}, x.data());
    cmd = bin + " sae encode " + run + " --input " + d + "/acts.npy --out " + d + "/codes --quiet > /dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    cmd = bin + " sae decode " + run + " --codes " + d + "/codes --out " + d + "/recon.npy > /dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    Tensor rec = npy_load(d + "/recon.npy");
    EXPECT_EQ(rec.shape, (Shape{20, 16}));
    Sae s = sae_load(run);
    SparseCodes c;
    std::vector<float> xh(x.size());
    sae_encode(s, x.data(), 20, c);
    sae_decode(s, c, xh.data());
    for (size_t i = 0; i < xh.size(); i++) EXPECT_NEAR(rec[i], xh[i], 1e-5);
    // the same rows from a shard folder (3 shards) and from a safetensors tensor give the same codes
    {
        ShardWriterOptions so;
        so.d = 16;
        so.rows_per_shard = 7;
        ShardWriter w(d + "/shards", so);
        w.append(x.data(), 20);
        w.finish();
        safetensors_write(d + "/acts.safetensors", {{"acts", {20, 16}, x.data(), DType::F32}});
    }
    const std::string want_i = read_file(d + "/codes/indices.npy"), want_v = read_file(d + "/codes/values.npy");
    for (const std::string& in : {d + "/shards", d + "/acts.safetensors:acts"}) {
        cmd = bin + " sae encode " + run + " --input " + in + " --out " + d + "/codes2 --quiet > /dev/null 2>&1";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << in;
        EXPECT_EQ(read_file(d + "/codes2/indices.npy"), want_i) << in;
        EXPECT_EQ(read_file(d + "/codes2/values.npy"), want_v) << in;
    }
    cmd = bin + " sae encode " + run + " --input " + d + "/shards --rows 5 --out " + d + "/codes3 --quiet > /dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    EXPECT_EQ(npy_load(d + "/codes3/values.npy").shape[0], 5);
    cmd = bin + " sae encode " + run + " --input planted:d=16,features=32,p=0.08 --out " + d + "/codes4 > /dev/null 2>&1";
    EXPECT_NE(std::system(cmd.c_str()), 0);  // unbounded without --rows
    cmd = bin + " sae report " + run + " --input planted:d=16,features=32,p=0.08,seed=1 --tokens 2048 > /dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    std::string html = read_file(path_join(run, "report.html"));
    EXPECT_NE(html.find("<svg"), std::string::npos);
    EXPECT_NE(html.find("Learned vs true features"), std::string::npos);
    for (size_t p = html.find("http"); p != std::string::npos; p = html.find("http", p + 1))
        EXPECT_EQ(html.compare(p, 26, "http://www.w3.org/2000/svg"), 0) << "external resource in the report";
    // bad flags are one-line errors with exit code 1
    cmd = bin + " sae train --input planted:d=16 --arch nope --out " + d + "/x > " + d + "/err.txt 2>&1";
    EXPECT_NE(std::system(cmd.c_str()), 0);
    EXPECT_NE(read_file(d + "/err.txt").find("unknown SAE architecture"), std::string::npos);
}

// Gated SAE in SAELens' layout (sae_lens/saes/gated_sae.py, GatedSAE): cfg.json "architecture": "gated" and
// exactly the tensors W_enc [d, F], b_gate [F], r_mag [F], b_mag [F], W_dec [F, d], b_dec [d] (no b_enc:
// SAELens loads the state dict strictly). Reloading gives the same bits and the same codes.
TEST(SaeIo, GatedSaeLensRoundTrip) {
    for (bool apply : {true, false}) {
        SaeConfig c;
        c.arch = SaeArch::GATED;
        c.d_in = 6;
        c.d_sae = 9;
        c.apply_b_dec_to_input = apply;
        Sae s = sae_init(c, 5, 1.0f);
        rng_fill_normal(s.b_enc(), 9, 1, 1, 0, 0.0f, 0.3f);
        rng_fill_normal(s.b_dec(), 6, 1, 2, 0, 0.0f, 0.3f);
        rng_fill_normal(s.params.get("r_mag"), 9, 1, 3, 0, 0.0f, 0.5f);
        rng_fill_normal(s.params.get("b_mag"), 9, 1, 4, 0, 0.0f, 0.3f);
        std::string d = tmpdir(std::string("rt_gated_") + (apply ? "1" : "0"));
        sae_save(d, s, nullptr, Json::object());
        Json cfg = json_load(path_join(d, "cfg.json"));
        EXPECT_EQ(cfg["architecture"].str, "gated");
        EXPECT_EQ(cfg["apply_b_dec_to_input"].b, apply);
        EXPECT_EQ(cfg["metadata"]["unfold_architecture"].str, "gated");
        EXPECT_FALSE(cfg.has("k"));
        SafeTensorsReader w(path_join(d, "sae_weights.safetensors"));
        std::vector<std::string> names;
        for (const auto& e : w.entries()) names.push_back(e.name);
        std::sort(names.begin(), names.end());
        EXPECT_EQ(names, (std::vector<std::string>{"W_dec", "W_enc", "b_dec", "b_gate", "b_mag", "r_mag"}));
        EXPECT_EQ(w.entry("W_enc").shape, (Shape{6, 9}));
        EXPECT_EQ(w.entry("W_dec").shape, (Shape{9, 6}));
        for (const char* n : {"b_gate", "r_mag", "b_mag"}) EXPECT_EQ(w.entry(n).shape, (Shape{9})) << n;
        EXPECT_EQ(w.entry("b_dec").shape, (Shape{6}));
        EXPECT_EQ(w.read_f32("r_mag")[2], s.params.get("r_mag")[2]);
        EXPECT_EQ(w.read_f32("b_gate")[4], s.b_enc()[4]);
        std::string fmt;
        Sae r = sae_load(d, &fmt);
        EXPECT_EQ(fmt, "saelens");
        ASSERT_EQ(r.cfg.arch, SaeArch::GATED);
        EXPECT_EQ(r.cfg.apply_b_dec_to_input, apply);
        ASSERT_EQ(r.params.size(), s.params.size());
        EXPECT_EQ(0, std::memcmp(r.params.data.data(), s.params.data.data(), s.params.size() * 4));
        std::vector<float> x(40 * 6);
        rng_fill_normal(x.data(), x.size(), 2, 2, 0, 0.0f, 1.0f);
        SparseCodes c1, c2;
        sae_encode(s, x.data(), 40, c1);
        sae_encode(r, x.data(), 40, c2);
        EXPECT_GT(c1.off[40], 20);   // codes are not empty ...
        EXPECT_LT(c1.off[40], 300);  // ... and not all on: the gate closes some latents
        EXPECT_EQ(c1.off, c2.off);
        EXPECT_EQ(c1.idx, c2.idx);
        ASSERT_EQ(c1.val.size(), c2.val.size());
        EXPECT_EQ(0, std::memcmp(c1.val.data(), c2.val.data(), c1.val.size() * 4));
        // the codes are the gated formula, computed independently in double
        const float *We = s.W_enc(), *bg = s.b_enc(), *rm = s.params.get("r_mag"), *bm = s.params.get("b_mag");
        for (int64_t b = 0; b < 40; b++) {
            std::vector<double> f(9, 0.0);
            for (int64_t p = c1.off[b]; p < c1.off[b + 1]; p++) f[c1.idx[p]] = c1.val[p];
            for (int64_t i = 0; i < 9; i++) {
                double z = 0;
                for (int64_t j = 0; j < 6; j++) z += (x[b * 6 + j] - (apply ? s.b_dec()[j] : 0.0f)) * We[j * 9 + i];
                double g = z + bg[i], m = z * std::exp((double)rm[i]) + bm[i];
                EXPECT_NEAR(f[i], g > 0 ? std::max(m, 0.0) : 0.0, 1e-5) << b << " " << i;
            }
        }
    }
}

TEST(SaeIo, GatedMissingOrBadTensorsAreRejected) {
    SaeConfig c;
    c.arch = SaeArch::GATED;
    c.d_in = 4;
    c.d_sae = 5;
    Sae s = sae_init(c, 1, 1.0f);
    std::string d = tmpdir("gated_bad");
    sae_save(d, s, nullptr, Json::object());
    const std::string wp = path_join(d, "sae_weights.safetensors");
    std::vector<float> We(20, 0.1f), b5(5, 0.0f), Wd(20, 0.1f), b4(4, 0.0f), big(5, 0.0f);
    // r_mag missing
    safetensors_write(wp, {{"W_enc", {4, 5}, We.data()}, {"b_gate", {5}, b5.data()}, {"b_mag", {5}, b5.data()},
                           {"W_dec", {5, 4}, Wd.data()}, {"b_dec", {4}, b4.data()}});
    std::string e = error_of([&] { sae_load(d); });
    EXPECT_NE(e.find("r_mag"), std::string::npos) << e;
    EXPECT_NE(e.find("sae_weights.safetensors"), std::string::npos) << e;
    // b_enc instead of b_gate (a standard SAE's tensors under a gated cfg.json)
    safetensors_write(wp, {{"W_enc", {4, 5}, We.data()}, {"b_enc", {5}, b5.data()}, {"r_mag", {5}, b5.data()},
                           {"b_mag", {5}, b5.data()}, {"W_dec", {5, 4}, Wd.data()}, {"b_dec", {4}, b4.data()}});
    e = error_of([&] { sae_load(d); });
    EXPECT_NE(e.find("b_gate"), std::string::npos) << e;
    // r_mag of the wrong shape
    std::vector<float> r6(6, 0.0f);
    safetensors_write(wp, {{"W_enc", {4, 5}, We.data()}, {"b_gate", {5}, b5.data()}, {"r_mag", {6}, r6.data()},
                           {"b_mag", {5}, b5.data()}, {"W_dec", {5, 4}, Wd.data()}, {"b_dec", {4}, b4.data()}});
    e = error_of([&] { sae_load(d); });
    EXPECT_NE(e.find("r_mag"), std::string::npos) << e;
    EXPECT_NE(e.find("[6]"), std::string::npos) << e;
    // exp(r_mag) would overflow
    big[3] = 200.0f;
    safetensors_write(wp, {{"W_enc", {4, 5}, We.data()}, {"b_gate", {5}, b5.data()}, {"r_mag", {5}, big.data()},
                           {"b_mag", {5}, b5.data()}, {"W_dec", {5, 4}, Wd.data()}, {"b_dec", {4}, b4.data()}});
    e = error_of([&] { sae_load(d); });
    EXPECT_NE(e.find("latent 3"), std::string::npos) << e;
    EXPECT_NE(e.find("r_mag"), std::string::npos) << e;
}

TEST(SaeCli, GatedTrainEvalEncodeDecodeReport) {
    std::string bin = UNFOLD_BINARY;
    ASSERT_TRUE(file_exists(bin)) << "the unfold binary is missing: " << bin;
    std::string d = tmpdir("cli_gated");
    std::string run = path_join(d, "run");
    const std::string data = "planted:d=16,features=32,p=0.08,seed=1";
    std::string cmd = bin + " sae train --input " + data + " --arch gated --l1 1 --coef-warmup 50 --latents 64 "
                      "--steps 200 --batch 256 --lr 3e-3 --eval-tokens 2048 --threads 1 --quiet --out " + run +
                      " > " + d + "/train.txt 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(d + "/train.txt");
    Json cfg = json_load(path_join(run, "cfg.json"));
    EXPECT_EQ(cfg["architecture"].str, "gated");
    SafeTensorsReader w(path_join(run, "sae_weights.safetensors"));
    EXPECT_TRUE(w.has("b_gate") && w.has("r_mag") && w.has("b_mag") && !w.has("b_enc"));
    Json m = json_load(path_join(run, "metrics.json"));
    EXPECT_EQ(m["config"]["sae"]["arch"].str, "gated");
    EXPECT_FALSE(m["config"]["sae"]["unit_norm_decoder"].b);  // auto = free decoder norms for gated
    ASSERT_GT(m["log"].size(), 1u);
    EXPECT_GT(m["log"].arr.back()["aux"].num, 0.0);  // the auxiliary reconstruction is logged
    EXPECT_LT(m["eval"]["fvu"].num, 0.6);
    EXPECT_GT(m["eval"]["l0"].num, 0.5);
    EXPECT_LT(m["eval"]["l0"].num, 8.0);
    EXPECT_TRUE(m["eval"].has("ground_truth"));
    cmd = bin + " sae eval " + run + " --input " + data + " --tokens 2048 --threads 1 --out " + d +
          "/eval.json > /dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    Json ev = json_load(d + "/eval.json");
    EXPECT_EQ(ev["format"].str, "saelens");
    EXPECT_EQ(ev["architecture"].str, "gated");
    EXPECT_NEAR(ev["l0"].num, m["eval"]["l0"].num, 0.5);
    std::vector<float> x(20 * 16);
    rng_fill_uniform(x.data(), x.size(), 3, 3, 0, 0.0f, 1.0f);
    npy_save(d + "/acts.npy", {20, 16}, x.data());
    cmd = bin + " sae encode " + run + " --input " + d + "/acts.npy --out " + d + "/codes --quiet > /dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    cmd = bin + " sae decode " + run + " --codes " + d + "/codes --out " + d + "/recon.npy > /dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    Sae s = sae_load(run);
    ASSERT_EQ(s.cfg.arch, SaeArch::GATED);
    SparseCodes c;
    std::vector<float> xh(x.size());
    sae_encode(s, x.data(), 20, c);
    sae_decode(s, c, xh.data());
    EXPECT_GT(c.off[20], 0);
    std::vector<int64_t> I = npy_load_int(d + "/codes/indices.npy");
    Tensor V = npy_load(d + "/codes/values.npy");
    ASSERT_EQ(V.dim(0), 20);
    const int64_t K = V.dim(1);
    for (int64_t b = 0; b < 20; b++) {
        int64_t n = 0;
        for (int64_t q = 0; q < K; q++)
            if (I[b * K + q] >= 0) {
                const int64_t p = c.off[b] + n++;
                ASSERT_LT(p, c.off[b + 1]);
                EXPECT_EQ(I[b * K + q], c.idx[p]);
                EXPECT_EQ(V[b * K + q], c.val[p]);
            }
        EXPECT_EQ(n, c.off[b + 1] - c.off[b]);
    }
    Tensor rec = npy_load(d + "/recon.npy");
    ASSERT_EQ(rec.shape, (Shape{20, 16}));
    for (size_t i = 0; i < xh.size(); i++) EXPECT_NEAR(rec[i], xh[i], 1e-5);
    cmd = bin + " sae report " + run + " --input " + data + " --tokens 2048 > /dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    std::string html = read_file(path_join(run, "report.html"));
    EXPECT_NE(html.find("gated"), std::string::npos);
    EXPECT_NE(html.find("Learned vs true features"), std::string::npos);
}
