// test_crash_resume.cpp: the long-running commands killed with SIGKILL at seeded random moments, then resumed
// with --resume until they finish: `toy train`, `sae train`, `lm cache` and `features build` must leave what an
// uninterrupted run writes, byte for byte (the only exceptions are the wall-clock timings metrics.json and the
// database's "build" record carry), and no temporary file of the killed runs may remain. (`data synth` has its
// own test in tests/data/test_synth_crash.cpp.)
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "../crash_testing.h"
#include "unfold/core/rng.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"

using namespace unfold;
namespace fs = std::filesystem;

namespace {

const std::string kBin = UNFOLD_BINARY;
const std::string kStories = std::string(UNFOLD_SOURCE_DIR) + "/models/stories260K/";

struct Tmp {
    std::string dir;
    Tmp() {
        dir = (fs::temp_directory_path() / ("unfold_test_crash_" + std::to_string(getpid()))).string();
        fs::remove_all(dir);
        fs::create_directories(dir);
    }
    ~Tmp() { fs::remove_all(dir); }
    std::string operator()(const std::string& name) const { return dir + "/" + name; }
};

Tmp& tmp() {
    static Tmp t;
    return t;
}

using crash_testing::run_and_kill;

bool ran_ok(const std::vector<std::string>& args) {
    int st = 0;
    return !run_and_kill(args, std::chrono::minutes(10), &st) && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// every file under `root` (relative paths, sorted), or just `root` when it is a file
std::vector<std::string> files_under(const std::string& root) {
    std::vector<std::string> out;
    if (!fs::exists(root)) return out;
    if (!fs::is_directory(root)) return {""};
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file()) out.push_back(fs::relative(e.path(), root).string());
    std::sort(out.begin(), out.end());
    return out;
}

// names left by writers that did not finish: atomic-write temporaries and partial states
std::vector<std::string> leftovers(const std::string& dir) {
    std::vector<std::string> t;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        const std::string f = e.path().filename().string();
        if (f.find(".tmp.") != std::string::npos || f.find(".partial") != std::string::npos) t.push_back(f);
    }
    return t;
}

// JSON without the wall-clock fields (seconds, tokens_per_s, pass_seconds, ...), anywhere in it
void drop_timings(Json& j) {
    if (j.is_obj()) {
        std::vector<std::pair<std::string, Json>> keep;
        for (auto& [k, v] : j.obj) {
            if (k == "seconds" || k == "tokens_per_s" || k.find("_seconds") != std::string::npos) continue;
            drop_timings(v);
            keep.push_back({k, std::move(v)});
        }
        j.obj = std::move(keep);
    } else if (j.is_arr()) {
        for (Json& e : j.arr) drop_timings(e);
    }
}

std::string file_text_for_compare(const std::string& path) {
    if (path.size() > 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
        Json j = json_load(path);
        drop_timings(j);
        return j.dump(1);
    }
    return read_file(path);
}

// every table of a SQLite database as text, rows in stored order; the meta row "build" without its timings
std::string db_dump(const std::string& path) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK) << path;
    std::string out;
    std::vector<std::string> tables;
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) tables.push_back((const char*)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    for (const std::string& t : tables) {
        out += "== " + t + "\n";
        sqlite3_prepare_v2(db, ("SELECT * FROM \"" + t + "\" ORDER BY rowid").c_str(), -1, &st, nullptr);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const int n = sqlite3_column_count(st);
            std::vector<std::string> cols;
            for (int c = 0; c < n; c++) {
                const void* b = sqlite3_column_blob(st, c);
                cols.push_back(b ? std::string((const char*)b, (size_t)sqlite3_column_bytes(st, c)) : "<null>");
            }
            if (t == "meta" && cols.size() == 2 && cols[0] == "build") {
                Json j = json_parse(cols[1], "meta build");
                drop_timings(j);
                cols[1] = j.dump(-1);
            }
            for (const auto& c : cols) out += c + "\x1f";
            out += "\n";
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
}

struct Job {
    std::string name;
    std::function<std::vector<std::string>(const std::string& out, bool resume)> args;
    bool db = false;  // the output is one SQLite file (else a folder)
};

// Runs the job once uninterrupted (the reference), then again with --resume, killed at up to `kills` random
// moments of the reference's duration, until a run finishes; compares the two outputs.
void crash_and_resume(const Job& job, int kills, uint64_t seed) {
    ASSERT_TRUE(fs::exists(kBin)) << kBin;
    const std::string ref_dir = tmp()(job.name + "_ref"), out_dir = tmp()(job.name + "_out");
    fs::create_directories(ref_dir);
    fs::create_directories(out_dir);
    const std::string ref = job.db ? ref_dir + "/f.db" : ref_dir + "/run";
    const std::string out = job.db ? out_dir + "/f.db" : out_dir + "/run";
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(ran_ok(job.args(ref, false))) << job.name << ": the uninterrupted run failed";
    const double full_us = (double)std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now() - t0).count();
    Rng rng(seed, 7);
    // Kill sequences until one has killed at least 2 runs (a machine much faster or slower than during the
    // reference run can let a resumed run finish before its moment): each sequence starts from an empty folder
    // and must end with the reference's output.
    int best = 0;
    for (int sequence = 0; sequence < 3 && best < 2; sequence++) {
        fs::remove_all(out_dir);
        fs::create_directories(out_dir);
        int killed = 0, attempts = 0;
        bool done = false;
        // a kill moment within the time the work still left should take: the reference's duration less what the
        // killed runs got done (roughly: a resumed run continues from its last checkpoint)
        double left_us = full_us;
        while (!done && attempts++ < kills + 4) {
            const bool kill_this = killed < kills;
            const double at_us = 1000 + rng.uniform_double() * 0.8 * left_us;
            int st = 0;
            if (run_and_kill(job.args(out, true),
                             kill_this ? std::chrono::microseconds((int64_t)at_us) : std::chrono::minutes(10), &st)) {
                killed++;
                left_us = std::max(0.1 * full_us, left_us - at_us);
            } else {
                ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
                    << job.name << ": a resumed run failed (exit " << (WIFEXITED(st) ? WEXITSTATUS(st) : -1) << ")";
                done = true;  // finished (before its kill moment, or not to be killed)
            }
        }
        ASSERT_TRUE(done) << job.name;
        std::printf("[ info ] %s: sequence %d, %d kills (uninterrupted run %.2f s)\n", job.name.c_str(), sequence,
                    killed, full_us / 1e6);
        best = std::max(best, killed);
        EXPECT_EQ(leftovers(out_dir), std::vector<std::string>{}) << job.name;
        if (job.db) {
            EXPECT_EQ(files_under(out_dir), files_under(ref_dir));
            EXPECT_TRUE(db_dump(out) == db_dump(ref)) << job.name << ": the databases differ";
            continue;
        }
        const auto files = files_under(ref);
        ASSERT_EQ(files_under(out), files) << job.name;
        for (const auto& f : files)
            EXPECT_TRUE(file_text_for_compare(out + "/" + f) == file_text_for_compare(ref + "/" + f))
                << job.name << ": " << f;
    }
    EXPECT_GE(best, 2) << job.name << ": no sequence killed 2 runs";
}

std::vector<std::string> with_resume(std::vector<std::string> a, bool resume) {
    if (resume) a.push_back("--resume");
    return a;
}

// a corpus of simple sentences (deterministic), for the model commands
const std::string& corpus() {
    static const std::string path = [] {
        const char* words[] = {"the", "cat", "dog", "sat", "ran", "on", "a", "mat", "big", "small", "red", "and",
                               "then", "was", "happy", "Lily", "Tom", "saw", "park", "tree"};
        Rng r(11, 0);
        std::string text;
        for (int s = 0; s < 30000; s++) {
            const int n = 5 + (int)(r.uniform_double() * 20);
            for (int w = 0; w < n; w++) text += std::string(w ? " " : "") + words[(int)(r.uniform_double() * 20)];
            text += ".\n";
        }
        const std::string p = tmp()("corpus.txt");
        write_file_atomic(p, text);
        return p;
    }();
    return path;
}

}  // namespace

TEST(CrashResume, ToyTrain) {
    crash_and_resume({"toy", [](const std::string& out, bool resume) {
                          return with_resume({kBin, "toy", "train", "--features", "20", "--hidden", "5", "--instances",
                                              "16", "--steps", "3000", "--checkpoint-every", "150", "--seed", "3",
                                              "--threads", "1", "--quiet", "--out", out},
                                             resume);
                      }},
                     5, 20261204);
}

TEST(CrashResume, SaeTrain) {
    crash_and_resume({"sae", [](const std::string& out, bool resume) {
                          return with_resume({kBin, "sae", "train", "--input", "planted:d=32,features=64,p=0.05,seed=1",
                                              "--latents", "128", "--k", "8", "--steps", "1500", "--batch", "1024",
                                              "--checkpoint-every", "100", "--eval-tokens", "4096", "--threads", "1",
                                              "--quiet", "--out", out},
                                             resume);
                      }},
                     5, 20261205);
}

TEST(CrashResume, LmCache) {
    const std::string text = corpus();
    crash_and_resume({"cache", [text](const std::string& out, bool resume) {
                          return with_resume({kBin, "lm", "cache", "--model", kStories + "stories260K.bin", "--tokenizer",
                                              kStories + "tok512.bin", "--hook", "blocks.2.hook_resid_post", "--corpus",
                                              text, "--tokens", "300000", "--context", "64", "--rows-per-shard",
                                              "16384", "--threads", "1", "--quiet", "--out", out},
                                             resume);
                      }},
                     5, 20261206);
}

TEST(CrashResume, FeaturesBuild) {
    const std::string text = corpus(), acts = tmp()("fb_acts"), sae = tmp()("fb_sae");
    ASSERT_TRUE(ran_ok({kBin, "lm", "cache", "--model", kStories + "stories260K.bin", "--tokenizer",
                        kStories + "tok512.bin", "--hook", "blocks.2.hook_resid_post", "--corpus", text, "--tokens",
                        "30000", "--context", "64", "--threads", "1", "--quiet", "--out", acts}));
    ASSERT_TRUE(ran_ok({kBin, "sae", "train", "--input", acts, "--latents", "256", "--k", "8", "--steps", "60",
                        "--batch", "1024", "--eval-tokens", "0", "--threads", "1", "--quiet", "--out", sae}));
    crash_and_resume({"features",
                      [text, sae](const std::string& out, bool resume) {
                          return with_resume({kBin, "features", "build", "--model", kStories + "stories260K.bin",
                                              "--tokenizer", kStories + "tok512.bin", "--sae", sae, "--corpus", text,
                                              "--tokens", "250000", "--context", "64", "--checkpoint-every", "0.2",
                                              "--threads", "1", "--quiet", "--out", out},
                                             resume);
                      },
                      true},
                     5, 20261207);
}
