// test_synth_crash.cpp: `unfold data synth` killed with SIGKILL at seeded random moments, then resumed, until it
// finishes: the folder must be byte for byte the one an uninterrupted run writes, and no temporary file of the
// killed runs (shard_NNNNN.npy.tmp.<pid>.<n>, index.json.tmp...) may remain.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../crash_testing.h"
#include "unfold/core/rng.h"
#include "unfold/io/fileio.h"

using namespace unfold;
namespace fs = std::filesystem;

namespace {

const std::string kBin = UNFOLD_BINARY;

std::string tmp_path(const std::string& name) {
    std::string p = (fs::temp_directory_path() / ("unfold_test_synth_crash_" + std::to_string(getpid()) + "_" + name)).string();
    fs::remove_all(p);
    return p;
}

std::vector<std::string> synth_args(const std::string& out, bool resume) {
    std::vector<std::string> a = {kBin, "data", "synth", "--d", "48", "--true-features", "64", "--p-active", "0.05",
                                  "--tokens", "60000", "--rows-per-shard", "1500", "--seed", "5", "--threads", "1",
                                  "--quiet", "--out", out};
    if (resume) a.push_back("--resume");
    return a;
}

using crash_testing::run_and_kill;

std::vector<std::string> temporaries(const std::string& dir) {
    std::vector<std::string> t;
    if (!fs::exists(dir)) return t;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp.") != std::string::npos) t.push_back(e.path().filename().string());
    return t;
}

int shards_written(const std::string& dir) {
    int n = 0;
    if (!fs::exists(dir)) return 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string f = e.path().filename().string();
        if (f.rfind("shard_", 0) == 0 && f.size() == 15 && f.compare(11, 4, ".npy") == 0) n++;
    }
    return n;
}

}  // namespace

TEST(SynthCrash, KilledAtRandomMomentsAndResumedGivesTheUninterruptedFolder) {
    ASSERT_TRUE(fs::exists(kBin)) << kBin;
    const std::string ref = tmp_path("ref"), out = tmp_path("out");
    int st = 0;
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_FALSE(run_and_kill(synth_args(ref, false), std::chrono::minutes(5), &st));
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    const auto full = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);

    Rng rng(20261203, 1);  // seeded: the same kill moments every run
    int kills = 0, left_behind = 0;
    bool done = false;
    for (int attempt = 0; attempt < 12 && !done; attempt++) {
        // a moment within the first 60% of the time the rows still to write take (an uninterrupted run's time
        // times the share of its 40 shards not yet in the folder)
        const double left = 1.0 - (double)shards_written(out) / 40.0;
        const auto at =
            std::chrono::microseconds(2000 + (int64_t)(rng.uniform_double() * 0.6 * left * (double)full.count()));
        const bool killed = run_and_kill(synth_args(out, /*resume=*/true), kills < 6 ? at : std::chrono::minutes(5), &st);
        if (killed) {
            kills++;
            left_behind += (int)temporaries(out).size();
        } else {
            ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "a resumed run failed";
            done = true;
        }
    }
    ASSERT_TRUE(done);
    EXPECT_GE(kills, 3);
    std::printf("[ info ] %d kills, %d temporaries left by the killed runs (removed by the next writer)\n", kills,
                left_behind);
    EXPECT_EQ(temporaries(out), std::vector<std::string>{});
    const auto ref_files = list_dir(ref), out_files = list_dir(out);
    ASSERT_EQ(out_files, ref_files);
    for (const auto& f : ref_files) EXPECT_EQ(read_file(out + "/" + f), read_file(ref + "/" + f)) << f;
    fs::remove_all(ref);
    fs::remove_all(out);
}
