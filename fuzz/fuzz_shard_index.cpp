// fuzz_shard_index.cpp: a shard folder's index.json (io/shards.h). The fuzzed bytes are the index of a folder
// that holds real shards (written once, the layout of `unfold data synth --d 3 --tokens 6 --rows-per-shard 4
// --true-features 2`: shard_00000.npy f32 [4, 3], shard_00001.npy f32 [2, 3], ground_truth.npy [2, 3], plus
// token_id columns for both shards); the reader validates the index against them, then every shard's rows,
// columns and the ground truth are read.
#include <vector>

#include "fuzz_util.h"
#include "unfold/io/json.h"
#include "unfold/io/npy.h"
#include "unfold/io/shards.h"

using namespace unfold;

static const std::string& folder() {
    static const std::string dir = [] {
        const std::string d = unfold_fuzz::scratch_subdir("shards");
        std::vector<float> x = {1, -2, 3, 0.5f, 0.25f, -1, 7, 8, 9, 0, 0, 1};
        std::vector<int32_t> ids = {5, 6, 7, 8};
        npy_save(d + "/shard_00000.npy", {4, 3}, x.data());
        npy_save_int32(d + "/shard_00000.token_id.npy", {4}, ids.data());
        npy_save(d + "/shard_00001.npy", {2, 3}, x.data());
        npy_save_int32(d + "/shard_00001.token_id.npy", {2}, ids.data());
        std::vector<float> g = {1, 0, 0, 0, 0.6f, 0.8f};
        npy_save(d + "/ground_truth.npy", {2, 3}, g.data());
        return d;
    }();
    return dir;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string& dir = folder();
    const std::string text((const char*)data, size);
    unfold_fuzz::accepts([&] { ShardIndex::from_json(json_parse(text, "index.json"), "index.json"); });
    unfold_fuzz::put_file("index.json", text, dir);
    unfold_fuzz::accepts([&] {
        ShardReader r(dir);
        std::vector<float> out;
        for (int64_t s = 0; s < r.num_shards(); s++) {
            const int64_t n = r.shard_rows(s);
            if (n <= 0 || n > 4 || r.d() != 3) __builtin_trap();  // it agreed with the files, so it matches them
            out.assign((size_t)(n * r.d()), 0.0f);
            unfold_fuzz::accepts([&] { r.read_rows(s, 0, n, out.data()); });
            unfold_fuzz::accepts([&] { r.read_rows(s, n - 1, 2, out.data()); });
            for (const auto& c : r.index().columns) unfold_fuzz::accepts([&] { r.read_column(s, c); });
        }
        if (r.has_ground_truth()) unfold_fuzz::accepts([&] { r.read_ground_truth(); });
        (void)r.index().to_json().dump(-1);
    });
    return 0;
}
