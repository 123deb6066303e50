// test_decoder_map.cpp: the decoder map of SAEs: SAEs trained on planted clustered features keep each cluster
// together in 2-D, feature families find a small SAE's children (trained SAEs: the features of its cluster;
// perturbed copies: each copy first, with the right cosine), same seed same map, one-line errors for bad
// inputs, densities and labels from a features database, the page (self-contained, escaped, balanced) and
// `unfold sae map` end to end.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <vector>

#include "../test_util.h"
#include "unfold/core/rng.h"
#include "unfold/data/source.h"
#include "unfold/data/synth.h"
#include "unfold/features/feature_db.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/map/decoder_map.h"
#include "unfold/sae/sae.h"
#include "unfold/sae/sae_train.h"
#include "unfold/viz/html.h"

using namespace unfold;
using unfold_test::error_of;
namespace fs = std::filesystem;

namespace {

std::string tmp_dir(const std::string& name) {
    std::string p = (fs::temp_directory_path() / ("unfold_test_map_" + std::to_string(getpid()) + "_" + name)).string();
    fs::remove_all(p);
    return p;
}

MapInput input_of(const std::string& name, int64_t F, int64_t d, const std::vector<float>& W) {
    MapInput in;
    in.name = name;
    in.d_sae = F;
    in.d_in = d;
    in.W_dec = W;
    return in;
}

std::vector<float> random_unit_rows(int64_t n, int64_t d, uint64_t seed) {
    std::vector<float> W((size_t)(n * d));
    rng_fill_normal(W.data(), W.size(), seed, 1, 0, 0.0f, 1.0f);
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t t = 0; t < d; t++) s += (double)W[(size_t)(i * d + t)] * W[(size_t)(i * d + t)];
        for (int64_t t = 0; t < d; t++) W[(size_t)(i * d + t)] = (float)(W[(size_t)(i * d + t)] / std::sqrt(s));
    }
    return W;
}

double cosd(const float* a, const float* b, int64_t d) {
    double s = 0, na = 0, nb = 0;
    for (int64_t t = 0; t < d; t++) s += (double)a[t] * b[t], na += (double)a[t] * a[t], nb += (double)b[t] * b[t];
    return s / std::sqrt(na * nb);
}

// the planted cluster of each decoder row whose best true feature has cosine >= min_cos (else -1)
std::vector<int64_t> matched_clusters(const Sae& s, const Planted& p, double min_cos) {
    std::vector<int64_t> lab((size_t)s.F(), -1);
    for (int64_t f = 0; f < s.F(); f++) {
        double best = -2;
        int64_t bi = -1;
        for (int64_t i = 0; i < p.cfg.n_true; i++) {
            const double c = cosd(s.W_dec() + f * s.d(), p.G.ptr() + i * s.d(), s.d());
            if (c > best) best = c, bi = i;
        }
        if (best >= min_cos) lab[(size_t)f] = planted_cluster(p.cfg, bi);
    }
    return lab;
}

// the cluster whose centre is closest to each row (cosine >= min_cos, else -1)
std::vector<int64_t> centre_clusters(const Sae& s, const PlantedConfig& pc, double min_cos) {
    const Tensor C = planted_cluster_centres(pc);
    std::vector<int64_t> lab((size_t)s.F(), -1);
    for (int64_t f = 0; f < s.F(); f++) {
        double best = -2;
        int64_t bi = -1;
        for (int64_t k = 0; k < pc.clusters; k++) {
            const double c = cosd(s.W_dec() + f * s.d(), C.ptr() + k * s.d(), s.d());
            if (c > best) best = c, bi = k;
        }
        if (best >= min_cos) lab[(size_t)f] = bi;
    }
    return lab;
}

Sae train(const std::string& spec, SaeArch arch, int64_t latents, int k, int64_t steps) {
    SaeTrainConfig c;
    c.sae.arch = arch;
    c.sae.d_sae = latents;
    c.sae.k = k;
    c.sae.l1_coef = 1.0f;
    c.coef_warmup_steps = 100;
    c.steps = steps;
    c.batch = 1024;
    c.lr = 3e-3f;
    c.seed = 0;
    SourceOptions so;
    auto src = open_source(spec, so);
    SaeTrainOptions o;
    o.ctx = Context::silent();
    o.ctx.threads = 2;
    o.eval_tokens = 0;
    return sae_train(c, *src, o).sae;
}

}  // namespace

// The headline: two SAEs trained on the same planted activations, whose 128 true features come in 8 clusters
// (within-cluster cosine ~0.5). The large SAE learns the features, the small one roughly the cluster centres.
TEST(DecoderMap, TrainedSaesKeepClustersTogetherAndFamiliesAreTheClusters) {
    const std::string spec = "planted:d=32,features=128,p=0.03,clusters=8,spread=1.0,seed=5";
    const PlantedConfig pc = parse_planted_spec(spec);
    const Planted p = planted_make(pc);
    const Sae large = train(spec, SaeArch::GATED, 256, 0, 1200);
    const Sae small = train(spec, SaeArch::TOPK, 8, 1, 600);
    const std::vector<int64_t> lab_large = matched_clusters(large, p, 0.9);
    const std::vector<int64_t> lab_small = centre_clusters(small, pc, 0.8);
    int64_t n_large = 0, n_small = 0;
    for (int64_t l : lab_large) n_large += l >= 0;
    for (int64_t l : lab_small) n_small += l >= 0;
    std::printf("large SAE: %lld of %lld latents match a true feature (cos >= 0.9); small SAE: %lld of %lld match a "
                "cluster centre (cos >= 0.8)\n",
                (long long)n_large, (long long)large.F(), (long long)n_small, (long long)small.F());
    ASSERT_GE(n_large, 90);  // the SAE learned most of the 128 features (112 here)
    ASSERT_GE(n_small, 4);  // 6 here

    DecoderMapOptions o;
    o.umap.seed = 2;
    o.family_k = 5;
    DecoderMap m = decoder_map({map_input_from_sae(small, "small"), map_input_from_sae(large, "large")}, o);
    ASSERT_EQ(m.saes.size(), 2u);
    ASSERT_EQ(m.families.size(), 1u);
    EXPECT_EQ(m.families[0].small, 0);
    EXPECT_EQ(m.families[0].large, 1);
    // layout: the large SAE's matched latents, labelled by their true feature's cluster
    const MapSae& L = m.saes[1];
    std::vector<float> Y;
    std::vector<int64_t> lab;
    for (size_t i = 0; i < L.feature.size(); i++) {
        Y.push_back(L.x[i]);
        Y.push_back(L.y[i]);
        lab.push_back(lab_large[(size_t)L.feature[i]]);
    }
    std::map<int64_t, double> cnt;
    double tot = 0;
    for (int64_t l : lab)
        if (l >= 0) cnt[l]++, tot++;
    double chance = 0;
    for (auto& kv : cnt) chance += (kv.second / tot) * (kv.second / tot);
    const double np = neighbour_preservation(Y, lab, 10);
    std::printf("neighbour preservation of the trained SAE's layout: %.3f (chance %.3f)\n", np, chance);
    EXPECT_GT(np, 0.85);
    EXPECT_LT(chance, 0.2);
    // families: a small latent near a cluster centre splits into latents of that cluster
    int64_t members = 0, same = 0;
    for (int64_t f = 0; f < small.F(); f++) {
        if (lab_small[(size_t)f] < 0) continue;
        const auto& fam = m.families[0].members[(size_t)f];
        ASSERT_EQ(fam.size(), 5u);
        for (size_t q = 0; q + 1 < fam.size(); q++) EXPECT_GE(fam[q].cosine, fam[q + 1].cosine);
        for (const MapFamilyMember& mm : fam) {
            const int64_t c = lab_large[(size_t)mm.feature];
            if (c < 0) continue;
            members++;
            same += c == lab_small[(size_t)f];
        }
    }
    std::printf("family members in the small feature's own cluster: %lld of %lld\n", (long long)same,
                (long long)members);
    ASSERT_GE(members, 15);  // 26 here
    EXPECT_GE((double)same / members, 0.9);
}

// A large dictionary holding perturbed copies of the small one's directions (at shuffled positions, among
// random others): every small feature's first family member is its copy, with the cosine computed here.
TEST(DecoderMap, FamiliesFindPerturbedCopiesWithTheirCosines) {
    const int64_t d = 48, Fs = 64, Fl = 320;
    const std::vector<float> S = random_unit_rows(Fs, d, 11);
    std::vector<float> L = random_unit_rows(Fl, d, 12);
    std::vector<uint32_t> perm((size_t)Fl);
    Rng rng(13, 0);
    rng_permutation(perm.data(), perm.size(), rng);
    std::vector<float> noise((size_t)(Fs * d));
    rng_fill_normal(noise.data(), noise.size(), 14, 0, 0, 0.0f, 0.03f);
    std::vector<int64_t> copy_of((size_t)Fs);
    for (int64_t f = 0; f < Fs; f++) {
        const int64_t at = perm[(size_t)f];
        copy_of[(size_t)f] = at;
        for (int64_t t = 0; t < d; t++)
            L[(size_t)(at * d + t)] = 1.7f * (S[(size_t)(f * d + t)] + noise[(size_t)(f * d + t)]);  // any norm
    }
    DecoderMapOptions o;
    o.family_k = 3;
    DecoderMap m = decoder_map({input_of("big", Fl, d, L), input_of("small", Fs, d, S)}, o);
    ASSERT_EQ(m.families.size(), 1u);
    const MapFamilies& fam = m.families[0];
    EXPECT_EQ(fam.small, 1);  // ordered by size, whatever the order given
    EXPECT_EQ(fam.large, 0);
    double worst = 1;
    for (int64_t f = 0; f < Fs; f++) {
        const auto& mem = fam.members[(size_t)f];
        ASSERT_EQ(mem.size(), 3u);
        const int64_t at = copy_of[(size_t)f];
        EXPECT_EQ(mem[0].feature, at) << "feature " << f;
        const double c = cosd(S.data() + f * d, L.data() + at * d, d);
        EXPECT_NEAR(mem[0].cosine, c, 1e-5);
        worst = std::min(worst, c);
        // the other members are random directions: far below the copy
        EXPECT_LT(mem[1].cosine, 0.7);
        EXPECT_NEAR(mem[1].cosine, cosd(S.data() + f * d, L.data() + (int64_t)mem[1].feature * d, d), 1e-5);
        // and the copy's parent is the original
        EXPECT_EQ(fam.parent[(size_t)at].feature, f);
        EXPECT_NEAR(fam.parent[(size_t)at].cosine, c, 1e-5);
    }
    EXPECT_GT(worst, 0.9);
    // JSON carries the same
    const Json j = decoder_map_json(m);
    const Json& jf = j.at("families", "").arr[0];
    EXPECT_EQ(jf.at("small_name", "").as_str(""), "small");
    EXPECT_EQ(jf.at("features", "").size(), (size_t)Fs);
    const Json& f0 = jf.at("features", "").arr[0];
    EXPECT_EQ(f0.at("feature", "").as_int(""), 0);
    EXPECT_EQ(f0.at("members", "").arr[0].at("feature", "").as_int(""), copy_of[0]);
    EXPECT_NEAR(f0.at("members", "").arr[0].at("cosine", "").as_num(""), cosd(S.data(), L.data() + copy_of[0] * d, d), 2e-6);
    EXPECT_EQ(j.at("saes", "").arr[0].at("layout", "").at("x", "").size(), (size_t)Fl);
}

TEST(DecoderMap, SameSeedSameMapOtherSeedOtherLayout) {
    PlantedConfig pc;
    pc.d = 24;
    pc.n_true = 300;
    pc.clusters = 6;
    pc.seed = 4;
    const Planted p = planted_make(pc);
    std::vector<float> G(p.G.ptr(), p.G.ptr() + p.G.numel());
    std::vector<float> half(G.begin(), G.begin() + 100 * 24);
    auto run = [&](uint64_t seed, int threads) {
        DecoderMapOptions o;
        o.umap.seed = seed;
        o.ctx.threads = threads;
        DecoderMap m = decoder_map({input_of("a", 300, 24, G), input_of("b", 100, 24, half)}, o);
        Json j = decoder_map_json(m);
        j.obj.erase(std::remove_if(j.obj.begin(), j.obj.end(), [](const auto& kv) { return kv.first == "timings_s"; }),
                    j.obj.end());
        return std::make_pair(j.dump(-1), decoder_map_html(m, MapHtmlOptions{}));
    };
    const auto a = run(7, 2), b = run(7, 2), c = run(8, 2), one = run(7, 1);
    EXPECT_EQ(a.first, b.first);
    EXPECT_EQ(a.second, b.second);
    EXPECT_EQ(a.first, one.first) << "the layout depends on the thread count";
    EXPECT_NE(a.first, c.first);
}

TEST(DecoderMap, BadInputsAreOneLineErrors) {
    const std::vector<float> W = random_unit_rows(20, 8, 1), W2 = random_unit_rows(20, 6, 2);
    DecoderMapOptions o;
    auto one_line = [](const std::string& e) { return !e.empty() && e.find('\n') == std::string::npos; };
    std::string e = error_of([&] { decoder_map({}, o); });
    EXPECT_TRUE(one_line(e)) << e;
    EXPECT_NE(e.find("no SAE"), std::string::npos) << e;
    e = error_of([&] { decoder_map({input_of("a", 20, 8, W), input_of("b", 20, 6, W2)}, o); });
    EXPECT_TRUE(one_line(e)) << e;
    EXPECT_NE(e.find("SAE 'b': d_in 6 differs from SAE 'a' (d_in 8)"), std::string::npos) << e;
    std::vector<float> bad = W;
    bad[3 * 8 + 5] = std::nanf("");
    e = error_of([&] { decoder_map({input_of("nan", 20, 8, bad)}, o); });
    EXPECT_TRUE(one_line(e)) << e;
    EXPECT_NE(e.find("SAE 'nan': W_dec row 3, column 5 is not finite"), std::string::npos) << e;
    bad[3 * 8 + 5] = INFINITY;
    EXPECT_NE(error_of([&] { decoder_map({input_of("inf", 20, 8, bad)}, o); }).find("row 3, column 5"), std::string::npos);
    e = error_of([&] { decoder_map({input_of("empty", 0, 8, {})}, o); });
    EXPECT_NE(e.find("SAE 'empty': no decoder directions"), std::string::npos) << e;
    e = error_of([&] { decoder_map({input_of("short", 20, 8, std::vector<float>(100, 1.0f))}, o); });
    EXPECT_NE(e.find("W_dec holds 100 values, expected d_sae 20 x d_in 8"), std::string::npos) << e;
    std::vector<float> zeros(20 * 8, 0.0f);
    zeros[0] = 1.0f;  // one direction, 19 zero rows
    e = error_of([&] { decoder_map({input_of("zeros", 20, 8, zeros)}, o); });
    EXPECT_NE(e.find("at least 2 non-zero decoder directions, got 1"), std::string::npos) << e;
    // zero rows are left out, not an error, when enough remain
    std::vector<float> some = W;
    std::fill(some.begin() + 2 * 8, some.begin() + 3 * 8, 0.0f);
    DecoderMap m = decoder_map({input_of("some", 20, 8, some)}, o);
    EXPECT_EQ(m.saes[0].feature.size(), 19u);
    EXPECT_EQ(m.saes[0].skipped, 1);
    EXPECT_EQ(std::count(m.saes[0].feature.begin(), m.saes[0].feature.end(), 2), 0);
    MapInput dens = input_of("dens", 20, 8, W);
    dens.density.assign(7, 0.1);
    e = error_of([&] { decoder_map({dens}, o); });
    EXPECT_NE(e.find("SAE 'dens': 7 densities for d_sae 20"), std::string::npos) << e;
    // a features database of another size
    const std::string dir = tmp_dir("bad_db");
    make_dirs(dir);
    {
        FeatureDbWriter w(path_join(dir, "f.db"));
        w.meta("schema_version", std::to_string(kFeatureDbSchemaVersion));
        w.meta("d_sae", "5");
        w.vocab({"a", "b"});
        for (int i = 0; i < 5; i++) {
            DbFeature f;
            f.id = i;
            w.feature(f);
        }
        w.commit();
    }
    MapInput in = input_of("twenty", 20, 8, W);
    e = error_of([&] { map_input_annotate_db(in, path_join(dir, "f.db")); });
    EXPECT_TRUE(one_line(e)) << e;
    EXPECT_NE(e.find("f.db: holds 5 features, but SAE 'twenty' has d_sae 20"), std::string::npos) << e;
    fs::remove_all(dir);
}

// Densities and labels from a features database; the page is one self-contained document, escapes what the
// database says, and carries every point, family and link pattern.
TEST(DecoderMap, DatabaseLabelsAndTheSelfContainedPage) {
    const int64_t F = 40, d = 16;
    const std::vector<float> W = random_unit_rows(F, d, 21), Wl = random_unit_rows(80, d, 22);
    const std::string dir = tmp_dir("page");
    make_dirs(dir);
    const std::string evil = "</script><script>alert(1)</script> & \"><img src=x onerror=alert(1)>";
    {
        FeatureDbWriter w(path_join(dir, "f.db"));
        w.meta("schema_version", std::to_string(kFeatureDbSchemaVersion));
        w.meta("d_sae", std::to_string(F));
        w.vocab({"a", "b"});
        for (int i = 0; i < F; i++) {
            DbFeature f;
            f.id = i;
            f.fires = i;
            f.density = i * 0.001;
            f.label = i == 7 ? evil : "label " + std::to_string(i % 4);
            w.feature(f);
        }
        w.commit();
    }
    MapInput in = input_of("run-a", F, d, W);
    map_input_annotate_db(in, path_join(dir, "f.db"));
    ASSERT_EQ(in.labels.size(), (size_t)F);
    EXPECT_EQ(in.labels[7], evil);
    EXPECT_DOUBLE_EQ(in.density[12], 0.012);
    DecoderMapOptions o;
    DecoderMap m = decoder_map({in, input_of("run b", 80, d, Wl)}, o);
    EXPECT_EQ(m.saes[0].labels[7], evil);
    MapHtmlOptions ho;
    ho.title = "map <of> two";
    ho.link = "/feature/{id}?sae={sae}";
    const std::string h = decoder_map_html(m, ho);
    // nothing from outside: no URLs, no external scripts, styles or images
    EXPECT_EQ(h.find("http://"), std::string::npos);
    EXPECT_EQ(h.find("https://"), std::string::npos);
    EXPECT_EQ(h.find("<script src"), std::string::npos);
    EXPECT_EQ(h.find("<link"), std::string::npos);
    // the label never appears raw; the title is escaped
    EXPECT_EQ(h.find("<img"), std::string::npos);
    EXPECT_EQ(h.find("alert(1)</script>"), std::string::npos);
    EXPECT_NE(h.find("<title>map &lt;of&gt; two</title>"), std::string::npos);
    // exactly two scripts, neither containing "</" (which could end it early); markup balanced without them
    std::string outside;
    size_t at = 0, scripts = 0;
    std::string data;
    for (;;) {
        const size_t s = h.find("<script", at);
        if (s == std::string::npos) break;
        const size_t b = h.find('>', s) + 1, e = h.find("</script>", b);
        ASSERT_NE(e, std::string::npos);
        const std::string body = h.substr(b, e - b);
        EXPECT_EQ(body.find("</"), std::string::npos) << "script " << scripts;
        const std::string json_tag = "<script type=\"application/json\" id=\"map-data\">";
        if (h.compare(s, json_tag.size(), json_tag) == 0) data = body;
        outside += h.substr(at, s - at) + "<script></script>";
        at = e + 9;
        scripts++;
    }
    outside += h.substr(at);
    EXPECT_EQ(scripts, 2u);
    EXPECT_EQ(markup_balance_error(outside), "");
    // the data block parses back to the map: every point, the label intact, the link pattern
    ASSERT_FALSE(data.empty());
    EXPECT_EQ(data.find('<'), std::string::npos);
    const Json j = json_parse(data, "map data");
    EXPECT_EQ(j.at("link", "").as_str(""), "/feature/{id}?sae={sae}");
    const Json& s0 = j.at("saes", "").arr[0];
    EXPECT_EQ(s0.at("name", "").as_str(""), "run-a");
    EXPECT_EQ(s0.at("f", "").size(), (size_t)F);
    EXPECT_EQ(s0.at("lab", "").arr[7].as_str(""), evil);
    EXPECT_NEAR(s0.at("den", "").arr[12].as_num(""), 0.012, 1e-9);
    EXPECT_EQ(j.at("saes", "").arr[1].at("f", "").size(), 80u);
    EXPECT_EQ(j.at("fam", "").arr[0].at("m", "").size(), (size_t)F);
    EXPECT_EQ(j.at("fam", "").arr[0].at("m", "").arr[0].size(), 1u + 2u * 5u);  // feature, then 5 (member, cosine)
    // the links the page builds
    EXPECT_EQ(map_link(ho.link, "run b", 12), "/feature/12?sae=run%20b");
    EXPECT_EQ(map_link("feature/{id}.html", "x", 3), "feature/3.html");
    fs::remove_all(dir);
}

// `unfold sae map` on two SAE folders: --json on stdout, the page written, bad inputs one line on stderr, exit 1.
TEST(DecoderMap, CommandLine) {
    const std::string dir = tmp_dir("cli");
    make_dirs(dir);
    auto save = [&](const std::string& name, int64_t F, int64_t d, uint64_t seed) {
        SaeConfig c;
        c.arch = SaeArch::TOPK;
        c.d_in = d;
        c.d_sae = F;
        c.k = 4;
        Sae s = sae_init(c, seed);
        std::vector<float> sp((size_t)F);
        for (int64_t f = 0; f < F; f++) sp[(size_t)f] = -1.0f - (float)f / F;  // log10 densities
        sae_save(path_join(dir, name), s, sp.data(), Json::object());
    };
    save("small", 32, 16, 1);
    save("large", 96, 16, 2);
    save("other", 32, 12, 3);
    const std::string bin = UNFOLD_BINARY;
    std::string out;
    int rc = unfold_test::run_shell(bin + " sae map " + dir + "/small " + dir + "/large --out " + dir +
                                        "/map.html --json --family-k 4 --threads 2 --quiet",
                                    &out);
    ASSERT_EQ(rc, 0) << out;
    const Json j = json_parse(out, "stdout");
    ASSERT_EQ(j.at("saes", "").size(), 2u);
    EXPECT_EQ(j.at("saes", "").arr[0].at("name", "").as_str(""), "small");
    EXPECT_EQ(j.at("saes", "").arr[0].at("density_source", "").as_str(""), "sparsity.safetensors");
    EXPECT_NEAR(j.at("saes", "").arr[0].at("layout", "").at("density", "").arr[0].as_num(""), 0.1, 1e-6);
    EXPECT_EQ(j.at("saes", "").arr[1].at("layout", "").at("x", "").size(), 96u);
    EXPECT_EQ(j.at("families", "").arr[0].at("features", "").arr[0].at("members", "").size(), 4u);
    EXPECT_EQ(j.at("umap", "").at("knn", "").as_str(""), "exact");
    EXPECT_TRUE(file_exists(dir + "/map.html"));
    EXPECT_NE(read_file(dir + "/map.html").find("id=\"map-data\""), std::string::npos);
    // errors: one line on stderr, exit 1, no page left behind
    rc = unfold_test::run_shell(bin + " sae map " + dir + "/small " + dir + "/other --out " + dir + "/bad.html", &out,
                                true);
    EXPECT_EQ(rc, 1);
    EXPECT_NE(out.find("SAE 'other': d_in 12 differs from SAE 'small' (d_in 16)"), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    EXPECT_FALSE(file_exists(dir + "/bad.html"));
    rc = unfold_test::run_shell(bin + " sae map " + dir + "/small --db nothere=x.db --out " + dir + "/bad.html", &out,
                                true);
    EXPECT_EQ(rc, 1);
    EXPECT_NE(out.find("--db: 'nothere' is none of the SAEs given"), std::string::npos) << out;
    rc = unfold_test::run_shell(bin + " sae map " + dir + "/small", &out, true);
    EXPECT_EQ(rc, 1);
    EXPECT_NE(out.find("give --out map.html and/or --json"), std::string::npos) << out;
    fs::remove_all(dir);
}
